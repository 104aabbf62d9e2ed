// Bounds-checked reader for Kafka wire data. Every read checks the remaining input first and every
// length is validated before anything is allocated, so malformed or hostile input can only cause
// a KafkaDecodeError, never a RangeError, a huge allocation or a hang.
import { KafkaDecodeError } from "./errors.js";
import { UUID_BYTES } from "./uuid.js";
import { STRING_LENGTH_MAX_BYTES } from "./writer.js";

/** An unsigned varint of 32 bits takes at most 5 bytes. */
export const UVARINT_MAX_BYTES = 5;
/** A varlong of 64 bits takes at most 10 bytes. */
export const VARLONG_MAX_BYTES = 10;

const TWO_POW_32 = 4294967296;
const EMPTY = Buffer.alloc(0);

export class Reader {
  readonly buf: Buffer;
  /** Next byte to read. */
  pos: number;
  /** End of readable input (exclusive); narrowed temporarily while reading a tagged field. */
  private end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError("Reader bounds outside buffer");
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) {
      throw new KafkaDecodeError(
        "UNDERFLOW",
        `need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`,
      );
    }
  }

  /** Restricts reads to the next `n` bytes; returns the token for endLimit(). */
  beginLimit(n: number): number {
    this.need(n);
    const saved = this.end;
    this.end = this.pos + n;
    return saved;
  }

  /** Restores the limit saved by beginLimit(); throws unless the limited region was consumed. */
  endLimit(saved: number): void {
    if (this.pos !== this.end) {
      throw new KafkaDecodeError(
        "TAGGED_FIELD_SIZE",
        `tagged field left ${this.end - this.pos} bytes unread`,
      );
    }
    this.end = saved;
  }

  /** Skips a tagged-fields section (count, then tag/size/data triples) without decoding it. */
  skipTaggedFields(): void {
    const count = this.uvarint();
    // Each tagged field takes at least 2 bytes (tag and size).
    if (count * 2 > this.end - this.pos) {
      throw new KafkaDecodeError(
        "LENGTH_TOO_LARGE",
        `${count} tagged fields exceed the ${this.end - this.pos} bytes left`,
      );
    }
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  bool(): boolean {
    this.need(1);
    // Like Kafka: any non-zero byte is true.
    return this.buf[this.pos++] !== 0;
  }

  int8(): number {
    this.need(1);
    return (this.buf[this.pos++] << 24) >> 24;
  }

  int16(): number {
    this.need(2);
    const b = this.buf;
    const v = ((b[this.pos] << 24) >> 16) | b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const b = this.buf;
    const v = (b[this.pos] << 8) | b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  /** int64 as a number; throws INT64_UNSAFE when |v| > 2^53 - 1 (see README: int64 convention). */
  int64(): number {
    const hi = this.int32();
    const lo = this.int32() >>> 0;
    const v = hi * TWO_POW_32 + lo;
    if (!Number.isSafeInteger(v)) {
      const big = (BigInt(hi) << 32n) | BigInt(lo);
      throw new KafkaDecodeError(
        "INT64_UNSAFE",
        `int64 ${big} at offset ${this.pos - 8} is not a safe integer`,
      );
    }
    return v;
  }

  int64BigInt(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned varint of at most 32 bits. */
  uvarint(): number {
    const b = this.buf;
    let result = 0;
    for (let i = 0; i < UVARINT_MAX_BYTES; i++) {
      if (this.pos >= this.end) this.need(1);
      const byte = b[this.pos++];
      if (i === UVARINT_MAX_BYTES - 1 && byte > 0x0f) {
        throw new KafkaDecodeError(
          "VARINT_TOO_LONG",
          `unsigned varint overflows 32 bits at offset ${this.pos - 1}`,
        );
      }
      result += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) return result;
    }
    throw new KafkaDecodeError("VARINT_TOO_LONG", `unsigned varint longer than ${UVARINT_MAX_BYTES} bytes`);
  }

  /** Zigzag varint of 32 bits. */
  varint(): number {
    const z = this.uvarint();
    return (z >>> 1) ^ -(z & 1);
  }

  /** Zigzag varlong as a number; throws INT64_UNSAFE when it is not a safe integer. */
  varlong(): number {
    const start = this.pos;
    const z = this.uvarlongBig();
    const v = (z >> 1n) ^ -(z & 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new KafkaDecodeError("INT64_UNSAFE", `varlong ${v} at offset ${start} is not a safe integer`);
    }
    return Number(v);
  }

  varlongBigInt(): bigint {
    const z = this.uvarlongBig();
    return (z >> 1n) ^ -(z & 1n);
  }

  private uvarlongBig(): bigint {
    // Fast path: up to 7 bytes (49 bits) are exact in a double.
    const b = this.buf;
    let small = 0;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) this.need(1);
      const byte = b[this.pos++];
      small += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) return BigInt(small);
    }
    let result = BigInt(small);
    for (let i = 7; i < VARLONG_MAX_BYTES; i++) {
      if (this.pos >= this.end) this.need(1);
      const byte = b[this.pos++];
      if (i === VARLONG_MAX_BYTES - 1 && byte > 0x01) {
        throw new KafkaDecodeError("VARINT_TOO_LONG", `varlong overflows 64 bits at offset ${this.pos - 1}`);
      }
      result |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) return result;
    }
    throw new KafkaDecodeError("VARINT_TOO_LONG", `varlong longer than ${VARLONG_MAX_BYTES} bytes`);
  }

  /** A uuid in Kafka's 22-char base64url form. */
  uuid(): string {
    this.need(UUID_BYTES);
    const s = this.buf.toString("base64url", this.pos, this.pos + UUID_BYTES);
    this.pos += UUID_BYTES;
    return s;
  }

  /** Length of a string/bytes value: -1 means null. Validated against the remaining input. */
  private length(compact: boolean, wide: boolean): number {
    let n: number;
    if (compact) n = this.uvarint() - 1;
    else if (wide) n = this.int32();
    else n = this.int16();
    if (n < -1) throw new KafkaDecodeError("NEGATIVE_LENGTH", `negative length ${n} at offset ${this.pos}`);
    if (n > this.end - this.pos) {
      throw new KafkaDecodeError(
        "LENGTH_TOO_LARGE",
        `length ${n} exceeds the ${this.end - this.pos} bytes left`,
      );
    }
    return n;
  }

  nullableString(compact = false): string | null {
    const n = this.length(compact, false);
    if (n < 0) return null;
    if (n > STRING_LENGTH_MAX_BYTES) {
      throw new KafkaDecodeError("LENGTH_TOO_LARGE", `string length ${n} exceeds ${STRING_LENGTH_MAX_BYTES}`);
    }
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  string(compact = false): string {
    const s = this.nullableString(compact);
    if (s === null) throw new KafkaDecodeError("UNEXPECTED_NULL", `null string at offset ${this.pos}`);
    return s;
  }

  /**
   * Bytes, copied by default so the result does not pin the request buffer; `view` returns a
   * zero-copy subarray of the input instead.
   */
  nullableBytes(compact = false, view = false): Buffer | null {
    const n = this.length(compact, true);
    if (n < 0) return null;
    if (n === 0) return EMPTY;
    const start = this.pos;
    this.pos += n;
    const sub = this.buf.subarray(start, start + n);
    return view ? sub : Buffer.from(sub);
  }

  bytes(compact = false, view = false): Buffer {
    const b = this.nullableBytes(compact, view);
    if (b === null) throw new KafkaDecodeError("UNEXPECTED_NULL", `null bytes at offset ${this.pos}`);
    return b;
  }

  /** A records field as a zero-copy subarray of the input (or null). */
  records(compact = false): Buffer | null {
    const n = this.length(compact, true);
    if (n < 0) return null;
    const start = this.pos;
    this.pos += n;
    return this.buf.subarray(start, start + n);
  }

  /**
   * Array element count, or -1 for null. `minElementBytes` is the smallest encoding of one
   * element; the count is rejected unless that many elements (at least 1 byte each, as Kafka
   * assumes) fit in the remaining input, so no huge array is ever allocated.
   */
  arrayLength(compact: boolean, minElementBytes = 1): number {
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < -1)
      throw new KafkaDecodeError("NEGATIVE_LENGTH", `negative array length ${n} at offset ${this.pos}`);
    if (n > 0 && n * Math.max(1, minElementBytes) > this.end - this.pos) {
      throw new KafkaDecodeError(
        "LENGTH_TOO_LARGE",
        `array of ${n} elements (>= ${minElementBytes} bytes each) exceeds the ${this.end - this.pos} bytes left`,
      );
    }
    return n;
  }
}
