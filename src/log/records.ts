/**
 * Building and reading the records inside a RecordBatch v2. Not used on the produce or fetch
 * hot path (those move whole batches); used where the broker itself must write a batch
 * (control markers, messages from other protocols) or look inside one (ListOffsets by
 * timestamp).
 *
 * Record layout (varints are zig-zag encoded):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value | headerCount varint |
 *   [headerKeyLength varint | headerKey | headerValueLength varint | headerValue]*
 */
import { gunzipSync } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import { assert } from "../util/assert.js";
import {
  Attr,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchField,
  Compression,
  RECORD_BATCH_HEADER_BYTES,
} from "./record-batch.js";

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
  readonly timestampMs?: number;
}

export interface BatchInput {
  readonly baseOffset?: number;
  readonly records: readonly RecordInput[];
  readonly attributes?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly nowMs?: number;
}

export interface DecodedRecord {
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

/** Smallest encoded record: length, attributes, timestamp delta, offset delta, key, value, header count. */
const RECORD_BYTES_MIN = 7;
/** Largest decompressed size we are willing to materialise when looking inside a batch. */
export const DECOMPRESSED_BATCH_BYTES_MAX = 64 * 1024 * 1024;

function varintSize(v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 128) {
    buf[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

/** Encodes an uncompressed batch with a valid CRC-32C. */
export function encodeBatch(input: BatchInput): Buffer {
  assert(input.records.length > 0, "a batch holds at least one record");
  const now = input.nowMs ?? Date.now();
  const baseTs = input.records[0]!.timestampMs ?? now;
  let maxTs = baseTs;
  const bodies: { size: number; rec: RecordInput; tsDelta: number; hdrs: [Buffer, Buffer | null][] }[] = [];
  let total = RECORD_BATCH_HEADER_BYTES;
  input.records.forEach((rec, i) => {
    const ts = rec.timestampMs ?? now;
    if (ts > maxTs) maxTs = ts;
    const tsDelta = ts - baseTs;
    const hdrs = (rec.headers ?? []).map(
      (h) => [Buffer.from(h.key, "utf8"), h.value] as [Buffer, Buffer | null],
    );
    let size = 1 + varintSize(tsDelta) + varintSize(i);
    size += rec.key ? varintSize(rec.key.length) + rec.key.length : 1;
    size += rec.value ? varintSize(rec.value.length) + rec.value.length : 1;
    size += varintSize(hdrs.length);
    for (const [k, v] of hdrs) {
      size += varintSize(k.length) + k.length + (v ? varintSize(v.length) + v.length : 1);
    }
    bodies.push({ size, rec, tsDelta, hdrs });
    total += varintSize(size) + size;
  });
  const buf = Buffer.alloc(total);
  buf.writeBigInt64BE(BigInt(input.baseOffset ?? 0), BatchField.baseOffset);
  buf.writeInt32BE(total - BATCH_LOG_OVERHEAD_BYTES, BatchField.batchLength);
  buf.writeInt32BE(0, BatchField.partitionLeaderEpoch);
  buf.writeInt8(2, BatchField.magic);
  buf.writeInt16BE(input.attributes ?? 0, BatchField.attributes);
  buf.writeInt32BE(input.records.length - 1, BatchField.lastOffsetDelta);
  buf.writeBigInt64BE(BigInt(baseTs), BatchField.baseTimestamp);
  buf.writeBigInt64BE(BigInt(maxTs), BatchField.maxTimestamp);
  buf.writeBigInt64BE(BigInt(input.producerId ?? -1), BatchField.producerId);
  buf.writeInt16BE(input.producerEpoch ?? -1, BatchField.producerEpoch);
  buf.writeInt32BE(input.baseSequence ?? -1, BatchField.baseSequence);
  buf.writeInt32BE(input.records.length, BatchField.recordCount);
  let pos = RECORD_BATCH_HEADER_BYTES;
  bodies.forEach(({ size, rec, tsDelta, hdrs }, i) => {
    pos = writeVarint(buf, pos, size);
    buf[pos++] = 0;
    pos = writeVarint(buf, pos, tsDelta);
    pos = writeVarint(buf, pos, i);
    pos = writeBytes(buf, pos, rec.key);
    pos = writeBytes(buf, pos, rec.value);
    pos = writeVarint(buf, pos, hdrs.length);
    for (const [k, v] of hdrs) {
      pos = writeBytes(buf, pos, k);
      pos = writeBytes(buf, pos, v);
    }
  });
  assert(pos === total, "record batch size mismatch");
  buf.writeUInt32BE(crc32c(buf.subarray(BatchField.attributes)), BatchField.crc);
  return buf;
}

function writeBytes(buf: Buffer, pos: number, b: Buffer | null): number {
  if (!b) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  b.copy(buf, pos);
  return pos + b.length;
}

class VarReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
  ) {}
  varint(): number {
    let z = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new RangeError("truncated varint");
      const b = this.buf[this.pos++]!;
      z += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      mul *= 128;
    }
    throw new RangeError("varint too long");
  }
  bytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    if (this.pos + n > this.buf.length) throw new RangeError("truncated bytes");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/**
 * Decodes the records of one stored batch (uncompressed or gzip). Returns null for codecs the
 * broker cannot open (snappy, lz4, zstd): callers then fall back to batch-level answers.
 * Throws RangeError (or a zlib error) for a batch whose records do not parse: batches are
 * stored as produced, after header and CRC checks only, so a client can store one.
 */
export function decodeRecords(batch: Buffer): DecodedRecord[] | null {
  const attributes = batch.readInt16BE(BatchField.attributes);
  const codec = attributes & Attr.codecMask;
  const baseOffset = Number(batch.readBigInt64BE(BatchField.baseOffset));
  const baseTs = Number(batch.readBigInt64BE(BatchField.baseTimestamp));
  const count = batch.readInt32BE(BatchField.recordCount);
  let body = batch.subarray(RECORD_BATCH_HEADER_BYTES);
  if (codec === Compression.gzip) {
    body = gunzipSync(body, { maxOutputLength: DECOMPRESSED_BATCH_BYTES_MAX });
  } else if (codec !== Compression.none) {
    return null;
  }
  const r = new VarReader(body, 0);
  const out: DecodedRecord[] = [];
  // A record takes at least RECORD_BYTES_MIN bytes, so the claimed count is bounded by the
  // body: a lying count cannot make this loop run (or allocate) beyond the bytes present.
  const n = Math.min(count, Math.floor(body.length / RECORD_BYTES_MIN));
  for (let i = 0; i < n && r.pos < body.length; i++) {
    const len = r.varint();
    if (len < RECORD_BYTES_MIN - 1 || r.pos + len > body.length) {
      throw new RangeError(`record ${i} has length ${len} in a ${body.length}-byte body`);
    }
    const end = r.pos + len;
    r.pos++; // attributes (unused in v2)
    const tsDelta = r.varint();
    const offsetDelta = r.varint();
    const key = r.bytes();
    const value = r.bytes();
    const headerCount = r.varint();
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount && r.pos < end; h++) {
      const k = r.bytes();
      headers.push({ key: k ? k.toString("utf8") : "", value: r.bytes() });
    }
    r.pos = end;
    const timestampMs = baseTs + tsDelta;
    if (!Number.isSafeInteger(timestampMs)) throw new RangeError(`record ${i} has timestamp ${timestampMs}`);
    out.push({ offset: baseOffset + offsetDelta, timestampMs, key, value, headers });
  }
  return out;
}
