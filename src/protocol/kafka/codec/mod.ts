// Public surface of the Kafka wire codec.

export * from "../generated/error-codes.js";
export * from "../generated/messages.js";
export {
  decodeFromBuffer,
  decodeMessage,
  defaultValue,
  encodeMessage,
  encodeToBuffer,
  isFlexible,
} from "./codec.js";
export type { Versioned } from "./consumer-protocol.js";
export {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "./consumer-protocol.js";
export type { KafkaDecodeErrorCode, KafkaEncodeErrorCode } from "./errors.js";
export { KafkaDecodeError, KafkaEncodeError } from "./errors.js";
export type { DecodedRequest, DecodedResponse } from "./frame.js";
export {
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  frameBody,
} from "./frame.js";
export type { RequestHeader } from "./header.js";
export {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from "./header.js";
export { Reader, UVARINT_MAX_BYTES, VARLONG_MAX_BYTES } from "./reader.js";
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
export { inRange } from "./schema.js";
export { isUuid, ONE_UUID, randomUuid, UUID_BYTES, uuidFromBytes, uuidToBytes, ZERO_UUID } from "./uuid.js";
export type { RecordsValue, WriterOptions } from "./writer.js";
export {
  FRAME_LENGTH_BYTES,
  STRING_LENGTH_MAX_BYTES,
  WRITER_INITIAL_CAPACITY_BYTES,
  Writer,
  ZERO_COPY_MIN_BYTES,
} from "./writer.js";
