// The consumer group protocol's opaque payloads: JoinGroup protocol metadata carries a
// ConsumerProtocolSubscription and SyncGroup assignments carry a ConsumerProtocolAssignment,
// each serialized as an int16 version followed by the versioned struct (never flexible).
import type { ConsumerProtocolAssignment, ConsumerProtocolSubscription } from "../generated/messages.js";
import {
  ConsumerProtocolAssignmentSchema,
  ConsumerProtocolSubscriptionSchema,
} from "../generated/messages.js";
import { decodeMessage, encodeMessage } from "./codec.js";
import { KafkaDecodeError } from "./errors.js";
import { Reader } from "./reader.js";
import type { MessageSchema } from "./schema.js";
import { Writer } from "./writer.js";

export interface Versioned<T> {
  /** The version found on the wire (may be newer than the one used to parse it). */
  version: number;
  value: T;
}

function decodeVersioned<T>(schema: MessageSchema<T>, buf: Buffer): Versioned<T> {
  const r = new Reader(buf);
  const version = r.int16();
  if (version < 0)
    throw new KafkaDecodeError("UNSUPPORTED_VERSION", `${schema.name}: negative version ${version}`);
  // Like Kafka's ConsumerProtocol: newer versions only append fields, so parse them with the
  // newest known version and ignore what follows.
  const parseVersion = Math.min(version, schema.validVersions[1]);
  return { version, value: decodeMessage(schema, parseVersion, r) };
}

function encodeVersioned<T>(schema: MessageSchema<T>, version: number, value: T): Buffer {
  const w = new Writer();
  w.int16(version);
  encodeMessage(schema, version, value, w);
  return w.toBuffer();
}

/** Decodes JoinGroup member metadata of the "consumer" protocol type. UserData is a view of `buf`. */
export function decodeConsumerSubscription(buf: Buffer): Versioned<ConsumerProtocolSubscription> {
  return decodeVersioned(ConsumerProtocolSubscriptionSchema, buf);
}

export function encodeConsumerSubscription(value: ConsumerProtocolSubscription, version: number): Buffer {
  return encodeVersioned(ConsumerProtocolSubscriptionSchema, version, value);
}

/** Decodes a SyncGroup member assignment of the "consumer" protocol type. UserData is a view of `buf`. */
export function decodeConsumerAssignment(buf: Buffer): Versioned<ConsumerProtocolAssignment> {
  return decodeVersioned(ConsumerProtocolAssignmentSchema, buf);
}

export function encodeConsumerAssignment(value: ConsumerProtocolAssignment, version: number): Buffer {
  return encodeVersioned(ConsumerProtocolAssignmentSchema, version, value);
}
