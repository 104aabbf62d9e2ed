/**
 * kafka-python (Debian's python3-kafka 2.0.2, installed by .ci/run) against a real server:
 * admin create/list/delete, keyed records with headers (plain and gzip), a consumer group that
 * commits, and a second member that resumes after the commit. The scenario runs in
 * test/fixtures/kafka_python_client.py; this file makes the assertions.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runPythonFixture } from "./helpers/python-fixture.js";
import { startServer, type TestServer } from "./helpers/server.js";

interface PyRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: [string, string][];
}

interface Seen {
  inferred_broker_version: number[];
  topics: string[];
  first: PyRecord[];
  committed: { [partition: string]: number };
  second: PyRecord[];
  groups: [string, string][];
  group_offsets: { [tp: string]: number };
  end_offsets: { [partition: string]: number };
  topics_after_delete: string[];
}

describe("kafka-python", { timeout: 120_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.dispose();
  });

  it("admin, keyed records with headers (plain and gzip), a group that commits and resumes", async () => {
    const seen = await runPythonFixture<Seen>(
      "kafka_python_client.py",
      [server.kafkaAddress],
      100_000,
      "python3-kafka",
    );

    // kafka-python infers a broker version from ApiVersions and picks its request versions
    // from it; 2.4 means Produce v7+ with record batches v2 (KIP-98 era and later).
    assert.deepEqual(seen.inferred_broker_version, [2, 4, 0]);
    assert.deepEqual(seen.topics, ["py-orders"]);

    // The first member got all 60 records once, intact, and one key always in one partition.
    const values = seen.first.map((r) => Number(r.value.slice(1))).sort((a, b) => a - b);
    assert.deepEqual(
      values,
      Array.from({ length: 60 }, (_, i) => i),
    );
    const partitionOfKey = new Map<string, number>();
    for (const r of seen.first) {
      const i = Number(r.value.slice(1));
      assert.equal(r.key, `k${i % 5}`);
      assert.deepEqual(r.headers, [["seq", String(i)]]);
      const p = partitionOfKey.get(r.key);
      if (p !== undefined) assert.equal(r.partition, p, `key ${r.key} in two partitions`);
      partitionOfKey.set(r.key, r.partition);
    }
    // Offsets are dense per partition, from 0.
    for (const p of new Set(seen.first.map((r) => r.partition))) {
      const offsets = seen.first.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
      );
    }

    // Its commit is what the group holds, and the second member read exactly the 10 new ones.
    const counts = new Map<number, number>();
    for (const r of seen.first) counts.set(r.partition, (counts.get(r.partition) ?? 0) + 1);
    for (const [p, n] of counts) assert.equal(seen.committed[String(p)], n, `partition ${p}`);
    assert.deepEqual(
      seen.second.map((r) => r.value).sort(),
      Array.from({ length: 10 }, (_, i) => `v${60 + i}`).sort(),
    );
    assert.deepEqual(seen.groups, [["py-group", "consumer"]]);
    const total = Object.values(seen.end_offsets).reduce((a, b) => a + b, 0);
    assert.equal(total, 70);
    for (const [p, end] of Object.entries(seen.end_offsets)) {
      assert.equal(seen.group_offsets[`py-orders/${p}`] ?? 0, end, `group offset of partition ${p}`);
    }
    assert.deepEqual(seen.topics_after_delete, []);
  });
});
