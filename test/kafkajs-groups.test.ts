/**
 * Consumer groups with kafkajs against a real server: three members split six partitions,
 * the survivors rebalance when one leaves and consume new messages exactly once, and the
 * group admin APIs (describeGroups, listGroups, deleteGroups) see the same group.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin, type Consumer, type Kafka, type Producer } from "kafkajs";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

const { AssignerProtocol } = kafkajs;

interface Member {
  name: string;
  consumer: Consumer;
  memberId: string | null;
  /** Partitions of the topic from this member's latest GROUP_JOIN. */
  assignment: number[] | null;
  joins: number;
  got: { partition: number; offset: number; value: string }[];
}

/** The members' latest assignments if they cover all `n` partitions without overlap. */
function coverage(members: Member[], n: number): string | null {
  const all = members.flatMap((m) => m.assignment ?? []);
  if (members.some((m) => m.assignment === null)) return "a member has not joined";
  if (new Set(all).size !== all.length) return `overlap: ${assignments(members)}`;
  if (all.length !== n) return `not all partitions assigned: ${assignments(members)}`;
  return null;
}

function assignments(members: Member[]): string {
  return members.map((m) => `${m.name}=${JSON.stringify(m.assignment)}`).join(" ");
}

describe("kafkajs consumer groups", { timeout: 120_000 }, () => {
  let server: TestServer;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const members: Member[] = [];
  const topic = "groups-six";
  const groupId = "groups-six-group";

  function member(name: string): Member {
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 300,
    });
    const m: Member = { name, consumer, memberId: null, assignment: null, joins: 0, got: [] };
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      m.memberId = e.payload.memberId;
      m.assignment = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      m.joins++;
    });
    members.push(m);
    return m;
  }

  async function runMember(m: Member): Promise<void> {
    await m.consumer.connect();
    await m.consumer.subscribe({ topics: [topic], fromBeginning: true });
    await m.consumer.run({
      eachMessage: async ({ partition, message }) => {
        m.got.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
  }

  before(async () => {
    server = await startServer();
    kafka = kafkaClient(server.kafkaAddress);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
  });

  after(async () => {
    for (const m of members) await m.consumer.disconnect().catch(() => {});
    await producer?.disconnect();
    await admin?.disconnect();
    await server?.dispose();
  });

  it("three members split six partitions; two survivors rebalance and consume exactly once", async () => {
    const [a, b, c] = [member("a"), member("b"), member("c")];
    await Promise.all([runMember(a), runMember(b), runMember(c)]);
    await waitFor(
      () => coverage([a, b, c], 6) === null,
      60_000,
      () => `three-way split: ${coverage([a, b, c], 6)}`,
    );
    for (const m of [a, b, c]) assert.equal(m.assignment!.length, 2, `${m.name} has ${m.assignment}`);
    assert.equal(new Set([a.memberId, b.memberId, c.memberId]).size, 3);

    // The coordinator's view agrees: three members, the assignment each was sent.
    const described = await admin.describeGroups([groupId]);
    assert.equal(described.groups.length, 1);
    const g = described.groups[0];
    assert.equal(g.groupId, groupId);
    assert.equal(g.state, "Stable");
    assert.equal(g.protocolType, "consumer");
    assert.deepEqual(g.members.map((x) => x.memberId).sort(), [a.memberId, b.memberId, c.memberId].sort());
    for (const x of g.members) {
      const decoded = AssignerProtocol.MemberAssignment.decode(x.memberAssignment);
      const mine = [a, b, c].find((m) => m.memberId === x.memberId)!;
      assert.deepEqual([...(decoded?.assignment[topic] ?? [])].sort(), mine.assignment);
    }
    const listed = await admin.listGroups();
    assert.ok(
      listed.groups.some((x) => x.groupId === groupId && x.protocolType === "consumer"),
      JSON.stringify(listed),
    );

    // A live group cannot be deleted.
    await assert.rejects(admin.deleteGroups([groupId]), (err) => {
      const e = err as { name: string; groups?: { groupId: string; error?: { type?: string } }[] };
      assert.equal(e.name, "KafkaJSDeleteGroupsError");
      assert.equal(e.groups?.[0]?.groupId, groupId);
      assert.equal(e.groups?.[0]?.error?.type, "NON_EMPTY_GROUP");
      return true;
    });

    // c leaves; a and b take over all six partitions.
    const joinsBefore = { a: a.joins, b: b.joins };
    await c.consumer.disconnect();
    await waitFor(
      () => a.joins > joinsBefore.a && b.joins > joinsBefore.b && coverage([a, b], 6) === null,
      60_000,
      () => `two-way split after c left: ${coverage([a, b], 6)}`,
    );
    for (const m of [a, b]) assert.equal(m.assignment!.length, 3, `${m.name} has ${m.assignment}`);
    const after2 = await admin.describeGroups([groupId]);
    assert.deepEqual(after2.groups[0].members.map((x) => x.memberId).sort(), [a.memberId, b.memberId].sort());

    // Messages produced now are consumed exactly once by a or b.
    const values = Array.from({ length: 120 }, (_, i) => `after-rebalance-${i}`);
    await producer.send({
      topic,
      acks: -1,
      messages: values.map((value, i) => ({ value, partition: i % 6 })),
    });
    const total = () => a.got.length + b.got.length;
    await waitFor(
      () => total() >= values.length,
      30_000,
      () => `${values.length} messages, got ${total()}`,
    );
    assert.equal(c.got.length, 0);
    const all = [...a.got, ...b.got];
    assert.deepEqual(all.map((x) => x.value).sort(), [...values].sort());
    for (const x of a.got) assert.ok(a.assignment!.includes(x.partition), `a got partition ${x.partition}`);
    for (const x of b.got) assert.ok(b.assignment!.includes(x.partition), `b got partition ${x.partition}`);
    for (let p = 0; p < 6; p++) {
      const offs = all.filter((x) => x.partition === p).map((x) => x.offset);
      assert.deepEqual(offs, [...Array(20).keys()], `partition ${p}`);
    }

    // Once everyone leaves the group can be deleted, taking its committed offsets with it.
    await a.consumer.disconnect();
    await b.consumer.disconnect();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(Object.fromEntries(committed[0].partitions.map((p) => [p.partition, p.offset])), {
      0: "20",
      1: "20",
      2: "20",
      3: "20",
      4: "20",
      5: "20",
    });
    const empty = await admin.describeGroups([groupId]);
    assert.equal(empty.groups[0].state, "Empty");
    assert.equal(empty.groups[0].members.length, 0);
    const res = await admin.deleteGroups([groupId]);
    assert.deepEqual(
      res.map((r) => [r.groupId, r.errorCode]),
      [[groupId, 0]],
    );
    const listedAfter = await admin.listGroups();
    assert.ok(!listedAfter.groups.some((x) => x.groupId === groupId), JSON.stringify(listedAfter));
    const offsetsAfter = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(Object.fromEntries(offsetsAfter[0].partitions.map((p) => [p.partition, p.offset])), {
      0: "-1",
      1: "-1",
      2: "-1",
      3: "-1",
      4: "-1",
      5: "-1",
    });
  });
});
