/**
 * A tiny hand-written Kafka encoder for the load generator: RecordBatch v2 (magic 2, no compression),
 * Produce v3 requests, ApiVersions v0, and the matching response parsers. Independent of src/.
 */
import { crc32c } from "@node-rs/crc32";

export const API_PRODUCE = 0;
export const API_VERSIONS = 18;

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Writes a zig-zag varint (values well within 2^31) and returns the new offset. */
function writeVarint(buf: Buffer, off: number, n: number): number {
  let v = zigzag(n);
  for (let i = 0; i < 10; i++) {
    if (v < 0x80) {
      buf[off++] = v;
      return off;
    }
    buf[off++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  throw new Error("varint too long");
}

function varintSize(n: number): number {
  let v = zigzag(n);
  let s = 1;
  while (v >= 0x80 && s < 10) {
    v = Math.floor(v / 128);
    s++;
  }
  return s;
}

export interface BatchOptions {
  values: readonly Buffer[];
  /** Base timestamp (ms since epoch). */
  timestamp: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

/** Encodes a RecordBatch v2 (null keys, no headers, no compression) including baseOffset and length. */
export function encodeRecordBatch(o: BatchOptions): Buffer {
  const n = o.values.length;
  if (n === 0) throw new Error("empty batch");
  let recordsSize = 0;
  const bodySizes: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = o.values[i];
    // attributes + timestampDelta(0) + offsetDelta + keyLen(-1) + valueLen + value + headerCount(0)
    const body =
      1 + varintSize(0) + varintSize(i) + varintSize(-1) + varintSize(v.length) + v.length + varintSize(0);
    bodySizes[i] = body;
    recordsSize += varintSize(body) + body;
  }
  const HEADER = 61; // baseOffset(8) batchLength(4) leaderEpoch(4) magic(1) crc(4) attrs(2) lastOffsetDelta(4) baseTs(8) maxTs(8) pid(8) epoch(2) seq(4) count(4)
  const buf = Buffer.alloc(HEADER + recordsSize);
  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(-1, 12); // partitionLeaderEpoch
  buf.writeInt8(2, 16); // magic
  // crc at 17, written last
  buf.writeInt16BE(0, 21); // attributes
  buf.writeInt32BE(n - 1, 23); // lastOffsetDelta
  buf.writeBigInt64BE(BigInt(o.timestamp), 27);
  buf.writeBigInt64BE(BigInt(o.timestamp), 35);
  buf.writeBigInt64BE(o.producerId ?? -1n, 43);
  buf.writeInt16BE(o.producerEpoch ?? -1, 51);
  buf.writeInt32BE(o.baseSequence ?? -1, 53);
  buf.writeInt32BE(n, 57);
  let off = HEADER;
  for (let i = 0; i < n; i++) {
    const v = o.values[i];
    off = writeVarint(buf, off, bodySizes[i]);
    buf[off++] = 0; // attributes
    off = writeVarint(buf, off, 0); // timestampDelta
    off = writeVarint(buf, off, i); // offsetDelta
    off = writeVarint(buf, off, -1); // key: null
    off = writeVarint(buf, off, v.length);
    off += v.copy(buf, off);
    off = writeVarint(buf, off, 0); // headers
  }
  if (off !== buf.length) throw new Error(`batch size mismatch ${off} != ${buf.length}`);
  buf.writeUInt32BE(crc32c(buf.subarray(21)) >>> 0, 17);
  return buf;
}

function writeString(buf: Buffer, off: number, s: string | null): number {
  if (s === null) {
    buf.writeInt16BE(-1, off);
    return off + 2;
  }
  const len = Buffer.byteLength(s);
  buf.writeInt16BE(len, off);
  buf.write(s, off + 2);
  return off + 2 + len;
}

/** Request header v1 plus the 4-byte size prefix (the size is to be overwritten by the caller). */
export function header(
  size: number,
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  clientId: string,
) {
  const buf = Buffer.alloc(4 + 2 + 2 + 4 + 2 + Buffer.byteLength(clientId));
  buf.writeInt32BE(size, 0);
  buf.writeInt16BE(apiKey, 4);
  buf.writeInt16BE(apiVersion, 6);
  buf.writeInt32BE(correlationId, 8);
  writeString(buf, 12, clientId);
  return buf;
}

export function apiVersionsRequest(correlationId: number, clientId: string): Buffer {
  const h = header(0, API_VERSIONS, 0, correlationId, clientId);
  h.writeInt32BE(h.length - 4, 0);
  return h;
}

export interface ApiRange {
  apiKey: number;
  min: number;
  max: number;
}

/** Parses an ApiVersions v0 response frame (without its size prefix). */
export function parseApiVersionsResponse(frame: Buffer): {
  correlationId: number;
  errorCode: number;
  apis: ApiRange[];
} {
  const correlationId = frame.readInt32BE(0);
  const errorCode = frame.readInt16BE(4);
  const n = frame.readInt32BE(6);
  const apis: ApiRange[] = [];
  let off = 10;
  for (let i = 0; i < n && i < 1000 && off + 6 <= frame.length; i++) {
    apis.push({
      apiKey: frame.readInt16BE(off),
      min: frame.readInt16BE(off + 2),
      max: frame.readInt16BE(off + 4),
    });
    off += 6;
  }
  return { correlationId, errorCode, apis };
}

export interface ProduceShape {
  clientId: string;
  topic: string;
  acks: number;
  timeoutMs: number;
  transactionalId?: string | null;
}

/**
 * Builds a Produce v3 request as a list of buffers to write with writev:
 * [head, (partitionHeader, batch) x k]. Only the head (which holds the correlation id) is new;
 * the batch buffers are shared and never modified.
 */
export class ProduceV3Builder {
  private readonly partHeaders = new Map<number, Buffer>();
  private readonly bodyPrefix: Buffer;

  constructor(private readonly shape: ProduceShape) {
    const tid = shape.transactionalId ?? null;
    const size =
      (tid === null ? 2 : 2 + Buffer.byteLength(tid)) + 2 + 4 + 4 + 2 + Buffer.byteLength(shape.topic) + 4;
    const b = Buffer.alloc(size);
    let off = writeString(b, 0, tid);
    b.writeInt16BE(shape.acks, off);
    off += 2;
    b.writeInt32BE(shape.timeoutMs, off);
    off += 4;
    b.writeInt32BE(1, off); // one topic
    off += 4;
    off = writeString(b, off, shape.topic);
    // partition count written per request
    this.bodyPrefix = b;
  }

  private partHeader(partition: number, batchLen: number): Buffer {
    const key = partition * 16_777_216 + batchLen;
    let h = this.partHeaders.get(key);
    if (!h) {
      h = Buffer.alloc(8);
      h.writeInt32BE(partition, 0);
      h.writeInt32BE(batchLen, 4);
      if (this.partHeaders.size < 200_000) this.partHeaders.set(key, h);
    }
    return h;
  }

  /** Buffers making up one request; total bytes in `.bytes`. */
  build(
    correlationId: number,
    parts: readonly { partition: number; batch: Buffer }[],
  ): { chunks: Buffer[]; bytes: number } {
    let bodyLen = this.bodyPrefix.length;
    for (const p of parts) bodyLen += 8 + p.batch.length;
    const hdr = header(0, API_PRODUCE, 3, correlationId, this.shape.clientId);
    const head = Buffer.alloc(hdr.length + this.bodyPrefix.length);
    hdr.copy(head, 0);
    this.bodyPrefix.copy(head, hdr.length);
    head.writeInt32BE(hdr.length - 4 + bodyLen, 0);
    head.writeInt32BE(parts.length, head.length - 4);
    const chunks: Buffer[] = [head];
    for (const p of parts) {
      chunks.push(this.partHeader(p.partition, p.batch.length), p.batch);
    }
    return { chunks, bytes: hdr.length + bodyLen };
  }
}

export interface ProduceResult {
  correlationId: number;
  /** Partitions with a non-zero error code. */
  errors: { partition: number; code: number }[];
  partitions: number;
  throttleMs: number;
}

/** Parses a Produce v3 response frame (without its size prefix). */
export function parseProduceV3Response(frame: Buffer): ProduceResult {
  const correlationId = frame.readInt32BE(0);
  let off = 4;
  const topics = frame.readInt32BE(off);
  off += 4;
  const errors: { partition: number; code: number }[] = [];
  let partitions = 0;
  for (let t = 0; t < topics && t < 1000; t++) {
    const nameLen = frame.readInt16BE(off);
    off += 2 + Math.max(0, nameLen);
    const np = frame.readInt32BE(off);
    off += 4;
    for (let p = 0; p < np && p < 1_000_000; p++) {
      const partition = frame.readInt32BE(off);
      const code = frame.readInt16BE(off + 4);
      off += 4 + 2 + 8 + 8; // index, error, base_offset, log_append_time
      partitions++;
      if (code !== 0) errors.push({ partition, code });
    }
  }
  const throttleMs = off + 4 <= frame.length ? frame.readInt32BE(off) : 0;
  return { correlationId, errors, partitions, throttleMs };
}

/** Splits a byte stream into size-prefixed frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }
  /** Next complete frame (without its size prefix), or undefined. */
  next(): Buffer | undefined {
    if (this.buf.length < 4) return undefined;
    const size = this.buf.readInt32BE(0);
    if (size < 0 || size > 256 * 2 ** 20) throw new Error(`bad frame size ${size}`);
    if (this.buf.length < 4 + size) return undefined;
    const frame = this.buf.subarray(4, 4 + size);
    this.buf = this.buf.subarray(4 + size);
    return frame;
  }
}

/** Kafka error code names for messages. */
export const ERROR_NAMES: Record<number, string> = {
  [-1]: "UNKNOWN_SERVER_ERROR",
  1: "OFFSET_OUT_OF_RANGE",
  2: "CORRUPT_MESSAGE",
  3: "UNKNOWN_TOPIC_OR_PARTITION",
  5: "LEADER_NOT_AVAILABLE",
  6: "NOT_LEADER_OR_FOLLOWER",
  7: "REQUEST_TIMED_OUT",
  10: "MESSAGE_TOO_LARGE",
  19: "NOT_ENOUGH_REPLICAS",
  35: "UNSUPPORTED_VERSION",
  42: "INVALID_REQUEST",
  87: "INVALID_RECORD",
};
