// Public surface of the Kafka wire codec.
export { decodeFromBuffer, decodeMessage, defaultValue, encodeMessage, encodeToBuffer, isFlexible } from "./codec.js";
export {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "./consumer-protocol.js";
export type { Versioned } from "./consumer-protocol.js";
export { KafkaDecodeError, KafkaEncodeError } from "./errors.js";
export type { KafkaDecodeErrorCode, KafkaEncodeErrorCode } from "./errors.js";
export {
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  frameBody,
} from "./frame.js";
export type { DecodedRequest, DecodedResponse } from "./frame.js";
export {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from "./header.js";
export type { RequestHeader } from "./header.js";
export { Reader, UVARINT_MAX_BYTES, VARLONG_MAX_BYTES } from "./reader.js";
export { inRange } from "./schema.js";
export type {
  ApiSpec,
  FieldSchema,
  FieldType,
  MessageKind,
  MessageSchema,
  PrimitiveType,
  SchemaValue,
  VersionRange,
} from "./schema.js";
export { isUuid, ONE_UUID, randomUuid, uuidFromBytes, uuidToBytes, UUID_BYTES, ZERO_UUID } from "./uuid.js";
export {
  FRAME_LENGTH_BYTES,
  STRING_LENGTH_MAX_BYTES,
  Writer,
  WRITER_INITIAL_CAPACITY_BYTES,
  ZERO_COPY_MIN_BYTES,
} from "./writer.js";
export type { RecordsValue, WriterOptions } from "./writer.js";
export * from "../generated/error-codes.js";
export * from "../generated/messages.js";
