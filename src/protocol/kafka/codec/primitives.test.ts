import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KafkaDecodeError } from "./errors.js";
import { Reader } from "./reader.js";
import { isUuid, randomUuid, uuidFromBytes, uuidToBytes, ZERO_UUID } from "./uuid.js";
import { STRING_LENGTH_MAX_BYTES, Writer, ZERO_COPY_MIN_BYTES } from "./writer.js";

function bytesOf(fn: (w: Writer) => void): string {
  const w = new Writer();
  fn(w);
  return w.toBuffer().toString("hex");
}

describe("Writer and Reader primitives", () => {
  it("fixed-width integers and floats round trip at their limits", () => {
    const w = new Writer({ initialCapacity: 1 });
    w.int8(-128)
      .int8(127)
      .int16(-32768)
      .int16(32767)
      .uint16(65535)
      .int32(-(2 ** 31))
      .int32(2 ** 31 - 1);
    w.uint32(2 ** 32 - 1)
      .int64(Number.MIN_SAFE_INTEGER)
      .int64(-(2n ** 63n))
      .float64(-0.5)
      .bool(true)
      .bool(false);
    const r = new Reader(w.toBuffer());
    assert.deepStrictEqual(
      [r.int8(), r.int8(), r.int16(), r.int16(), r.uint16(), r.int32(), r.int32(), r.uint32()],
      [-128, 127, -32768, 32767, 65535, -(2 ** 31), 2 ** 31 - 1, 2 ** 32 - 1],
    );
    assert.equal(r.int64(), Number.MIN_SAFE_INTEGER);
    assert.equal(r.int64BigInt(), -(2n ** 63n));
    assert.deepStrictEqual([r.float64(), r.bool(), r.bool()], [-0.5, true, false]);
    assert.equal(r.remaining(), 0);
  });

  it("rejects out-of-range values with KafkaEncodeError", () => {
    const bad: Array<(w: Writer) => unknown> = [
      (w) => w.int8(128),
      (w) => w.int16(40000),
      (w) => w.int32(2 ** 31),
      (w) => w.int32(1.5),
      (w) => w.uint16(-1),
      (w) => w.uint32(-1),
      (w) => w.int64(2 ** 53),
      (w) => w.int64(2n ** 63n),
      (w) => w.uvarint(-1),
      (w) => w.uuid("not-a-uuid"),
      (w) => w.string("x".repeat(STRING_LENGTH_MAX_BYTES + 1)),
    ];
    for (const fn of bad)
      assert.throws(() => fn(new Writer()), { name: "KafkaEncodeError", code: "INVALID_VALUE" });
  });

  it("varints match Kafka's zigzag encoding", () => {
    const cases: Array<[number, string]> = [
      [0, "00"],
      [-1, "01"],
      [1, "02"],
      [63, "7e"],
      [-64, "7f"],
      [64, "8001"],
      [-(2 ** 31), "ffffffff0f"],
      [2 ** 31 - 1, "feffffff0f"],
    ];
    for (const [v, hex] of cases) {
      assert.equal(
        bytesOf((w) => w.varint(v)),
        hex,
        `varint ${v}`,
      );
      assert.equal(new Reader(Buffer.from(hex, "hex")).varint(), v);
      assert.equal(
        bytesOf((w) => w.varlong(v)),
        hex,
        `varlong ${v}`,
      );
      assert.equal(new Reader(Buffer.from(hex, "hex")).varlong(), v);
    }
    assert.equal(
      bytesOf((w) => w.uvarint(2 ** 32 - 1)),
      "ffffffff0f",
    );
    assert.equal(new Reader(Buffer.from("ffffffff0f", "hex")).uvarint(), 2 ** 32 - 1);
  });

  it("varlongs cover the int64 range via bigint and the safe range via number", () => {
    const max = 2n ** 63n - 1n;
    const min = -(2n ** 63n);
    assert.equal(
      bytesOf((w) => w.varlong(max)),
      "feffffffffffffffff01",
    );
    assert.equal(
      bytesOf((w) => w.varlong(min)),
      "ffffffffffffffffff01",
    );
    assert.equal(new Reader(Buffer.from("feffffffffffffffff01", "hex")).varlongBigInt(), max);
    assert.equal(new Reader(Buffer.from("ffffffffffffffffff01", "hex")).varlongBigInt(), min);
    for (const v of [
      2 ** 52,
      -(2 ** 52),
      2 ** 52 + 1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      123456789012,
    ]) {
      const hex = bytesOf((w) => w.varlong(v));
      assert.equal(
        hex,
        bytesOf((w) => w.varlong(BigInt(v))),
        `number and bigint agree for ${v}`,
      );
      assert.equal(new Reader(Buffer.from(hex, "hex")).varlong(), v);
    }
    assert.throws(() => new Reader(Buffer.from("feffffffffffffffff01", "hex")).varlong(), {
      code: "INT64_UNSAFE",
    });
    assert.throws(() => new Reader(Buffer.from("ffffffffffffffffff02", "hex")).varlongBigInt(), {
      code: "VARINT_TOO_LONG",
    });
  });

  it("strings and bytes in classic and compact form, with nulls", () => {
    const w = new Writer();
    w.string("héllo").string("héllo", true).nullableString(null).nullableString(null, true);
    w.bytes(Buffer.from([9]))
      .bytes(Buffer.from([9]), true)
      .nullableBytes(null)
      .nullableBytes(null, true);
    const buf = w.toBuffer();
    assert.equal(buf.toString("hex"), "000668c3a96c6c6f0768c3a96c6c6fffff0000000001090209ffffffff00");
    const r = new Reader(buf);
    assert.equal(r.string(), "héllo");
    assert.equal(r.string(true), "héllo");
    assert.equal(r.nullableString(), null);
    assert.equal(r.nullableString(true), null);
    const copied = r.bytes();
    const view = r.bytes(true, true);
    assert.equal(r.nullableBytes(), null);
    assert.equal(r.nullableBytes(true), null);
    buf.fill(0x55);
    assert.deepStrictEqual(copied, Buffer.from([9]), "bytes are copied by default");
    assert.deepStrictEqual(view, Buffer.from([0x55]), "view=true returns a subarray of the input");
  });

  it("uuids use Kafka's 22-char base64url form", () => {
    const bytes = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
    const s = uuidFromBytes(bytes);
    assert.equal(s, "AAECAwQFBgcICQoLDA0ODw");
    assert.deepStrictEqual(uuidToBytes(s), bytes);
    assert.equal(
      bytesOf((w) => w.uuid(s)),
      bytes.toString("hex"),
    );
    assert.equal(new Reader(bytes).uuid(), s);
    assert.equal(new Reader(Buffer.alloc(16)).uuid(), ZERO_UUID);
    assert.ok(!isUuid("AAECAwQFBgcICQoLDA0ODx"), "non-canonical last digit");
    for (let i = 0; i < 100; i++) {
      const id = randomUuid();
      assert.ok(isUuid(id) && !id.startsWith("-") && id !== ZERO_UUID);
      assert.equal((uuidToBytes(id)[6] as number) >> 4, 4, "version 4");
    }
  });

  it("records: small parts are copied, large parts referenced, lengths summed", () => {
    const small = Buffer.from("abc");
    const large = Buffer.alloc(ZERO_COPY_MIN_BYTES, 7);
    const w = new Writer({ frame: true });
    w.int32(1).records([small, large, small]).int16(2).records(null).records(null, true);
    const chunks = w.finish();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[1], large, "large part passed by reference");
    const all = Buffer.concat(chunks);
    assert.equal(all.readInt32BE(0), all.length - 4);
    const r = new Reader(all, 4);
    assert.equal(r.int32(), 1);
    assert.deepStrictEqual(r.records(), Buffer.concat([small, large, small]));
    assert.equal(r.int16(), 2);
    assert.equal(r.records(), null);
    assert.equal(r.records(true), null);
    assert.equal(r.remaining(), 0);
  });

  it("keeps earlier chunks intact when the scratch buffer grows after a large append", () => {
    const w = new Writer({ initialCapacity: 8 });
    w.int32(0x11111111);
    w.raw(Buffer.alloc(ZERO_COPY_MIN_BYTES, 0xee));
    for (let i = 0; i < 1000; i++) w.int32(i);
    const buf = w.toBuffer();
    assert.equal(buf.length, 4 + ZERO_COPY_MIN_BYTES + 4000);
    assert.equal(buf.readUInt32BE(0), 0x11111111);
    assert.equal(buf[4 + ZERO_COPY_MIN_BYTES - 1], 0xee);
    for (let i = 0; i < 1000; i++) assert.equal(buf.readInt32BE(4 + ZERO_COPY_MIN_BYTES + i * 4), i);
    assert.equal(new Writer().toBuffer().length, 0);
  });

  it("reader honours start/end bounds inside a larger buffer", () => {
    const buf = Buffer.from("0000000100000002", "hex");
    const r = new Reader(buf, 4, 6);
    assert.throws(
      () => r.int32(),
      (e: unknown) => e instanceof KafkaDecodeError && e.code === "UNDERFLOW",
    );
    assert.equal(r.int16(), 0);
    assert.throws(() => r.int8(), { code: "UNDERFLOW" });
  });
});
