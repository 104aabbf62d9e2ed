// Append-only writer for Kafka wire data that produces a list of chunks instead of one buffer:
// small writes go into a growing scratch buffer, while large buffers (stored record batches) are
// kept by reference so a Fetch response never copies the log data it sends.
import { KafkaEncodeError } from "./errors.js";
import { assertUuid, UUID_BYTES } from "./uuid.js";

/** Buffers at least this large are appended by reference (no copy). */
export const ZERO_COPY_MIN_BYTES = 4096;
/** Default initial size of the scratch buffer. */
export const WRITER_INITIAL_CAPACITY_BYTES = 1024;
/** Scratch buffers double in size up to this, then further ones are this size. */
export const WRITER_SCRATCH_MAX_BYTES = 64 * 1024;
/** Size of the frame length prefix written by framed writers. */
export const FRAME_LENGTH_BYTES = 4;
/** Kafka strings are limited to int16 max bytes, also in compact form. */
export const STRING_LENGTH_MAX_BYTES = 0x7fff;

const TWO_POW_32 = 4294967296;
/** Above this magnitude zigzag(2v) no longer fits in a double exactly; use the bigint path. */
const VARLONG_NUMBER_MAX = 2 ** 52;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface WriterOptions {
  /** Reserve a 4-byte big-endian length prefix, filled in by finish(). */
  frame?: boolean;
  initialCapacity?: number;
}

export type RecordsValue = Buffer | readonly Buffer[] | null;

function invalid(message: string): KafkaEncodeError {
  return new KafkaEncodeError("INVALID_VALUE", message);
}

