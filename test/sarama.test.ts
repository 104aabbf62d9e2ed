/**
 * Go's Sarama (Debian's golang-github-shopify-sarama-dev 1.22.1 with golang-go 1.19, installed
 * by .ci/run) against a real server: admin create/list/describe/delete, idempotent producers
 * (acks=all) sending keyed records with headers uncompressed and with gzip, snappy and lz4, zstd
 * refused on Produce v3, a consumer group that commits and a second one that resumes with the
 * rest, the offset manager and ListConsumerGroupOffsets, the plain partition consumer,
 * ListOffsets and DeleteRecords. The scenario runs in test/fixtures/sarama/main.go, built here
 * in GOPATH mode from Debian's packaged sources (no network); this file makes the assertions.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGoFixture, GOCODE, type GoFixture } from "./helpers/go-fixture.js";
import { run } from "./helpers/run.js";
import { startServer, type TestServer } from "./helpers/server.js";

const SARAMA_SRC = `${GOCODE}/src/github.com/Shopify/sarama`;

const TOPIC = "sarama-orders";
const GROUP = "sarama-group";
const KEYS = 8;
const FIRST = 80; // 20 records each: none, gzip, snappy, lz4
const TOTAL = FIRST + 10; // and 10 more uncompressed before the second group session
const BASE_TS = 1_700_000_000_000;

// Sarama's texts for the Kafka error codes the scenario expects.
const E_TOPIC_ALREADY_EXISTS = "kafka server: Topic with this name already exists.";
const E_UNSUPPORTED_COMPRESSION =
  "kafka server: The requesting client does not support the compression type of given partition.";
const E_OFFSET_OUT_OF_RANGE =
  "kafka server: The requested offset is outside the range of offsets maintained by the server for the given topic/partition.";
const E_UNKNOWN_TOPIC =
  "kafka server: Request was for a topic or partition that does not exist on this broker.";

interface GoRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: [string, string][];
  timestamp: number;
}

interface Sent {
  topic: string;
  value: string;
  key: string;
  codec: string;
  partition: number;
  offset: number;
}

interface TopicMeta {
  name: string;
  err: string;
  partitions: { id: number; err: string; leader: number; replicas: number[]; isr: number[] }[];
}

interface GroupDesc {
  err: string;
  state: string;
  protocol_type: string;
  protocol: string;
  member_ids: string[];
  client_ids: string[];
}

interface Session {
  member_id: string;
  generation: number;
  claims: { [topic: string]: number[] };
  records: GoRecord[];
  errors: string[];
  timed_out: boolean;
  described?: GroupDesc;
}

interface Seen {
  version: string;
  cluster: { brokers: { id: number; addr: string }[]; controller: number };
  create_again_err: string;
  topics: { [name: string]: { partitions: number; replication_factor: number } };
  describe: TopicMeta[];
  produced: Sent[];
  codec_errors: { [codec: string]: string[] };
  zstd: { newest: number; fetched: number; fetch_err: string };
  first: Session;
  committed_after_first: { [p: string]: number };
  end_after_first: { [p: string]: number };
  second: Session;
  manager_offsets: { [p: string]: number };
  group_offsets: { [p: string]: { offset: number; err: string } };
  groups: { [group: string]: string };
  group_after_close: GroupDesc;
  newest: { [p: string]: number };
  oldest: { [p: string]: number };
  plain: GoRecord[];
  delete_records_err: string;
  delete_out_of_range: { low_watermark: number; err: string };
  delete_to_high_watermark: { low_watermark: number; err: string };
  oldest_after_delete: { [p: string]: number };
  newest_after_delete: { [p: string]: number };
  first_offset_after_delete: number;
  delete_topic_err: string;
  topics_after_delete: string[];
  describe_after_delete: TopicMeta[];
}

const num = (value: string): number => Number(value.slice(1));
const codecOf = (i: number): string =>
  i >= FIRST ? "none" : ["none", "gzip", "snappy", "lz4"][Math.floor(i / 20)]!;
const byPosition = (a: GoRecord, b: GoRecord): number => a.partition - b.partition || a.offset - b.offset;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Checks every consumed record against what the producer was told and what it sent. */
function checkRecords(records: GoRecord[], produced: Map<string, Sent>): void {
  for (const r of records) {
    const i = num(r.value);
    const s = produced.get(r.value);
    assert.ok(s, `consumed ${r.value}, which was never acknowledged`);
    assert.equal(r.key, `k${i % KEYS}`, `key of ${r.value}`);
    assert.equal(r.partition, s.partition, `partition of ${r.value}`);
    assert.equal(r.offset, s.offset, `offset of ${r.value}`);
    assert.deepEqual(
      r.headers,
      [
        ["seq", String(i)],
        ["codec", codecOf(i)],
      ],
      `headers of ${r.value}`,
    );
    assert.equal(r.timestamp, BASE_TS + i, `timestamp of ${r.value}`);
  }
}

