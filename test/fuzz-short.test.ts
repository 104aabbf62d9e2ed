/**
 * `oncedb fuzz`: the mutators on their own (deterministic, each does what its name says, the
 * batch surgery keeps or breaks the CRC as intended), and a short real run against a server
 * the fuzzer starts itself, which must exit 0 with many cases and no crash.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import { bombBatch, checkRecords, kafkajsReads, validBatch } from "../src/fuzz/batches.js";
import { type Corpus, planCase } from "../src/fuzz/cases.js";
import { codecCorpus, encodeRequestFrame } from "../src/fuzz/corpus.js";
import { layoutRequest } from "../src/fuzz/layout.js";
import {
  BATCH_MUTATORS,
  bodyOf,
  FRAME_MUTATORS,
  mutateFrame,
  recordsOf,
  replaceRecords,
  splitStream,
} from "../src/fuzz/mutators.js";
import { caseRng, Rng } from "../src/fuzz/rng.js";
import { BatchField, checkProducedBatch } from "../src/log/record-batch.js";
import { API_TABLE } from "../src/protocol/kafka/api-table.js";
import { decodeMessage } from "../src/protocol/kafka/codec/codec.js";
import { KafkaDecodeError } from "../src/protocol/kafka/codec/errors.js";
import { decodeRequestHeader } from "../src/protocol/kafka/codec/header.js";
import { Reader } from "../src/protocol/kafka/codec/reader.js";
import { Metadata, Produce } from "../src/protocol/kafka/generated/messages.js";
import { run } from "./helpers/run.js";
import { CLI_PATH } from "./helpers/server.js";

const advertised = [...API_TABLE.values()].map((a) => ({
  apiKey: a.key,
  minVersion: a.minVersion,
  maxVersion: a.maxVersion,
}));
const corpus: Corpus = { codec: codecCorpus(advertised), kafkajs: [], advertised };

function produceFrame(version = 7, records: Buffer = validBatch(null, { records: 3 })): Buffer {
  return encodeRequestFrame(Produce.apiKey, version, 1, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: "t", partitionData: [{ index: 0, records }] }],
  });
}

/** Decodes a request frame the way the server does; returns the error, or null if it decodes. */
function serverDecode(frame: Buffer): Error | null {
  try {
    const body = bodyOf(frame);
    const r = new Reader(body);
    const h = decodeRequestHeader(r);
    const api = API_TABLE.get(h.apiKey);
    if (!api) return new Error("unknown api");
    decodeMessage(api.request, h.apiVersion, r);
    return null;
  } catch (err) {
    return err as Error;
  }
}

