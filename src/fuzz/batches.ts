/**
 * Record batches for the fuzzer: valid ones (plain and gzip), hostile ones (broken interior
 * under a valid CRC, lying counts, compression bombs), and a strict reader that checks a stored
 * batch the way a consumer would read it.
 */
import { createRequire } from "node:module";
import { gunzipSync, gzipSync } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import {
  Attr,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchField,
  RECORD_BATCH_HEADER_BYTES,
} from "../log/record-batch.js";
import { encodeBatch, type RecordInput } from "../log/records.js";
import type { Rng } from "./rng.js";

/** Fixed so that codec-built corpus frames are byte-identical across runs. */
export const FUZZ_TIMESTAMP_MS = 1_700_000_000_000;
/** What the verifier is willing to inflate; the server's cap (src/log/records.ts) is the same. */
export const INFLATE_BYTES_MAX = 64 * 1024 * 1024;

/** Recomputes the CRC-32C over [attributes, end). */
export function fixCrc(batch: Buffer): Buffer {
  if (batch.length >= RECORD_BATCH_HEADER_BYTES) {
    batch.writeUInt32BE(crc32c(batch.subarray(BatchField.attributes)), BatchField.crc);
  }
  return batch;
}

/** Sets batchLength to match the buffer. */
export function fixLength(batch: Buffer): Buffer {
  if (batch.length >= BATCH_LOG_OVERHEAD_BYTES) {
    batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD_BYTES, BatchField.batchLength);
  }
  return batch;
}

export interface BatchOptions {
  records?: number;
  valueBytes?: number;
  gzip?: boolean;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  timestampMs?: number;
  tag?: string;
}

export function validBatch(rng: Rng | null, o: BatchOptions = {}): Buffer {
  const n = o.records ?? (rng ? rng.range(1, 5) : 1);
  const ts = o.timestampMs ?? FUZZ_TIMESTAMP_MS;
  const records: RecordInput[] = [];
  for (let i = 0; i < n; i++) {
    const value = Buffer.alloc(o.valueBytes ?? 16, 0x61 + (i % 26));
    if (o.tag) value.write(o.tag.slice(0, value.length));
    records.push({
      key: i % 2 === 0 ? Buffer.from(`k${i}`) : null,
      value,
      headers: i % 3 === 2 ? [{ key: "h", value: Buffer.from("v") }] : [],
      timestampMs: ts + i,
    });
  }
  const plain = encodeBatch({
    records,
    attributes: o.transactional ? Attr.transactional : 0,
    producerId: o.producerId ?? -1,
    producerEpoch: o.producerEpoch ?? -1,
    baseSequence: o.baseSequence ?? -1,
    nowMs: ts,
  });
  return o.gzip ? compressBatch(plain, gzipSync(plain.subarray(RECORD_BATCH_HEADER_BYTES))) : plain;
}

/** A batch with `plain`'s header and `body` as its (compressed) records, codec gzip. */
export function compressBatch(plain: Buffer, body: Buffer, codec = 1): Buffer {
  const out = Buffer.alloc(RECORD_BATCH_HEADER_BYTES + body.length);
  plain.copy(out, 0, 0, RECORD_BATCH_HEADER_BYTES);
  body.copy(out, RECORD_BATCH_HEADER_BYTES);
  out.writeInt16BE(
    (plain.readInt16BE(BatchField.attributes) & ~Attr.codecMask) | codec,
    BatchField.attributes,
  );
  return fixCrc(fixLength(out));
}

/** A header for `count` records with the given records body (already compressed or not). */
export function rawBatch(
  body: Buffer,
  count: number,
  codec: number,
  timestampMs = FUZZ_TIMESTAMP_MS,
): Buffer {
  const b = Buffer.alloc(RECORD_BATCH_HEADER_BYTES + body.length);
  b.writeInt8(2, BatchField.magic);
  b.writeInt16BE(codec, BatchField.attributes);
  b.writeInt32BE(count - 1, BatchField.lastOffsetDelta);
  b.writeBigInt64BE(BigInt(timestampMs), BatchField.baseTimestamp);
  b.writeBigInt64BE(BigInt(timestampMs), BatchField.maxTimestamp);
  b.writeBigInt64BE(-1n, BatchField.producerId);
  b.writeInt16BE(-1, BatchField.producerEpoch);
  b.writeInt32BE(-1, BatchField.baseSequence);
  b.writeInt32BE(count, BatchField.recordCount);
  body.copy(b, RECORD_BATCH_HEADER_BYTES);
  return fixCrc(fixLength(b));
}

let zeroMember: Buffer | null = null;
/** One gzip member of 16 MiB of zeros (~16 KB), made once. */
function zeroGzipMember(): Buffer {
  zeroMember ??= gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  return zeroMember;
}

export type BombKind =
  /** Inflates past the server's 64 MiB cap (concatenated gzip members). */
  | "over-cap"
  /** Inflates to just under the cap: 48 MiB of zero bytes, i.e. 48M one-byte "records". */
  | "under-cap"
  /** A tiny body whose one record has length -1, with recordCount 2^31-1. */
  | "negative-length"
  /** Not gzip at all, under the gzip codec bit. */
  | "garbage";