/** Per partition, the offsets in the order consumed are `from[p]`, `from[p]+1`, ... */
function assertDense(records: GoRecord[], from: { [p: string]: number } = {}): void {
  for (const p of new Set(records.map((r) => r.partition))) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
    const start = from[String(p)] ?? 0;
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => start + i),
      `offsets of partition ${p}`,
    );
  }
}

function countsByPartition(records: { partition: number }[]): { [p: string]: number } {
  const counts: { [p: string]: number } = { "0": 0, "1": 0, "2": 0 };
  for (const r of records) counts[String(r.partition)]! += 1;
  return counts;
}

describe("Sarama (Go)", { timeout: 300_000 }, () => {
  let server: TestServer;
  let fixture: GoFixture | undefined;
  let seen: Seen;
  /** Derived from the producers' acknowledgements of the main topic. */
  let produced: Sent[];
  let producedByValue: Map<string, Sent>;
  let counts: { [p: string]: number };
  let firstCounts: { [p: string]: number };

  // Builds the fixture once, then runs the whole scenario once; the tests below check its parts.
  before(async () => {
    // cgo for Sarama's zstd (libzstd).
    fixture = await buildGoFixture("sarama", SARAMA_SRC, "golang-go golang-github-shopify-sarama-dev gcc");

    server = await startServer();
    const { code, stdout, stderr } = await run(fixture.binary, [server.kafkaAddress], { timeoutMs: 200_000 });
    if (code !== 0) throw new Error(`sarama scenario failed (exit ${code}): ${stderr}`);
    seen = JSON.parse(stdout.trim().split("\n").pop()!) as Seen;
    produced = seen.produced.filter((s) => s.topic === TOPIC);
    producedByValue = new Map(produced.map((s) => [s.value, s]));
    counts = countsByPartition(produced);
    firstCounts = countsByPartition(produced.filter((s) => num(s.value) < FIRST));
  });

  after(async () => {
    await server?.dispose();
    fixture?.dispose();
  });

  it("admin: cluster, CreateTopic (twice), ListTopics, DescribeTopics", () => {
    assert.equal(seen.version, "2.2.0");
    // One broker, at the address the server bound.
    assert.equal(seen.cluster.brokers.length, 1);
    const brokerId = seen.cluster.brokers[0]!.id;
    assert.equal(seen.cluster.brokers[0]!.addr, server.kafkaAddress);
    assert.equal(seen.create_again_err, `${E_TOPIC_ALREADY_EXISTS} - topic ${TOPIC} already exists`);
    assert.deepEqual(seen.topics, {
      [TOPIC]: { partitions: 3, replication_factor: 1 },
      "sarama-zstd": { partitions: 1, replication_factor: 1 },
    });
    assert.deepEqual(seen.describe, [
      {
        name: TOPIC,
        err: "",
        partitions: [0, 1, 2].map((id) => ({
          id,
          err: "",
          leader: brokerId,
          replicas: [brokerId],
          isr: [brokerId],
        })),
      },
    ]);
  });

  it("idempotent producers (acks=all): uncompressed, gzip, snappy and lz4 acknowledged with dense offsets", () => {
    for (const codec of ["none", "gzip", "snappy", "lz4", "none-more"]) {
      assert.deepEqual(seen.codec_errors[codec], [], `errors producing with ${codec}`);
    }
    // Every record once, one partition per key, all three partitions used, offsets dense from
    // 0 in the order sent.
    assert.deepEqual(
      produced.map((s) => num(s.value)),
      range(0, TOTAL),
    );
    const partitionOfKey = new Map<string, number>();
    for (const s of produced) {
      assert.equal(s.key, `k${num(s.value) % KEYS}`);
      assert.equal(s.codec, codecOf(num(s.value)));
      const p = partitionOfKey.get(s.key);
      if (p !== undefined) assert.equal(s.partition, p, `key ${s.key} in two partitions`);
      partitionOfKey.set(s.key, s.partition);
    }
    assert.deepEqual(new Set(produced.map((s) => s.partition)), new Set([0, 1, 2]));
    for (const p of [0, 1, 2]) {
      const offsets = produced.filter((s) => s.partition === p).map((s) => s.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `acknowledged offsets of partition ${p}`,
      );
    }
  });

  it("zstd on Produce v3 is refused with UNSUPPORTED_COMPRESSION_TYPE (KIP-110: zstd from Produce v7)", () => {
    // Sarama 1.22 sends zstd batches in Produce v3. Kafka refuses them, so nothing is stored
    // and no Fetch below v10 (Sarama sends v4) ever meets a zstd batch.
    assert.deepEqual(seen.codec_errors.zstd, Array(5).fill(E_UNSUPPORTED_COMPRESSION));
    assert.deepEqual(
      seen.produced.filter((s) => s.topic !== TOPIC),
      [],
    );
    assert.deepEqual(seen.zstd, { newest: 0, fetched: 0, fetch_err: "" });
  });

  it("a consumer group reads every record once, intact, and commits the ends", () => {
    const first = seen.first;
    assert.equal(first.timed_out, false, "first group session timed out");
    assert.deepEqual(first.errors, []);
    assert.equal(first.generation, 1);
    assert.match(first.member_id, /^sarama-fixture-/);
    assert.deepEqual(first.claims, { [TOPIC]: [0, 1, 2] });
    assert.deepEqual(
      first.records.map((r) => num(r.value)).sort((a, b) => a - b),
      range(0, FIRST),
    );
    checkRecords(first.records, producedByValue);
    assertDense(first.records);
    // Its commit (flushed when the session ended) is the end of every partition.
    assert.deepEqual(seen.end_after_first, firstCounts);
    assert.deepEqual(seen.committed_after_first, firstCounts);
  });

  it("a second group session resumes from the commit with exactly the new records", () => {
    const { first, second } = seen;
    assert.equal(second.timed_out, false, "second group session timed out");
    assert.deepEqual(second.errors, []);
    assert.ok(second.generation > first.generation, `generation ${second.generation}`);
    assert.notEqual(second.member_id, first.member_id);
    assert.deepEqual(second.claims, { [TOPIC]: [0, 1, 2] });
    assert.deepEqual(
      second.records.map((r) => num(r.value)).sort((a, b) => a - b),
      range(FIRST, TOTAL),
    );
    checkRecords(second.records, producedByValue);
    assertDense(second.records, firstCounts);
    assert.deepEqual(second.described, {
      err: "",
      state: "Stable",
      protocol_type: "consumer",
      protocol: "range",
      member_ids: [second.member_id],
      client_ids: ["sarama-fixture"],
    });
  });

  it("OffsetManager, ListConsumerGroupOffsets, ListConsumerGroups and DescribeConsumerGroups", () => {
    assert.deepEqual(seen.manager_offsets, counts);
    assert.deepEqual(seen.group_offsets, {
      "0": { offset: counts["0"], err: "" },
      "1": { offset: counts["1"], err: "" },
      "2": { offset: counts["2"], err: "" },
    });
    assert.deepEqual(seen.groups, { [GROUP]: "consumer" });
    assert.deepEqual(seen.group_after_close, {
      err: "",
      state: "Empty",
      protocol_type: "consumer",
      protocol: "",
      member_ids: [],
      client_ids: [],
    });
  });

  it("GetOffset newest/oldest and the plain consumer from OffsetOldest", () => {
    assert.deepEqual(seen.newest, counts);
    assert.deepEqual(seen.oldest, { "0": 0, "1": 0, "2": 0 });
    assert.equal(seen.plain.length, TOTAL);
    checkRecords(seen.plain, producedByValue);
    assertDense(seen.plain);
    assert.deepEqual(
      [...seen.plain].sort(byPosition),
      [...seen.first.records, ...seen.second.records].sort(byPosition),
    );
  });

  it("DeleteRecords moves the log start; DeleteTopic removes the topic", () => {
    // Partition 0 now starts at 3; past the high watermark is refused; -1 means the high
    // watermark. The ends do not move.
    assert.equal(seen.delete_records_err, "");
    assert.deepEqual(seen.delete_out_of_range, { low_watermark: -1, err: E_OFFSET_OUT_OF_RANGE });
    assert.deepEqual(seen.delete_to_high_watermark, { low_watermark: counts["2"], err: "" });
    assert.deepEqual(seen.oldest_after_delete, { "0": 3, "1": 0, "2": counts["2"] });
    assert.deepEqual(seen.newest_after_delete, counts);
    assert.equal(seen.first_offset_after_delete, 3);
    // Gone from the list and from Metadata.
    assert.equal(seen.delete_topic_err, "");
    assert.deepEqual(seen.topics_after_delete, []);
    assert.deepEqual(seen.describe_after_delete, [{ name: TOPIC, err: E_UNKNOWN_TOPIC, partitions: [] }]);
  });
});
