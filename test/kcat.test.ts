/**
 * kcat (librdkafka) against a real server: metadata listing (text and JSON), keyed produce
 * and consume, balanced consumer groups with committed offsets, and every compression codec
 * librdkafka produces (batches are stored as received, so kcat must read them back).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin } from "kafkajs";
import { ApiVersions, Fetch } from "../src/protocol/kafka/generated/messages.js";
import { fetchBody } from "./helpers/fetch-request.js";
import { kafkaClient } from "./helpers/kafka.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const { CompressionTypes } = kafkajs;
const KCAT = "/usr/bin/kcat";
const CODEC_IDS: Record<string, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** The lowest Produce version the server advertises in ApiVersions. */
async function produceMinVersion(address: string): Promise<number> {
  const raw = await RawKafka.connect(address);
  try {
    const res = await raw.request(ApiVersions, 0, { clientSoftwareName: "", clientSoftwareVersion: "" });
    const produce = res.body.apiKeys?.find((k) => k.apiKey === 0);
    assert.ok(produce, "Produce not advertised");
    return produce.minVersion!;
  } finally {
    raw.close();
  }
}

/** The compression codec (attributes & 7) of every stored batch of partition 0, via a raw Fetch v4. */
/** One Fetch (v11 unless told) of partition 0 from `fetchOffset`: its error code and batch codecs. */
async function fetchCodecs(
  address: string,
  topic: string,
  opts: { version?: number; fetchOffset?: number } = {},
): Promise<{ errorCode: number; codecs: number[]; baseOffsets: number[] }> {
  const raw = await RawKafka.connect(address);
  try {
    const res = await raw.request(
      Fetch,
      opts.version ?? 11,
      fetchBody(topic, 0, opts.fetchOffset ?? 0, { maxBytes: 64 << 20 }),
    );
    const part = res.body.responses![0].partitions![0];
    const rec = part.records;
    let buf = Buffer.isBuffer(rec) ? rec : Buffer.concat((rec ?? []) as Buffer[]);
    const codecs: number[] = [];
    const baseOffsets: number[] = [];
    while (buf.length >= 61) {
      const batchLength = buf.readInt32BE(8);
      assert.equal(buf.readInt8(16), 2, "record batch magic");
      codecs.push(buf.readInt16BE(21) & 7);
      baseOffsets.push(Number(buf.readBigInt64BE(0)));
      buf = buf.subarray(12 + batchLength);
    }
    return { errorCode: part.errorCode ?? -1, codecs, baseOffsets };
  } finally {
    raw.close();
  }
}

/** The codecs of the batches stored in partition 0, read from offset 0. */
async function storedCodecs(address: string, topic: string): Promise<number[]> {
  const r = await fetchCodecs(address, topic);
  assert.equal(r.errorCode, 0);
  return r.codecs;
}

interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat with `input` on stdin; a run longer than `timeoutMs` is killed and reported as a failure. */
function kcat(args: string[], input = "", timeoutMs = 30_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(KCAT, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`kcat ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.on("error", () => {});
    proc.stdin.end(input);
  });
}

function ok(r: KcatResult, what: string): string {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

describe("kcat", { timeout: 180_000 }, () => {
  let server: TestServer;
  let admin: Admin;
  let b: string;

  before(async () => {
    server = await startServer();
    b = server.kafkaAddress;
    admin = kafkaClient(b).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: "kcat-meta-3", numPartitions: 3 },
        { topic: "kcat-meta-1", numPartitions: 1 },
      ],
    });
  });

  after(async () => {
    await admin?.disconnect();
    await server?.dispose();
  });

  it("-L lists the broker and topics", async () => {
    const out = ok(await kcat(["-b", b, "-L"]), "kcat -L");
    assert.match(out, /\b1 brokers:/);
    assert.ok(out.includes(`broker 0 at ${b}`), out);
    assert.match(out, /topic "kcat-meta-3" with 3 partitions:/);
    assert.match(out, /topic "kcat-meta-1" with 1 partitions:/);
  });

  it("-L -J is JSON with brokers and partitions", async () => {
    const out = ok(await kcat(["-b", b, "-L", "-J"]), "kcat -L -J");
    const md = JSON.parse(out) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; error?: string; partitions: { partition: number; leader: number }[] }[];
    };
    assert.deepEqual(md.brokers, [{ id: 0, name: b }]);
    const t3 = md.topics.find((t) => t.topic === "kcat-meta-3");
    assert.ok(t3, out);
    assert.equal(t3.error, undefined);
    assert.deepEqual(t3.partitions.map((p) => [p.partition, p.leader]).sort(), [
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    assert.equal(md.topics.find((t) => t.topic === "kcat-meta-1")?.partitions.length, 1);
  });

  it("produces keyed lines and consumes exactly them back", async () => {
    const topic = "kcat-keys";
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const lines = Array.from({ length: 100 }, (_, i) => `key-${i % 7}:value-${i}`);
    ok(await kcat(["-b", b, "-P", "-t", topic, "-K:"], lines.map((l) => `${l}\n`).join("")), "kcat -P");
    const out = ok(await kcat(["-b", b, "-C", "-t", topic, "-e", "-f", "%k=%s@%o\\n"]), "kcat -C");
    const expected = lines.map((l, i) => `${l.replace(":", "=")}@${i}\n`).join("");
    assert.equal(out, expected);
    // The broker's high watermark agrees.
    const wm = await admin.fetchTopicOffsets(topic);
    assert.equal(wm[0].high, "100");
  });

  it("producing to an unknown topic auto-creates it", async () => {
    const topic = "kcat-autocreate";
    ok(await kcat(["-b", b, "-P", "-t", topic], "a\nb\nc\n"), "kcat -P");
    const out = ok(await kcat(["-b", b, "-C", "-t", topic, "-e", "-f", "%s@%o\\n"]), "kcat -C");
    assert.equal(out, "a@0\nb@1\nc@2\n");
  });

  it("consumer group mode (-G) receives every message and commits its position", async () => {
    const topic = "kcat-group";
    const group = "kcat-group-g";
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const values: string[] = [];
    for (let p = 0; p < 3; p++) {
      const vs = Array.from({ length: 20 }, (_, i) => `p${p}-v${i}`);
      values.push(...vs);
      ok(
        await kcat(["-b", b, "-P", "-t", topic, "-p", String(p)], vs.map((v) => `${v}\n`).join("")),
        "kcat -P -p",
      );
    }
    const groupArgs = [
      "-b",
      b,
      "-G",
      group,
      "-X",
      "auto.offset.reset=earliest",
      "-e",
      "-f",
      "%p %o %s\\n",
      topic,
    ];
    const out = ok(await kcat(groupArgs, "", 60_000), "kcat -G");
    const rows = out
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    assert.deepEqual(rows.map((r) => r[2]).sort(), [...values].sort());
    for (const [p, o, s] of rows) assert.equal(s, `p${p}-v${o}`);

    // librdkafka committed the end offsets when it closed.
    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    assert.deepEqual(Object.fromEntries(committed[0].partitions.map((p) => [p.partition, p.offset])), {
      0: "20",
      1: "20",
      2: "20",
    });
    // So a second run of the same group gets only what was produced since.
    ok(await kcat(["-b", b, "-P", "-t", topic, "-p", "1"], "late\n"), "kcat -P");
    const again = ok(await kcat(groupArgs, "", 60_000), "kcat -G again");
    assert.equal(again, "1 20 late\n");
  });

  it("consumes gzip batches produced by kafkajs", async () => {
    const topic = "kcat-kafkajs-gzip";
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafkaClient(b).producer();
    await producer.connect();
    const values = Array.from({ length: 200 }, (_, i) => `gz-${i}-${"z".repeat(i % 30)}`);
    try {
      for (let i = 0; i < values.length; i += 50) {
        await producer.send({
          topic,
          acks: -1,
          compression: CompressionTypes.GZIP,
          messages: values.slice(i, i + 50).map((value, j) => ({ key: `k${i + j}`, value })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(await storedCodecs(b, topic), [1, 1, 1, 1]);
    const out = ok(await kcat(["-b", b, "-C", "-t", topic, "-e", "-f", "%k=%s@%o\\n"]), "kcat -C");
    assert.equal(out, values.map((v, i) => `k${i}=${v}@${i}\n`).join(""));
  });

  for (const codec of ["gzip", "lz4", "snappy", "zstd"]) {
    it(`produces ${codec} batches that read back intact`, async () => {
      const topic = `kcat-codec-${codec}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      // Compressible values, several per batch (linger lets librdkafka batch them).
      const lines = Array.from({ length: 300 }, (_, i) => `k${i % 5}:${codec}-${i}-${"abc".repeat(i % 40)}`);
      const r = await kcat(
        ["-b", b, "-P", "-t", topic, "-K:", "-X", `compression.codec=${codec}`, "-X", "linger.ms=50"],
        lines.map((l) => `${l}\n`).join(""),
      );
      ok(r, `kcat -P ${codec}`);
      const out = ok(await kcat(["-b", b, "-C", "-t", topic, "-e", "-f", "%k:%s@%o\\n"]), `kcat -C ${codec}`);
      assert.equal(out, lines.map((l, i) => `${l}@${i}\n`).join(""));
      const wm = await admin.fetchTopicOffsets(topic);
      assert.equal(wm[0].high, "300");
      // Batches are stored as sent. librdkafka 2.0 sends gzip/snappy/lz4 compressed only when
      // the broker's Produce range includes v0 (its compression check asks for Produce v0),
      // zstd whenever Produce v7 is there.
      const expected = codec === "zstd" || (await produceMinVersion(b)) === 0 ? CODEC_IDS[codec] : 0;
      const codecs = await storedCodecs(b, topic);
      assert.ok(codecs.length > 0);
      // librdkafka sends a batch uncompressed when compressing would not shrink it (see
      // rd_kafka_msgset_writer_compress), which
      // happens to the odd batch of one or two records when the machine is busy and linger
      // cuts batches short: so 0 is allowed beside the codec, but the codec must be there.
      assert.ok(codecs.includes(expected), `stored codecs ${codecs}, expected ${expected}`);
      assert.ok(
        codecs.every((c) => c === expected || c === 0),
        `stored codecs ${codecs}, expected ${expected}`,
      );
    });
  }

  it("zstd batches reach Fetch v10+ only (KIP-110): older fetches stop before them", async () => {
    const topic = "kcat-zstd-old-fetch";
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    ok(await kcat(["-b", b, "-P", "-t", topic], "plain-0\nplain-1\n"), "kcat -P plain");
    const squeezable = Array.from({ length: 50 }, (_, i) => `zstd-${i}-${"x".repeat(200)}\n`).join("");
    ok(
      await kcat(
        ["-b", b, "-P", "-t", topic, "-X", "compression.codec=zstd", "-X", "linger.ms=100"],
        squeezable,
      ),
      "kcat -P zstd",
    );
    const all = await fetchCodecs(b, topic);
    assert.equal(all.errorCode, 0);
    assert.equal(all.codecs[0], 0, `codecs ${all.codecs}`);
    const zstdAt = all.baseOffsets[all.codecs.indexOf(4)];
    assert.ok(zstdAt !== undefined && zstdAt >= 2, `no zstd batch stored: codecs ${all.codecs}`);
    // Fetch v4-9 from the start: the plain batches, then nothing more.
    const v4 = await fetchCodecs(b, topic, { version: 4 });
    assert.equal(v4.errorCode, 0);
    assert.ok(v4.codecs.length > 0 && v4.codecs.every((c) => c !== 4), `v4 codecs ${v4.codecs}`);
    // At the zstd batch itself: UNSUPPORTED_COMPRESSION_TYPE, as Kafka answers.
    for (const version of [4, 9]) {
      const at = await fetchCodecs(b, topic, { version, fetchOffset: zstdAt! });
      assert.deepEqual([at.errorCode, at.codecs], [76, []], `Fetch v${version}`);
    }
    const v10 = await fetchCodecs(b, topic, { version: 10, fetchOffset: zstdAt! });
    assert.equal(v10.errorCode, 0);
    assert.equal(v10.codecs[0], 4);
  });
});
