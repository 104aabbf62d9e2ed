/**
 * confluent-kafka-python (Debian's python3-confluent-kafka 1.7.0 on librdkafka 2.0.2, installed
 * by .ci/run) against a real server: admin, an idempotent lz4 producer, a consume-transform-
 * produce loop committing its offsets inside each transaction, an aborted transaction,
 * read_committed against read_uncommitted, and zombie fencing. The scenario runs in
 * test/fixtures/confluent_kafka_client.py; this file makes the assertions.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runPythonFixture } from "./helpers/python-fixture.js";
import { startServer, type TestServer } from "./helpers/server.js";

const RECORDS = 300;

interface Seen {
  create: Record<string, string>;
  create_again: Record<string, string>;
  topics: string[];
  partitions: Record<string, number>;
  brokers: [number, string, number][];
  retention_ms: string;
  unflushed: number;
  /** [partition, offset, key] per delivery report. */
  acked: [number, number, string][];
  delivery_errors: string[];
  copied: number;
  transactions: number;
  headers_seen: number;
  assignment: [string, number][];
  committed_offsets: Record<string, number>;
  zombie: string | { name: string; fatal: boolean };
  read_committed: string[];
  read_uncommitted: string[];
  groups: string[];
  grow: Record<string, string>;
  partitions_after_grow: number;
  delete: Record<string, string>;
  topics_after_delete: string[];
}

describe("confluent-kafka-python (librdkafka)", { timeout: 180_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.dispose();
  });

  it("admin, idempotent produce, transactions with offsets, read_committed, fencing", async () => {
    const seen = await runPythonFixture<Seen>(
      "confluent_kafka_client.py",
      [server.kafkaAddress],
      160_000,
      "python3-confluent-kafka",
    );

    // Admin: created once, refused the second time with Kafka's error, configs as given.
    assert.deepEqual(seen.create, { "ck-in": "ok", "ck-out": "ok" });
    assert.match(seen.create_again["ck-in"], /TOPIC_ALREADY_EXISTS/);
    assert.deepEqual(seen.topics, ["ck-in", "ck-out"]);
    assert.deepEqual(seen.partitions, { "ck-in": 3, "ck-out": 2 });
    const [host, port] = server.kafkaAddress.split(":");
    assert.deepEqual(seen.brokers, [[0, host, Number(port)]]);
    assert.equal(seen.retention_ms, "3600000");

    // The idempotent producer: every record acknowledged once, offsets dense per partition, a
    // key always in one partition (librdkafka's partitioner hashes it).
    assert.equal(seen.unflushed, 0);
    assert.deepEqual(seen.delivery_errors, []);
    assert.equal(seen.acked.length, RECORDS);
    const byPartition = new Map<number, number[]>();
    const partitionOfKey = new Map<string, number>();
    for (const [p, offset, key] of seen.acked) {
      byPartition.set(p, [...(byPartition.get(p) ?? []), offset]);
      assert.equal(partitionOfKey.get(key) ?? p, p, `key ${key} in two partitions`);
      partitionOfKey.set(key, p);
    }
    for (const [p, offsets] of byPartition) {
      offsets.sort((a, b) => a - b);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p} offsets`,
      );
    }

    // The copier read everything once (headers included), in a few transactions, and the
    // group's committed offsets are the input's ends: they were committed in the transactions.
    assert.equal(seen.copied, RECORDS);
    assert.equal(seen.headers_seen, RECORDS);
    assert.ok(seen.transactions >= 1);
    assert.deepEqual(seen.assignment, [
      ["ck-in", 0],
      ["ck-in", 1],
      ["ck-in", 2],
    ]);
    const ends: Record<string, number> = { "0": 0, "1": 0, "2": 0 };
    for (const [p] of seen.acked) ends[String(p)]++;
    assert.deepEqual(seen.committed_offsets, ends);

    // The zombie was fenced, fatally, by the producer that took its transactional.id.
    assert.deepEqual(seen.zombie, { name: "_FENCED", fatal: true });

    // read_committed: every copy once and the successor's record; nothing aborted, nothing
    // from the zombie. read_uncommitted also sees the aborted records.
    const expected = Array.from({ length: RECORDS }, (_, i) => `V${i}`);
    const committed = [...seen.read_committed].sort();
    assert.deepEqual(committed, [...expected, "SUCCESSOR"].sort());
    const uncommitted = seen.read_uncommitted.filter((v) => v !== "ABORTED").sort();
    assert.deepEqual(uncommitted, [...expected, "SUCCESSOR"].sort());
    assert.equal(seen.read_uncommitted.filter((v) => v === "ABORTED").length, 10);
    assert.ok(!seen.read_uncommitted.includes("ZOMBIE"));

    assert.deepEqual(seen.groups, ["ck-copier", "ck-rc", "ck-ru"]);
    assert.deepEqual(seen.grow, { "ck-in": "ok" });
    assert.equal(seen.partitions_after_grow, 5);
    assert.deepEqual(seen.delete, { "ck-in": "ok", "ck-out": "ok" });
    assert.deepEqual(seen.topics_after_delete, []);
  });
});