export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Start of the part of `buf` not yet moved into `chunks`. */
  private segmentStart = 0;
  private readonly chunks: Buffer[] = [];
  private sealedBytes = 0;
  private readonly framed: boolean;
  private finished = false;

  constructor(options: WriterOptions = {}) {
    this.buf = Buffer.allocUnsafe(options.initialCapacity ?? WRITER_INITIAL_CAPACITY_BYTES);
    this.framed = options.frame === true;
    if (this.framed) this.int32(0);
  }

  /** Bytes written so far, including the frame prefix if any. */
  get length(): number {
    return this.sealedBytes + this.pos - this.segmentStart;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.finished) throw new Error("Writer used after finish()");
    // Instead of growing (allocate + copy), what was written stays where it is as a chunk and
    // writing continues in a fresh scratch buffer; only the n bytes of one value must be contiguous.
    this.seal();
    this.buf = Buffer.allocUnsafe(Math.max(n, Math.min(this.buf.length * 2, WRITER_SCRATCH_MAX_BYTES)));
    this.pos = 0;
    this.segmentStart = 0;
  }

  private seal(): void {
    if (this.pos > this.segmentStart) {
      this.chunks.push(this.buf.subarray(this.segmentStart, this.pos));
      this.sealedBytes += this.pos - this.segmentStart;
      this.segmentStart = this.pos;
    }
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int8(v: number): this {
    if ((v << 24) >> 24 !== v) throw invalid(`int8 out of range: ${v}`);
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    if ((v << 16) >> 16 !== v) throw invalid(`int16 out of range: ${v}`);
    this.ensure(2);
    const b = this.buf;
    b[this.pos] = (v >>> 8) & 0xff;
    b[this.pos + 1] = v & 0xff;
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    if ((v & 0xffff) !== v) throw invalid(`uint16 out of range: ${v}`);
    this.ensure(2);
    const b = this.buf;
    b[this.pos] = v >>> 8;
    b[this.pos + 1] = v & 0xff;
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    if ((v | 0) !== v) throw invalid(`int32 out of range: ${v}`);
    this.ensure(4);
    this.put32(v);
    return this;
  }

  uint32(v: number): this {
    if (v >>> 0 !== v) throw invalid(`uint32 out of range: ${v}`);
    this.ensure(4);
    this.put32(v);
    return this;
  }

  private put32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = (v >>> 24) & 0xff;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
  }

  /** int64 from a safe-integer number or a bigint within the int64 range. */
  int64(v: number | bigint): this {
    this.ensure(8);
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw invalid(`int64 number must be a safe integer: ${v}`);
      const hi = Math.floor(v / TWO_POW_32);
      this.put32(hi | 0);
      this.put32(v - hi * TWO_POW_32);
      return this;
    }
    if (v < INT64_MIN || v > INT64_MAX) throw invalid(`int64 out of range: ${v}`);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** Unsigned varint of a uint32 (Kafka's compact lengths and tag numbers). */
  uvarint(v: number): this {
    if (v >>> 0 !== v) throw invalid(`unsigned varint out of range: ${v}`);
    this.ensure(5);
    const b = this.buf;
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
    return this;
  }

  /** Zigzag varint of an int32 (record-level lengths). */
  varint(v: number): this {
    if ((v | 0) !== v) throw invalid(`varint out of range: ${v}`);
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Zigzag varlong of an int64 given as a safe-integer number or a bigint. */
  varlong(v: number | bigint): this {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw invalid(`varlong number must be a safe integer: ${v}`);
      if (v >= -VARLONG_NUMBER_MAX && v <= VARLONG_NUMBER_MAX) {
        let z = v >= 0 ? v * 2 : -v * 2 - 1;
        this.ensure(10);
        const b = this.buf;
        while (z > 0x7f) {
          b[this.pos++] = (z % 128) | 0x80;
          z = Math.floor(z / 128);
        }
        b[this.pos++] = z;
        return this;
      }
      v = BigInt(v);
    }
    if (v < INT64_MIN || v > INT64_MAX) throw invalid(`varlong out of range: ${v}`);
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    while (z > 0x7fn) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
    return this;
  }

  /** A Kafka uuid given in its 22-char base64url form. */
  uuid(v: string): this {
    assertUuid(v);
    this.ensure(UUID_BYTES);
    this.buf.write(v, this.pos, UUID_BYTES, "base64url");
    this.pos += UUID_BYTES;
    return this;
  }

  /** Non-null string: int16 length (or compact uvarint length + 1) then UTF-8 bytes. */
  string(v: string, compact = false): this {
    if (typeof v !== "string") throw invalid(`expected a string, got ${v === null ? "null" : typeof v}`);
    const n = Buffer.byteLength(v, "utf8");
    if (n > STRING_LENGTH_MAX_BYTES) throw invalid(`string of ${n} bytes exceeds ${STRING_LENGTH_MAX_BYTES}`);
    if (compact) this.uvarint(n + 1);
    else this.int16(n);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, n, "utf8");
    return this;
  }

  nullableString(v: string | null, compact = false): this {
    if (v === null) return compact ? this.uvarint(0) : this.int16(-1);
    return this.string(v, compact);
  }

  /** Non-null bytes: int32 length (or compact uvarint length + 1) then the bytes. */
  bytes(v: Uint8Array, compact = false): this {
    if (!(v instanceof Uint8Array)) throw invalid(`expected bytes, got ${v === null ? "null" : typeof v}`);
    if (compact) this.uvarint(v.length + 1);
    else this.int32(v.length);
    return this.raw(v);
  }

  nullableBytes(v: Uint8Array | null, compact = false): this {
    if (v === null) return compact ? this.uvarint(0) : this.int32(-1);
    return this.bytes(v, compact);
  }

  /**
   * A records field: one or more stored batches written back to back under a single length,
   * appended by reference when large. Null writes the null length.
   */
  records(v: RecordsValue, compact = false): this {
    if (v === null) return compact ? this.uvarint(0) : this.int32(-1);
    if (v instanceof Uint8Array) return this.bytes(v, compact);
    let total = 0;
    for (const part of v) total += part.length;
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    for (const part of v) this.raw(part);
    return this;
  }

  /** Array length prefix; null writes the null marker. */
  arrayLength(n: number | null, compact = false): this {
    if (n === null) return compact ? this.uvarint(0) : this.int32(-1);
    return compact ? this.uvarint(n + 1) : this.int32(n);
  }

  /** Appends bytes as is: copied when small, referenced when >= ZERO_COPY_MIN_BYTES. */
  raw(v: Uint8Array): this {
    const n = v.length;
    if (n >= ZERO_COPY_MIN_BYTES) {
      if (this.finished) throw new Error("Writer used after finish()");
      this.seal();
      this.chunks.push(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, n));
      this.sealedBytes += n;
      return this;
    }
    this.ensure(n);
    this.buf.set(v, this.pos);
    this.pos += n;
    return this;
  }

  /**
   * Ends writing and returns the chunks in order, ready for `socket.cork(); write each; uncork()`.
   * For framed writers the first 4 bytes hold the length of everything after them.
   */
  finish(): Buffer[] {
    if (!this.finished) {
      this.seal();
      this.finished = true;
      if (this.framed) {
        const first = this.chunks[0] as Buffer;
        first.writeInt32BE(this.sealedBytes - FRAME_LENGTH_BYTES, 0);
      }
    }
    return this.chunks;
  }

  /** finish() concatenated into one buffer (tests and small messages). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.sealedBytes);
  }
}
