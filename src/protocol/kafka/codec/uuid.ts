// Kafka UUIDs (topic ids, directory ids) are 16 bytes on the wire. In JS they are strings in
// Kafka's own display form: 22 characters of URL-safe base64 without padding, exactly what
// Kafka's Uuid.toString() prints and what kafka-topics.sh shows.
import { randomUUID } from "node:crypto";
import { KafkaEncodeError } from "./errors.js";

export const UUID_BYTES = 16;
/** Length of the base64url form of a UUID (ceil(16 * 8 / 6)). */
export const UUID_STRING_LENGTH = 22;
/** Kafka's Uuid.ZERO_UUID: the "no id" value and the default of uuid fields. */
export const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA";
/** Kafka's Uuid.ONE_UUID, reserved for the metadata topic. */
export const ONE_UUID = "AAAAAAAAAAAAAAAAAAAAAQ";

// 22 chars carry 132 bits; the last char's 4 low bits must be zero so each UUID has exactly one
// spelling (A, Q, g, w are the base64url digits 0, 16, 32, 48).
const UUID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_PATTERN.test(value);
}

/** Throws KafkaEncodeError unless `value` is a canonical 22-char base64url UUID. */
export function assertUuid(value: unknown): asserts value is string {
  if (!isUuid(value)) {
    throw new KafkaEncodeError("INVALID_VALUE", `not a 22-char base64url Kafka uuid: ${String(value)}`);
  }
}

export function uuidToBytes(value: string): Buffer {
  assertUuid(value);
  return Buffer.from(value, "base64url");
}

export function uuidFromBytes(bytes: Uint8Array, offset = 0): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, UUID_BYTES).toString("base64url");
}

/** A random (version 4) UUID, avoiding the reserved ids and strings starting with "-" as Kafka does. */
export function randomUuid(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll("-", ""), "hex").toString("base64url");
    if (id !== ZERO_UUID && id !== ONE_UUID && !id.startsWith("-")) return id;
  }
}