describe("fuzz mutators", () => {
  it("the generator is deterministic per (seed, case) and differs between cases", () => {
    const a = caseRng(7, 12);
    const b = caseRng(7, 12);
    const c = caseRng(7, 13);
    const xs = Array.from({ length: 20 }, () => a.u32());
    assert.deepEqual(
      xs,
      Array.from({ length: 20 }, () => b.u32()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 20 }, () => c.u32()),
    );
    const r = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const v = r.range(-3, 3);
      assert.ok(v >= -3 && v <= 3 && Number.isInteger(v));
    }
  });

  it("covers every advertised API and version with frames the server decodes", () => {
    const versions = new Set(corpus.codec.map((e) => `${e.apiKey}/${e.apiVersion}`));
    for (const a of advertised) {
      for (let v = a.minVersion; v <= a.maxVersion; v++)
        assert.ok(versions.has(`${a.apiKey}/${v}`), `${a.apiKey} v${v}`);
    }
    for (const e of corpus.codec) {
      assert.equal(e.frame.readInt32BE(0), e.frame.length - 4);
      assert.equal(serverDecode(e.frame), null, `API ${e.apiKey} v${e.apiVersion}`);
      const layout = layoutRequest(bodyOf(e.frame));
      assert.ok(layout?.complete, `layout of API ${e.apiKey} v${e.apiVersion}`);
    }
  });

  it("plans the same bytes for the same seed and case", () => {
    for (let i = 0; i < 300; i++) {
      const p1 = planCase(7, i, corpus);
      const p2 = planCase(7, i, corpus);
      assert.equal(p1.name, p2.name);
      assert.deepEqual(Buffer.concat(p1.writes), Buffer.concat(p2.writes));
    }
    const kinds = new Set(Array.from({ length: 3000 }, (_, i) => planCase(7, i, corpus).kind));
    for (const k of ["mutate", "records", "bomb", "valid", "pipeline", "random", "garbage", "dribble"]) {
      assert.ok(kinds.has(k as never), `kind ${k} planned`);
    }
  });

  it("every frame mutator either declines or returns bytes, on every corpus frame", () => {
    const rng = new Rng(99);
    for (const e of corpus.codec) {
      const layout = layoutRequest(bodyOf(e.frame));
      for (const [name, m] of Object.entries(FRAME_MUTATORS)) {
        let out: Buffer | null = null;
        try {
          out = m(e.frame, rng, layout);
        } catch (err) {
          assert.fail(`${name} on API ${e.apiKey} v${e.apiVersion}: ${(err as Error).message}`);
        }
        if (out === null) continue;
        assert.ok(Buffer.isBuffer(out));
        // Length-consistent mutators keep the prefix equal to the body.
        if (!/^(length-|truncate-raw)/.test(name)) assert.equal(out.readInt32BE(0), out.length - 4, name);
      }
    }
  });

  it("frame length mutators produce what the server must refuse or wait for", () => {
    const frame = corpus.codec[0]!.frame;
    const rng = new Rng(5);
    for (let i = 0; i < 50; i++) {
      assert.equal(splitStream(FRAME_MUTATORS["length-negative"]!(frame, rng, null)!).badLength, true);
      assert.equal(splitStream(FRAME_MUTATORS["length-tiny"]!(frame, rng, null)!).badLength, true);
      const long = splitStream(FRAME_MUTATORS["length-long"]!(frame, rng, null)!);
      assert.equal(long.badLength, false);
      assert.ok(long.leftover > 0 && long.frames.length === 0);
      const raw = splitStream(FRAME_MUTATORS["truncate-raw"]!(frame, rng, null)!);
      assert.equal(raw.frames.length, 0);
    }
    const two = splitStream(Buffer.concat([frame, frame]));
    assert.deepEqual(two.frames.length, 2);
    assert.equal(two.leftover, 0);
  });

  it("huge array counts, string lengths and varint overflows are refused by the codec, not allocated", () => {
    const rng = new Rng(3);
    const md1 = corpus.codec.find((e) => e.apiKey === Metadata.apiKey && e.apiVersion === 1)!;
    const layout = layoutRequest(bodyOf(md1.frame))!;
    const arr = layout.slots.find((s) => s.kind === "array")!;
    const huge = Buffer.from(md1.frame);
    huge.writeInt32BE(0x7fffffff, 4 + arr.pos);
    const err = serverDecode(huge);
    assert.ok(err instanceof KafkaDecodeError && err.code === "LENGTH_TOO_LARGE", String(err));
    let refused = 0;
    const flexible = corpus.codec.filter((e) =>
      layoutRequest(bodyOf(e.frame))?.slots.some((s) => s.kind === "tags"),
    );
    assert.ok(flexible.length > 10);
    for (const e of flexible) {
      const out = FRAME_MUTATORS["varint-overflow"]!(e.frame, rng, layoutRequest(bodyOf(e.frame)));
      if (!out) continue;
      const x = serverDecode(out);
      if (x) {
        assert.ok(x instanceof KafkaDecodeError, `${x.name}: ${x.message}`);
        refused++;
      }
    }
    assert.ok(refused > flexible.length / 2, `${refused} of ${flexible.length} refused`);
    for (let i = 0; i < 200; i++) {
      const e = rng.pick(corpus.codec);
      const out = mutateFrame(e.frame, rng).bytes;
      const shape = splitStream(out);
      for (const f of shape.frames) {
        const x = serverDecode(Buffer.concat([Buffer.alloc(4), f]));
        assert.ok(x === null || x instanceof KafkaDecodeError || x.message === "unknown api", String(x));
      }
    }
  });

  it("finds and replaces the records of a Produce frame, in classic and flexible versions", () => {
    for (const v of [3, 7, 8]) {
      const batch = validBatch(null, { records: 2 });
      const f = produceFrame(v, batch);
      assert.deepEqual(recordsOf(f), batch);
      const other = validBatch(null, { records: 5, gzip: true });
      const g = replaceRecords(f, other)!;
      assert.deepEqual(recordsOf(g), other);
      assert.equal(serverDecode(g), null);
    }
  });

  it("batch surgery: bad CRC breaks it, interior mutations keep it valid, counts can lie", () => {
    const rng = new Rng(11);
    const batch = validBatch(null, { records: 4 });
    assert.ok(checkProducedBatch(batch, 1 << 20).ok);
    assert.ok(checkRecords(batch).ok);
    const bad = BATCH_MUTATORS["bad-crc"]!(batch, rng);
    const rejected = checkProducedBatch(bad, 1 << 20);
    assert.ok(!rejected.ok && rejected.error === "CORRUPT_MESSAGE");
    let interiorBroken = 0;
    for (let i = 0; i < 50; i++) {
      const m = BATCH_MUTATORS["interior-valid-crc"]!(batch, rng);
      assert.equal(
        m.readUInt32BE(BatchField.crc),
        crc32c(m.subarray(BatchField.attributes)),
        "CRC recomputed",
      );
      if (!checkRecords(m).ok) interiorBroken++;
    }
    assert.ok(interiorBroken > 10, `${interiorBroken} of 50 interiors broken`);
    const lie = BATCH_MUTATORS["count-lie"]!(batch, rng);
    assert.equal(lie.readInt32BE(BatchField.lastOffsetDelta), lie.readInt32BE(BatchField.recordCount) - 1);
    assert.equal(checkRecords(lie).ok, false);
    const neg = BATCH_MUTATORS["negative-record-length"]!(batch, rng);
    assert.ok(
      checkProducedBatch(neg, 1 << 20).ok,
      "the server's produce check accepts it (it reads no records)",
    );
    assert.equal(checkRecords(neg).ok, false);
  });

  it("compression bombs are cheap to send and expensive to open", () => {
    const rng = new Rng(1);
    const over = bombBatch("over-cap", rng);
    assert.ok(over.length < 1024 * 1024);
    assert.throws(() => gunzipSync(over.subarray(61), { maxOutputLength: 64 * 1024 * 1024 }));
    const neg = bombBatch("negative-length", rng);
    assert.equal(neg.readInt32BE(BatchField.recordCount), 0x7fffffff);
    // A count that would burn 2^31 offsets is refused on produce (RECORDS_PER_BATCH_MAX).
    const refused = checkProducedBatch(neg, 1 << 20);
    assert.ok(!refused.ok && refused.error === "INVALID_RECORD");
    assert.equal(checkRecords(neg).ok, false);
  });

  it("valid batches read cleanly, also with kafkajs's decoder", async () => {
    for (const gzip of [false, true]) {
      const b = validBatch(null, { records: 7, gzip });
      assert.deepEqual(checkRecords(b), { ok: true, records: 7 });
      assert.equal(await kafkajsReads(b), null);
    }
  });
});

