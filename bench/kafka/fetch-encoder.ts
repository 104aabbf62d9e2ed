/**
 * Fetch v4 for the load generators (one topic, one partition per request), its response parser,
 * and a frame reader that assembles big (tens of MB) responses with a single copy.
 * Independent of src/.
 */
import { header } from "./produce-encoder.js";

export const API_FETCH = 1;

export interface FetchShape {
  clientId: string;
  topic: string;
  partition: number;
  maxWaitMs: number;
  minBytes: number;
  /** Response budget (max_bytes). */
  maxBytes: number;
  partitionMaxBytes: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel: number;
}

/** A complete Fetch v4 request (size prefix included). */
export function fetchV4Request(correlationId: number, s: FetchShape, fetchOffset: number): Buffer {
  const h = header(0, API_FETCH, 4, correlationId, s.clientId);
  const topicLen = Buffer.byteLength(s.topic);
  // replica_id, max_wait, min_bytes, max_bytes, isolation, topics[1]{name, partitions[1]{partition, offset, max}}
  const body = Buffer.alloc(4 + 4 + 4 + 4 + 1 + 4 + 2 + topicLen + 4 + 4 + 8 + 4);
  let off = 0;
  off = body.writeInt32BE(-1, off);
  off = body.writeInt32BE(s.maxWaitMs, off);
  off = body.writeInt32BE(s.minBytes, off);
  off = body.writeInt32BE(s.maxBytes, off);
  off = body.writeInt8(s.isolationLevel, off);
  off = body.writeInt32BE(1, off);
  off = body.writeInt16BE(topicLen, off);
  off += body.write(s.topic, off);
  off = body.writeInt32BE(1, off);
  off = body.writeInt32BE(s.partition, off);
  off = body.writeBigInt64BE(BigInt(fetchOffset), off);
  body.writeInt32BE(s.partitionMaxBytes, off);
  const req = Buffer.concat([h, body]);
  req.writeInt32BE(req.length - 4, 0);
  return req;
}

export interface FetchPartitionResult {
  correlationId: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  /** Bytes of the records field. */
  recordBytes: number;
  /** Whole batches in the records field. */
  batches: number;
  /** Last offset of the last whole batch, or -1 when there is none. */
  lastOffset: number;
}

/** Parses a Fetch v4 response frame (without its size prefix) for its first partition. */
export function parseFetchV4Response(frame: Buffer): FetchPartitionResult {
  const correlationId = frame.readInt32BE(0);
  let off = 4 + 4; // correlation id, throttle_time_ms
  const topics = frame.readInt32BE(off);
  off += 4;
  const none = {
    correlationId,
    errorCode: -1,
    highWatermark: -1,
    lastStableOffset: -1,
    recordBytes: 0,
    batches: 0,
    lastOffset: -1,
  };
  if (topics < 1) return none;
  const nameLen = frame.readInt16BE(off);
  off += 2 + Math.max(0, nameLen);
  const parts = frame.readInt32BE(off);
  off += 4;
  if (parts < 1) return none;
  off += 4; // partition index
  const errorCode = frame.readInt16BE(off);
  off += 2;
  const highWatermark = Number(frame.readBigInt64BE(off));
  off += 8;
  const lastStableOffset = Number(frame.readBigInt64BE(off));
  off += 8;
  const aborted = frame.readInt32BE(off);
  off += 4 + Math.max(0, aborted) * 16;
  const size = frame.readInt32BE(off);
  off += 4;
  let batches = 0;
  let lastOffset = -1;
  if (size > 0) {
    const end = off + size;
    let pos = off;
    for (let guard = 0; pos + 27 <= end && guard < 10_000_000; guard++) {
      const base = Number(frame.readBigInt64BE(pos));
      const len = frame.readInt32BE(pos + 8);
      if (len <= 0 || pos + 12 + len > end) break; // a partial trailing batch
      lastOffset = base + frame.readInt32BE(pos + 23);
      batches++;
      pos += 12 + len;
    }
  }
  return {
    correlationId,
    errorCode,
    highWatermark,
    lastStableOffset,
    recordBytes: Math.max(0, size),
    batches,
    lastOffset,
  };
}

/**
 * Splits a byte stream into size-prefixed frames, keeping the chunks in a list until a whole frame
 * has arrived, then copying once (a concat per chunk would copy a 50 MB frame hundreds of times).
 */
export class BigFrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly maxFrameBytes = 256 * 2 ** 20) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  get buffered(): number {
    return this.length;
  }

  next(): Buffer | undefined {
    if (this.length < 4) return undefined;
    let first = this.chunks[0];
    if (first.length < 4) {
      first = Buffer.concat(this.chunks, this.length);
      this.chunks = [first];
    }
    const size = first.readInt32BE(0);
    if (size < 0 || size > this.maxFrameBytes) throw new Error(`bad frame size ${size}`);
    if (this.length < 4 + size) return undefined;
    const all = this.chunks.length === 1 ? first : Buffer.concat(this.chunks, this.length);
    const frame = all.subarray(4, 4 + size);
    const rest = all.subarray(4 + size);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return frame;
  }
}
