/**
 * @platformatic/kafka 1.x against a real server. It is a current pure-JS Kafka client that
 * only implements the newer, flexible API versions (Metadata 9+, Fetch 12+, FindCoordinator 4+,
 * JoinGroup 6+, SyncGroup 4+, Heartbeat 4+, OffsetCommit 8+, OffsetFetch 8+, CreateTopics 7,
 * DeleteTopics 6, ...) and picks the highest version both sides have, so it exercises a
 * different slice of the protocol than kafkajs: topic ids (KIP-516), batched coordinator
 * lookups (KIP-699), batched offset fetches (KIP-709) and tagged fields everywhere.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  Admin,
  Consumer,
  type Message,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { startServer, type TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

type StringMessage = Message<string, string, string, string>;

/** Asserts that `p` rejects with a Kafka error `code` in the response the client carries along. */
function rejectsWithCode(p: Promise<unknown>, code: number): Promise<void> {
  return assert.rejects(p, (err: Error & { errors?: { response?: unknown }[] }) =>
    JSON.stringify(err.errors?.[0]?.response ?? "").includes(`"errorCode":${code}`),
  );
}

/** Reads from `stream` until `n` messages arrived or `timeoutMs` passed. */
async function take(
  stream: AsyncIterable<StringMessage> & { close(): Promise<void> },
  n: number,
  timeoutMs: number,
  onMessage?: (m: StringMessage) => Promise<void>,
): Promise<StringMessage[]> {
  const got: StringMessage[] = [];
  const timer = setTimeout(() => void stream.close(), timeoutMs);
  try {
    for await (const m of stream) {
      got.push(m);
      if (onMessage) await onMessage(m);
      if (got.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** Leaves the group and closes, even with a stream still open (TypeScript picks the callback overload of close(true)). */
function closeConsumer(c: Consumer<string, string, string, string>): Promise<void> {
  return new Promise((resolve, reject) => c.close(true, (err) => (err ? reject(err) : resolve())));
}

describe("@platformatic/kafka", { timeout: 120_000 }, () => {
  let server: TestServer;
  let bootstrapBrokers: string[];
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    server = await startServer();
    bootstrapBrokers = [server.kafkaAddress];
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await server?.stop();
  });

  function admin(): Admin {
    const a = new Admin({ clientId: "pk-admin", bootstrapBrokers });
    closers.push(() => a.close());
    return a;
  }

  /** A group member with string (de)serializers, closed after the suite if a test did not. */
  function member(
    clientId: string,
    groupId: string,
    isolationLevel?: number,
  ): Consumer<string, string, string, string> {
    const c = new Consumer({
      clientId,
      groupId,
      bootstrapBrokers,
      deserializers: stringDeserializers,
      maxWaitTime: 300,
      ...(isolationLevel === undefined ? {} : { isolationLevel }),
    });
    closers.push(() => closeConsumer(c));
    return c;
  }

  /** Consumes `topic` from the group's committed offsets (the earliest where none), committing by hand. */
  function fromCommitted(c: Consumer<string, string, string, string>, topic: string) {
    return c.consume({
      topics: [topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: "earliest",
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
  }

  it("admin: creates topics with ids, lists, describes and deletes them", async () => {
    const a = admin();
    const created = await a.createTopics({
      topics: ["pk-admin-a", "pk-admin-b"],
      partitions: 3,
      replicas: 1,
      configs: [{ name: "retention.ms", value: "3600000" }],
    });
    assert.equal(created.length, 2);
    for (const t of created) {
      assert.equal(t.partitions, 3);
      assert.equal(t.replicas, 1);
      // The client shows topic ids as canonical UUIDs; a real id is never the zero id.
      assert.match(t.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.notEqual(t.id, "00000000-0000-0000-0000-000000000000");
      assert.equal(t.configuration["retention.ms"], "3600000");
    }
    assert.notEqual(created[0]!.id, created[1]!.id);

    const topics = await a.listTopics();
    assert.ok(topics.includes("pk-admin-a") && topics.includes("pk-admin-b"), String(topics));

    // The id Metadata reports is the one CreateTopics returned.
    const meta = await a.metadata({ topics: ["pk-admin-a"] });
    const described = meta.topics.get("pk-admin-a");
    assert.ok(described);
    assert.equal(described.id, created.find((t) => t.name === "pk-admin-a")!.id);
    assert.equal(described.partitionsCount, 3);

    await assert.rejects(a.createTopics({ topics: ["pk-admin-a"], partitions: 1, replicas: 1 }));

    await a.deleteTopics({ topics: ["pk-admin-a"] });
    const after = await a.listTopics();
    assert.ok(!after.includes("pk-admin-a"), String(after));
    assert.ok(after.includes("pk-admin-b"), String(after));
  });

  it("produces keyed records with headers across partitions; a group consumes, commits and resumes", async () => {
    const topic = "pk-orders";
    const groupId = "pk-orders-group";
    await admin().createTopics({ topics: [topic], partitions: 4, replicas: 1 });

    const producer = new Producer({
      clientId: "pk-producer",
      bootstrapBrokers,
      serializers: stringSerializers,
      acks: -1,
    });
    closers.push(() => producer.close());
    const N = 200;
    const sent = Array.from({ length: N }, (_, i) => ({
      topic,
      key: `k${i % 10}`,
      value: `v${i}`,
      headers: { seq: String(i) },
    }));
    for (let i = 0; i < N; i += 50) await producer.send({ messages: sent.slice(i, i + 50) });

    // First member reads 120, committing each, then leaves.
    const first = member("pk-consumer-1", groupId);
    const s1 = await fromCommitted(first, topic);
    const got1 = await take(s1, 120, 30_000, (m) => m.commit() as Promise<void>);
    await s1.close();
    await closeConsumer(first);
    assert.equal(got1.length, 120);

    // Every record keeps its key, value and header, and one key always lands in one partition.
    const partitionOfKey = new Map<string, number>();
    for (const m of got1) {
      const i = Number(m.value.slice(1));
      assert.equal(m.key, `k${i % 10}`);
      assert.equal(m.headers.get("seq"), String(i));
      const p = partitionOfKey.get(m.key);
      if (p !== undefined) assert.equal(m.partition, p, `key ${m.key} in two partitions`);
      partitionOfKey.set(m.key, m.partition);
    }

    // The group's committed offsets are what the first member committed (OffsetFetch).
    const offsets = await admin().listConsumerGroupOffsets({ groups: [groupId] });
    const committed = offsets[0]!.topics.find((t) => t.name === topic)!.partitions;
    const expected = new Map<number, bigint>();
    for (const m of got1) {
      const next = m.offset + 1n;
      if ((expected.get(m.partition) ?? 0n) < next) expected.set(m.partition, next);
    }
    for (const [partition, offset] of expected) {
      const c = committed.find((p) => p.partitionIndex === partition);
      assert.equal(c?.committedOffset, offset, `partition ${partition}`);
    }

    // A second member of the same group resumes after the commits: exactly the other 80.
    const second = member("pk-consumer-2", groupId);
    const s2 = await fromCommitted(second, topic);
    const got2 = await take(s2, N - 120, 30_000);
    await s2.close();
    await closeConsumer(second);
    const all = [...got1, ...got2].map((m) => m.value).sort();
    assert.deepEqual(all, sent.map((m) => m.value).sort());
  });

  it("two members split the partitions, consume each record once, and rebalance when one leaves", async () => {
    const topic = "pk-split";
    const groupId = "pk-split-group";
    await admin().createTopics({ topics: [topic], partitions: 4, replicas: 1 });
    const members = ["pk-member-a", "pk-member-b"].map((clientId) => member(clientId, groupId));
    const streams = await Promise.all(
      members.map((c) =>
        c.consume({
          topics: [topic],
          mode: MessagesStreamModes.EARLIEST,
          autocommit: false,
          sessionTimeout: 10_000,
          rebalanceTimeout: 10_000,
          heartbeatInterval: 300,
        }),
      ),
    );
    const owned = (c: Consumer<string, string, string, string>) =>
      (c.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions);
    const split = () => {
      const [a, b] = members.map(owned);
      return (
        a!.length > 0 && b!.length > 0 && new Set([...a!, ...b!]).size === 4 && a!.length + b!.length === 4
      );
    };
    await waitFor(split, 30_000, () => `a split of 4 partitions: ${JSON.stringify(members.map(owned))}`);

    const seen: { member: number; partition: number; value: string }[] = [];
    for (const [member, stream] of streams.entries()) {
      stream.on("data", (m: StringMessage) => {
        seen.push({ member, partition: m.partition, value: m.value });
      });
    }
    const producer = new Producer({
      clientId: "pk-split-producer",
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    closers.push(() => producer.close());
    const N = 100;
    await producer.send({
      messages: Array.from({ length: N }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })),
    });
    await waitFor(
      () => seen.length >= N,
      30_000,
      () => `${N} records, got ${seen.length}`,
    );
    assert.equal(new Set(seen.map((x) => x.value)).size, N, "each record once");
    assert.ok(
      new Set(seen.map((x) => x.member)).size === 2,
      "both members received records from their own partitions",
    );
    for (const x of seen) assert.ok(owned(members[x.member]!).includes(x.partition));

    // Member b leaves: a is assigned every partition.
    await streams[1]!.close();
    await closeConsumer(members[1]!);
    await waitFor(
      () => owned(members[0]!).length === 4,
      30_000,
      () => `member a owning 4 partitions: ${JSON.stringify(owned(members[0]!))}`,
    );
    await streams[0]!.close();
  });

  it("admin: partitions, configs, records, groups and their offsets", async () => {
    const a = admin();
    await a.createTopics({ topics: ["pk-ops", "pk-ops-other"], partitions: 2, replicas: 1 });
    const producer = new Producer({
      clientId: "pk-ops-producer",
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    closers.push(() => producer.close());
    await producer.send({
      messages: Array.from({ length: 10 }, (_, i) => ({ topic: "pk-ops", value: `v${i}`, partition: 0 })),
    });

    await a.createPartitions({ topics: [{ name: "pk-ops", count: 3 }] });
    const meta = await a.metadata({ topics: ["pk-ops"], forceUpdate: true });
    assert.equal(meta.topics.get("pk-ops")?.partitionsCount, 3);

    await a.incrementalAlterConfigs({
      resources: [
        {
          resourceType: 2,
          resourceName: "pk-ops",
          configs: [{ name: "retention.ms", configOperation: 0, value: "1000000" }],
        },
      ],
    });
    const [described] = await a.describeConfigs({
      resources: [{ resourceType: 2, resourceName: "pk-ops", configurationKeys: ["retention.ms"] }],
    });
    assert.deepEqual(
      described!.configs.map((c) => [c.name, c.value, c.configSource]),
      [["retention.ms", "1000000", 1]],
    );

    const [deleted] = await a.deleteRecords({
      topics: [{ name: "pk-ops", partitions: [{ partition: 0, offset: 4n }] }],
    });
    assert.equal(deleted!.partitions[0]!.lowWatermark, 4n);

    // A live member: the group is listed as Stable, described with its assignment, and its
    // offsets of the topic it reads cannot be deleted (GROUP_SUBSCRIBED_TO_TOPIC), unlike others.
    const groupId = "pk-ops-group";
    const consumer = member("pk-ops-consumer", groupId);
    const stream = await consumer.consume({
      topics: ["pk-ops"],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
    });
    const got = await take(stream, 6, 20_000, (m) => m.commit() as Promise<void>);
    assert.deepEqual(
      got.map((m) => [m.partition, m.offset]),
      [4n, 5n, 6n, 7n, 8n, 9n].map((o) => [0, o]),
      "reading starts at the new log start",
    );
    const stable = await a.listGroups({ states: ["STABLE"] });
    assert.ok(stable.has(groupId), JSON.stringify([...stable.keys()]));
    const group = (await a.describeGroups({ groups: [groupId] })).get(groupId);
    assert.equal(group?.state, "STABLE");
    assert.equal(group?.members.size, 1);
    const coordinators = await a.findCoordinator({ keyType: 0, keys: [groupId, "pk-other-group"] });
    assert.deepEqual(
      coordinators.map((c) => [c.key, c.port]),
      [
        [groupId, server.kafkaPort],
        ["pk-other-group", server.kafkaPort],
      ],
    );
    await rejectsWithCode(
      a.deleteConsumerGroupOffsets({ groupId, topics: [{ name: "pk-ops", partitionIndexes: [0] }] }),
      86,
    );
    await stream.close();
    await closeConsumer(consumer);

    // Once the group is empty, its offsets can be set, listed and deleted, then the group goes.
    await a.alterConsumerGroupOffsets({
      groupId,
      topics: [{ name: "pk-ops-other", partitionOffsets: [{ partition: 1, offset: 0n }] }],
    });
    const offsets = async () =>
      (await a.listConsumerGroupOffsets({ groups: [groupId] }))[0]!.topics.flatMap((t) =>
        t.partitions.map((p) => `${t.name}/${p.partitionIndex}@${p.committedOffset}`),
      );
    assert.deepEqual((await offsets()).sort(), ["pk-ops-other/1@0", "pk-ops/0@10"]);
    await a.deleteConsumerGroupOffsets({ groupId, topics: [{ name: "pk-ops", partitionIndexes: [0] }] });
    assert.deepEqual(await offsets(), ["pk-ops-other/1@0"]);
    await a.deleteGroups({ groups: [groupId] });
    assert.ok(!(await a.listGroups()).has(groupId));
    await rejectsWithCode(
      a.deleteConsumerGroupOffsets({ groupId, topics: [{ name: "pk-ops", partitionIndexes: [0] }] }),
      69,
    );
  });

  it("transactions: a read_committed consumer sees committed records and never aborted ones", async () => {
    const topic = "pk-txn";
    await admin().createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    const producer = new Producer({
      clientId: "pk-txn-producer",
      bootstrapBrokers,
      serializers: stringSerializers,
      idempotent: true,
      transactionalId: "pk-txn-1",
    });
    closers.push(() => producer.close());

    const aborted = await producer.beginTransaction();
    await aborted.send({
      messages: [
        { topic, key: "a", value: "aborted-1" },
        { topic, key: "b", value: "aborted-2" },
      ],
    });
    await aborted.abort();
    const committed = await producer.beginTransaction();
    await committed.send({
      messages: [
        { topic, key: "a", value: "committed-1" },
        { topic, key: "b", value: "committed-2" },
      ],
    });
    await committed.commit();

    const consumer = member("pk-txn-consumer", "pk-txn-group", 1); // read_committed
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
    });
    // Ask for more than can come: the stream is closed by the timeout, so a stray aborted
    // record would be seen too.
    const got = await take(stream, 3, 4000);
    await stream.close();
    assert.deepEqual(got.map((m) => m.value).sort(), ["committed-1", "committed-2"]);
  });
});