describe("oncedb fuzz (short run)", { timeout: 240_000 }, () => {
  it("runs 15 s with seed 7: exit 0, many cases, no crash, report written", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-fuzz-test-"));
    try {
      const r = await run(
        process.execPath,
        [CLI_PATH, "fuzz", "--duration", "15s", "--seed", "7", "--out", out],
        {
          timeoutMs: 200_000,
        },
      );
      const reportPath = path.join(out, "report.json");
      assert.ok(fs.existsSync(reportPath), `no report; stderr: ${r.stderr.slice(-2000)}`);
      const report = JSON.parse(fs.readFileSync(reportPath, "utf8"));
      const why = `${r.stdout}\nfailures: ${JSON.stringify(report.failures)}\nsuspects: ${JSON.stringify(report.health?.suspects?.map((s: { index: number; name: string }) => `${s.index} ${s.name}`))}`;
      assert.equal(r.code, 0, why);
      assert.equal(report.ok, true, why);
      assert.equal(report.crashes, 0);
      assert.ok(report.cases > 1000, `only ${report.cases} cases`);
      assert.equal(report.health.failures, 0);
      assert.ok(report.health.rounds > 10);
      assert.ok(report.memory.peakRssMiB > 0);
      assert.equal(report.log.inconsistencies, 0);
      assert.ok(report.corpus.kafkajs > 0, "kafkajs frames captured");
      assert.match(r.stdout, /cases\s+\d+/);
      assert.match(r.stderr, /\[fuzz\] \d+s\/15s cases/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
