import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { assignBaseOffset, checkProducedBatch, readBatchHeader } from "./record-batch.js";
import { decodeRecords, encodeBatch } from "./records.js";

const LIMIT = 1 << 20;

describe("record batch v2", () => {
  it("round-trips records with keys, values, headers and timestamps", () => {
    const b = encodeBatch({
      records: [
        {
          key: Buffer.from("k1"),
          value: Buffer.from("v1"),
          headers: [{ key: "h", value: Buffer.from("x") }],
          timestampMs: 1000,
        },
        { key: null, value: null, timestampMs: 1005 },
      ],
      baseOffset: 40,
    });
    const check = checkProducedBatch(b, LIMIT);
    assert.ok(check.ok);
    assert.equal(check.header.recordCount, 2);
    assert.equal(check.header.maxTimestamp, 1005);
    const recs = decodeRecords(b)!;
    assert.deepEqual(
      recs.map((r) => [
        r.offset,
        r.timestampMs,
        r.key?.toString() ?? null,
        r.value?.toString() ?? null,
        r.headers.length,
      ]),
      [
        [40, 1000, "k1", "v1", 1],
        [41, 1005, null, null, 0],
      ],
    );
  });

  it("known CRC-32C check value", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  });

  it("rewriting base offset keeps the CRC valid", () => {
    const b = encodeBatch({ records: [{ key: null, value: Buffer.from("x") }] });
    assignBaseOffset(b, 123456789);
    assert.ok(checkProducedBatch(b, LIMIT).ok);
    assert.equal(Number(b.readBigInt64BE(0)), 123456789);
    assert.equal(readBatchHeader(b).recordCount, 1);
  });

  it("rejects every single-bit flip inside the CRC's coverage", () => {
    const b = encodeBatch({ records: [{ key: Buffer.from("key"), value: Buffer.from("value") }] });
    for (let i = 21; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i]! ^= 1 << (i % 8);
      const r = checkProducedBatch(c, LIMIT);
      assert.equal(r.ok, false, `flip at byte ${i}`);
    }
  });

  it("rejects short, oversized, wrong-magic and inconsistent batches", () => {
    const b = encodeBatch({ records: [{ key: null, value: Buffer.alloc(100) }] });
    assert.deepEqual(pick(checkProducedBatch(b.subarray(0, 60), LIMIT)), "CORRUPT_MESSAGE");
    assert.deepEqual(pick(checkProducedBatch(b.subarray(0, b.length - 1), LIMIT)), "CORRUPT_MESSAGE");
    assert.deepEqual(pick(checkProducedBatch(b, 100)), "MESSAGE_TOO_LARGE");
    const m = Buffer.from(b);
    m.writeInt8(1, 16);
    assert.deepEqual(pick(checkProducedBatch(m, LIMIT)), "UNSUPPORTED_FOR_MESSAGE_FORMAT");
    assert.deepEqual(pick(checkProducedBatch(Buffer.concat([b, b]), LIMIT)), "INVALID_RECORD");
  });
});

function pick(r: ReturnType<typeof checkProducedBatch>): string {
  return r.ok ? "ok" : r.error;
}