/** A gzip batch that is cheap to send and expensive to look inside. CRC valid. */
export function bombBatch(kind: BombKind, rng: Rng, timestampMs = FUZZ_TIMESTAMP_MS): Buffer {
  const huge = rng.chance(0.5) ? 0x7fffffff : rng.range(1, 1000);
  switch (kind) {
    case "over-cap": {
      const m = zeroGzipMember();
      const members = rng.range(5, 32); // 80..512 MiB inflated, 80..512 KB sent
      return rawBatch(Buffer.concat(Array.from({ length: members }, () => m)), huge, 1, timestampMs);
    }
    case "under-cap": {
      const m = zeroGzipMember();
      return rawBatch(Buffer.concat([m, m, m]), huge, 1, timestampMs);
    }
    case "negative-length":
      // length -1 | attributes | tsDelta 0 | offsetDelta 0 | key null | value null | 0 headers
      return rawBatch(gzipSync(Buffer.from("01000000010100", "hex")), 0x7fffffff, 1, timestampMs);
    case "garbage":
      return rawBatch(rng.bytes(rng.range(1, 256)), huge, 1, timestampMs);
  }
}

// ------------------------------------------------------------------------------------------
// Reading stored batches strictly

export interface StrictResult {
  ok: boolean;
  problem?: string;
  records?: number;
}

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    public end = buf.length,
  ) {}
  varint(): number {
    let z = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++]!;
      z += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      mul *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }
  bytes(what: string): void {
    const n = this.varint();
    if (n < -1) throw new Error(`${what} length ${n}`);
    if (n > 0) {
      if (this.pos + n > this.end) throw new Error(`${what} length ${n} past the record`);
      this.pos += n;
    }
  }
}

/**
 * Checks the records of one stored v2 batch the way Kafka's LogValidator would on produce:
 * every record's length, varints, key, value and headers inside its bounds, record count as
 * declared, nothing left over. Gzip is inflated up to INFLATE_BYTES_MAX.
 */
export function checkRecords(batch: Buffer): StrictResult {
  const attributes = batch.readInt16BE(BatchField.attributes);
  const codec = attributes & Attr.codecMask;
  const count = batch.readInt32BE(BatchField.recordCount);
  let body = batch.subarray(RECORD_BATCH_HEADER_BYTES);
  if (codec > 4) return { ok: false, problem: `compression codec ${codec} does not exist` };
  if (codec === 1) {
    try {
      body = gunzipSync(body, { maxOutputLength: INFLATE_BYTES_MAX });
    } catch (err) {
      return { ok: false, problem: `gzip: ${(err as Error).message.slice(0, 120)}` };
    }
  } else if (codec !== 0) {
    return { ok: true }; // snappy, lz4, zstd: not opened here
  }
  if (count < 0 || count > body.length / 7) {
    return { ok: false, problem: `record count ${count} cannot fit in ${body.length} bytes` };
  }
  const c = new Cursor(body);
  try {
    for (let i = 0; i < count; i++) {
      const len = c.varint();
      if (len < 6 || c.pos + len > body.length) throw new Error(`record ${i} length ${len}`);
      const end = c.pos + len;
      const rc = new Cursor(body, c.pos, end);
      rc.pos++; // attributes
      rc.varint(); // timestamp delta
      const delta = rc.varint();
      if (delta !== i) throw new Error(`record ${i} has offset delta ${delta}`);
      rc.bytes("key");
      rc.bytes("value");
      const headers = rc.varint();
      if (headers < 0 || headers > len) throw new Error(`record ${i} header count ${headers}`);
      for (let h = 0; h < headers; h++) {
        rc.bytes("header key");
        rc.bytes("header value");
      }
      if (rc.pos !== end) throw new Error(`record ${i} leaves ${end - rc.pos} bytes`);
      c.pos = end;
    }
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (c.pos !== body.length) return { ok: false, problem: `${body.length - c.pos} bytes after the records` };
  return { ok: true, records: count };
}

// kafkajs's own record batch decoder: what a kafkajs consumer runs on every fetched batch.
type KafkajsDecoderCtor = new (buf: Buffer) => unknown;
let kafkajs: { Decoder: KafkajsDecoderCtor; decodeBatch: (d: unknown) => Promise<unknown> } | null = null;
function kafkajsDecoder() {
  if (!kafkajs) {
    const require = createRequire(import.meta.url);
    kafkajs = {
      Decoder: require("kafkajs/src/protocol/decoder") as KafkajsDecoderCtor,
      decodeBatch: require("kafkajs/src/protocol/recordBatch/v0/decoder") as (d: unknown) => Promise<unknown>,
    };
  }
  return kafkajs;
}

/**
 * Decodes a batch with kafkajs's decoder; returns the error message or null. Only call it on
 * batches checkRecords accepted or on plain ones (kafkajs inflates gzip without a bound).
 */
export async function kafkajsReads(batch: Buffer): Promise<string | null> {
  try {
    const k = kafkajsDecoder();
    const result = (await k.decodeBatch(new k.Decoder(batch))) as { records?: unknown[] };
    if (!Array.isArray(result.records)) return "no records array";
    return null;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200);
  }
}
