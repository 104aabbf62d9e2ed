// Whole-frame helpers: length prefix + header + body. Frames passed to the decoders exclude the
// 4-byte length prefix (the connection strips it while delimiting frames).
import { decodeFromBuffer, decodeMessage, encodeMessage } from "./codec.js";
import { KafkaDecodeError } from "./errors.js";
import type { RequestHeader } from "./header.js";
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  responseHeaderVersion,
} from "./header.js";
import { Reader } from "./reader.js";
import type { MessageSchema } from "./schema.js";
import { Writer } from "./writer.js";

/** Encodes a response (length prefix, header, body) into chunks ready for socket writes. */
export function encodeResponseFrame<T>(
  schema: MessageSchema<T>,
  apiVersion: number,
  correlationId: number,
  body: T,
): Buffer[] {
  const w = new Writer({ frame: true });
  encodeResponseHeader(w, correlationId, responseHeaderVersion(schema.apiKey, apiVersion));
  encodeMessage(schema, apiVersion, body, w);
  return w.finish();
}

/** Encodes a request (length prefix, header, body); used by tests and client-side tools. */
export function encodeRequestFrame<T>(
  schema: MessageSchema<T>,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: T,
): Buffer[] {
  const w = new Writer({ frame: true });
  encodeRequestHeader(w, { apiKey: schema.apiKey, apiVersion, correlationId, clientId });
  encodeMessage(schema, apiVersion, body, w);
  return w.finish();
}

export interface DecodedRequest<T> {
  header: RequestHeader;
  body: T;
}

/** Decodes a request frame (without its length prefix) whose schema is known. */
export function decodeRequestFrame<T>(schema: MessageSchema<T>, frame: Buffer): DecodedRequest<T> {
  const r = new Reader(frame);
  const header = decodeRequestHeader(r);
  if (header.apiKey !== schema.apiKey) {
    throw new KafkaDecodeError(
      "UNSUPPORTED_VERSION",
      `frame has apiKey ${header.apiKey}, expected ${schema.apiKey}`,
    );
  }
  const body = decodeFromBuffer(schema, header.apiVersion, r.buf.subarray(r.pos));
  return { header, body };
}

export interface DecodedResponse<T> {
  correlationId: number;
  body: T;
}

/** Decodes a response frame (without its length prefix) for a request sent at `apiVersion`. */
export function decodeResponseFrame<T>(
  schema: MessageSchema<T>,
  apiVersion: number,
  frame: Buffer,
): DecodedResponse<T> {
  const r = new Reader(frame);
  const correlationId = decodeResponseHeader(r, responseHeaderVersion(schema.apiKey, apiVersion));
  const body = decodeMessage(schema, apiVersion, r);
  if (r.remaining() !== 0) {
    throw new KafkaDecodeError(
      "TRAILING_BYTES",
      `${schema.name} v${apiVersion}: ${r.remaining()} bytes after message`,
    );
  }
  return { correlationId, body };
}

/** Concatenates frame chunks and strips the 4-byte length prefix (tests). */
export function frameBody(chunks: readonly Buffer[]): Buffer {
  return Buffer.concat(chunks).subarray(4);
}
