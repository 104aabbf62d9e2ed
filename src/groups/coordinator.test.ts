import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GroupCoordinator,
  GroupError,
  type JoinRequest,
  type JoinResult,
  type SyncResult,
} from "./coordinator.js";
import { FakeClock } from "./fake-clock.js";

const SESSION = 10_000;
const REBALANCE = 30_000;

/** Let settled promises run their continuations. */
const flush = () => new Promise<void>((r) => setImmediate(r));

interface Tracked<T> {
  settled: boolean;
  value: T | undefined;
  promise: Promise<T>;
}

function track<T>(promise: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { settled: false, value: undefined, promise };
  promise.then((v) => {
    t.settled = true;
    t.value = v;
  });
  return t;
}

function setup(opts: { initialRebalanceDelayMs?: number; groupMaxSize?: number; groupsMax?: number } = {}) {
  const clock = new FakeClock(1_000_000);
  const emptied: string[] = [];
  const gc = new GroupCoordinator({
    clock,
    initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? 0,
    groupMaxSize: opts.groupMaxSize,
    groupsMax: opts.groupsMax,
    onEmpty: (g) => emptied.push(g),
  });
  return { clock, gc, emptied };
}

const meta = (s: string) => Buffer.from(s);

function jr(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: "g",
    memberId: "",
    groupInstanceId: null,
    clientId: "client",
    clientHost: "/127.0.0.1",
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: meta("m") }],
    requireKnownMemberId: false,
    ...over,
  };
}

function ok(r: JoinResult | SyncResult | undefined): void {
  assert.ok(r, "settled");
  assert.equal(r.errorCode, GroupError.NONE);
}

/** Join `n` dynamic members at once (no initial delay) and complete a generation; returns their ids. */
async function stableGroup(gc: GroupCoordinator, n: number, groupId = "g") {
  const first = await gc.join(jr({ groupId, clientId: "c0" }));
  ok(first);
  const ids = [first.memberId];
  // Members 1..n-1 join the Stable group: rebalance; then everybody rejoins.
  const joins: Promise<JoinResult>[] = [];
  for (let i = 1; i < n; i++) joins.push(gc.join(jr({ groupId, clientId: `c${i}` })));
  if (n > 1) joins.push(gc.join(jr({ groupId, memberId: first.memberId, clientId: "c0" })));
  const results = n > 1 ? await Promise.all(joins) : [first];
  for (const r of results) ok(r);
  for (const r of results) if (!ids.includes(r.memberId)) ids.push(r.memberId);
  const leaderResult = results.find((r) => r.members.length > 0)!;
  const generationId = leaderResult.generationId;
  const syncs = results.map((r) =>
    gc.sync({
      groupId,
      generationId,
      memberId: r.memberId,
      groupInstanceId: null,
      assignments: r.members.map((m) => ({ memberId: m.memberId, assignment: meta(`a-${m.memberId}`) })),
    }),
  );
  for (const s of await Promise.all(syncs)) ok(s);
  return { ids, generationId, leader: leaderResult.leader };
}

describe("GroupCoordinator", () => {
  it("single member: join, sync, heartbeat, describe, list", async () => {
    const { gc } = setup();
    const j = await gc.join(jr({ clientId: "kafkajs" }));
    ok(j);
    assert.match(j.memberId, /^kafkajs-[0-9a-f-]{36}$/);
    assert.equal(j.generationId, 1);
    assert.equal(j.leader, j.memberId);
    assert.equal(j.protocolName, "range");
    assert.deepEqual(j.members, [{ memberId: j.memberId, groupInstanceId: null, metadata: meta("m") }]);
    assert.equal(gc.describe("g").state, "CompletingRebalance");
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId: 1, memberId: j.memberId, groupInstanceId: null }).errorCode,
      0,
    );

    const s = await gc.sync({
      groupId: "g",
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      assignments: [{ memberId: j.memberId, assignment: meta("all") }],
    });
    ok(s);
    assert.deepEqual(s.assignment, meta("all"));
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId: 1, memberId: j.memberId, groupInstanceId: null }).errorCode,
      0,
    );

    const d = gc.describe("g");
    assert.equal(d.state, "Stable");
    assert.equal(d.protocolType, "consumer");
    assert.equal(d.protocolData, "range");
    assert.deepEqual(d.members, [
      {
        memberId: j.memberId,
        groupInstanceId: null,
        clientId: "kafkajs",
        clientHost: "/127.0.0.1",
        metadata: meta("m"),
        assignment: meta("all"),
      },
    ]);
    assert.deepEqual(gc.list(), [{ groupId: "g", protocolType: "consumer", state: "Stable" }]);
    assert.deepEqual(gc.describe("nope"), {
      errorCode: 0,
      groupId: "nope",
      state: "Dead",
      protocolType: "",
      protocolData: "",
      members: [],
    });
  });

  it("three members within the initial delay form one generation; leader assigns; followers wait for it", async () => {
    const { clock, gc } = setup({ initialRebalanceDelayMs: 250 });
    const a = track(gc.join(jr({ clientId: "a" })));
    clock.advance(100);
    const b = track(gc.join(jr({ clientId: "b" })));
    clock.advance(100);
    const c = track(gc.join(jr({ clientId: "c" })));
    await flush();
    assert.equal(gc.describe("g").state, "PreparingRebalance");
    // First step ends at 250 but new members arrived: extended by another 250.
    clock.advance(100);
    await flush();
    assert.ok(!a.settled && !b.settled && !c.settled);
    clock.advance(300);
    await flush();
    for (const t of [a, b, c]) ok(t.value);
    const [ra, rb, rc] = [a.value!, b.value!, c.value!];
    assert.equal(ra.generationId, 1);
    assert.equal(rb.generationId, 1);
    assert.equal(ra.leader, ra.memberId, "first member leads");
    assert.equal(rb.leader, ra.memberId);
    assert.equal(rc.leader, ra.memberId);
    assert.equal(ra.members.length, 3);
    assert.deepEqual(rb.members, []);
    assert.deepEqual(rc.members, []);

    const sb = track(
      gc.sync({
        groupId: "g",
        generationId: 1,
        memberId: rb.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    const sc = track(
      gc.sync({
        groupId: "g",
        generationId: 1,
        memberId: rc.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    await flush();
    assert.ok(!sb.settled && !sc.settled, "followers wait for the leader");
    const sa = await gc.sync({
      groupId: "g",
      generationId: 1,
      memberId: ra.memberId,
      groupInstanceId: null,
      assignments: ra.members.map((m) => ({ memberId: m.memberId, assignment: meta(`p-${m.memberId}`) })),
    });
    await flush();
    ok(sa);
    assert.deepEqual(sa.assignment, meta(`p-${ra.memberId}`));
    assert.deepEqual(sb.value?.assignment, meta(`p-${rb.memberId}`));
    assert.deepEqual(sc.value?.assignment, meta(`p-${rc.memberId}`));
    assert.equal(gc.describe("g").state, "Stable");
  });

  it("a member leaves: others get REBALANCE_IN_PROGRESS, rejoin, generation + 1", async () => {
    const { gc } = setup();
    const { ids, generationId } = await stableGroup(gc, 3);
    const [a, b, c] = ids as [string, string, string];
    const left = gc.leave({ groupId: "g", members: [{ memberId: c, groupInstanceId: null }] });
    assert.deepEqual(left, { errorCode: 0, members: [{ memberId: c, groupInstanceId: null, errorCode: 0 }] });
    assert.equal(gc.describe("g").state, "PreparingRebalance");
    for (const id of [a, b]) {
      const hb = gc.heartbeat({ groupId: "g", generationId, memberId: id, groupInstanceId: null });
      assert.equal(hb.errorCode, GroupError.REBALANCE_IN_PROGRESS);
    }
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId, memberId: c, groupInstanceId: null }).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
    const ja = track(gc.join(jr({ memberId: a })));
    await flush();
    assert.ok(!ja.settled, "waits for b");
    const jb = await gc.join(jr({ memberId: b }));
    await flush();
    ok(ja.value);
    ok(jb);
    assert.equal(jb.generationId, generationId + 1);
    assert.equal(ja.value!.leader, a);
    assert.deepEqual(
      ja.value!.members.map((m) => m.memberId),
      [a, b],
    );
    // Leaving twice / unknown member.
    assert.equal(
      gc.leave({ groupId: "g", members: [{ memberId: c, groupInstanceId: null }] }).members[0]!.errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
    assert.equal(
      gc.leave({ groupId: "other", members: [{ memberId: c, groupInstanceId: null }] }).members[0]!.errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
  });

  it("leader leaves: a remaining member becomes leader of the next generation", async () => {
    const { gc } = setup();
    const { ids, leader } = await stableGroup(gc, 2);
    const other = ids.find((i) => i !== leader)!;
    gc.leave({ groupId: "g", members: [{ memberId: leader, groupInstanceId: null }] });
    const j = await gc.join(jr({ memberId: other }));
    ok(j);
    assert.equal(j.leader, other);
    assert.equal(j.members.length, 1);
  });

  it("session expiry removes a silent member and rebalances the rest; last one leaves the group Empty", async () => {
    const { clock, gc, emptied } = setup();
    const { ids, generationId, leader } = await stableGroup(gc, 2);
    const silent = ids.find((i) => i !== leader)!;
    for (let t = 0; t < SESSION + 1000; t += 3000) {
      clock.advance(3000);
      const hb = gc.heartbeat({ groupId: "g", generationId, memberId: leader, groupInstanceId: null });
      if (t + 3000 <= SESSION) assert.equal(hb.errorCode, GroupError.NONE);
    }
    assert.equal(gc.describe("g").members.length, 1);
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId, memberId: leader, groupInstanceId: null }).errorCode,
      GroupError.REBALANCE_IN_PROGRESS,
    );
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId, memberId: silent, groupInstanceId: null }).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
    const j = await gc.join(jr({ memberId: leader }));
    ok(j);
    assert.equal(j.generationId, generationId + 1);
    ok(
      await gc.sync({
        groupId: "g",
        generationId: j.generationId,
        memberId: leader,
        groupInstanceId: null,
        assignments: [{ memberId: leader, assignment: meta("x") }],
      }),
    );
    clock.advance(SESSION);
    await flush();
    const d = gc.describe("g");
    assert.equal(d.state, "Empty");
    assert.deepEqual(d.members, []);
    assert.deepEqual(emptied, ["g"]);
    assert.equal(clock.pending, 0, "no timers left for an Empty group");
  });

  it("rebalance timeout removes members that do not rejoin and completes the pending joins", async () => {
    const { clock, gc } = setup();
    const { ids, generationId } = await stableGroup(gc, 2);
    const [a, b] = ids as [string, string];
    const c = track(gc.join(jr({ clientId: "c" })));
    const ja = track(gc.join(jr({ memberId: a })));
    // b keeps heartbeating (REBALANCE_IN_PROGRESS) but never rejoins.
    for (let t = 0; t < REBALANCE; t += 3000) {
      clock.advance(3000);
      await flush();
      if (!c.settled) {
        assert.equal(
          gc.heartbeat({ groupId: "g", generationId, memberId: b, groupInstanceId: null }).errorCode,
          GroupError.REBALANCE_IN_PROGRESS,
        );
      }
    }
    ok(c.value);
    ok(ja.value);
    assert.equal(ja.value!.generationId, generationId + 1);
    assert.deepEqual(ja.value!.members.map((m) => m.memberId).sort(), [a, c.value!.memberId].sort());
    assert.equal(
      gc.heartbeat({ groupId: "g", generationId, memberId: b, groupInstanceId: null }).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
  });

  it("KIP-394: MEMBER_ID_REQUIRED hands out an id that the rejoin must use; unused ids expire", async () => {
    const { clock, gc } = setup();
    const first = await gc.join(jr({ clientId: "rd", requireKnownMemberId: true }));
    assert.equal(first.errorCode, GroupError.MEMBER_ID_REQUIRED);
    assert.match(first.memberId, /^rd-/);
    assert.equal(gc.describe("g").state, "Empty");
    const second = await gc.join(
      jr({ clientId: "rd", memberId: first.memberId, requireKnownMemberId: true }),
    );
    ok(second);
    assert.equal(second.memberId, first.memberId);
    assert.equal(second.generationId, 1);

    // A made-up id is refused.
    const bogus = await gc.join(jr({ memberId: "rd-made-up", requireKnownMemberId: true }));
    assert.equal(bogus.errorCode, GroupError.UNKNOWN_MEMBER_ID);
    // Unknown group + known id: UNKNOWN_MEMBER_ID (the group is not created).
    assert.equal(
      (await gc.join(jr({ groupId: "h", memberId: "x" }))).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
    assert.equal(gc.describe("h").state, "Dead");

    // An id handed out but never used expires after the session timeout.
    const pending = await gc.join(jr({ groupId: "k", requireKnownMemberId: true }));
    assert.equal(pending.errorCode, GroupError.MEMBER_ID_REQUIRED);
    clock.advance(SESSION + 1);
    const late = await gc.join(jr({ groupId: "k", memberId: pending.memberId, requireKnownMemberId: true }));
    assert.equal(late.errorCode, GroupError.UNKNOWN_MEMBER_ID);

    // A pending id holds the join round until it rejoins (Kafka's hasAllMembersJoined).
    const p2 = await gc.join(jr({ groupId: "k2", requireKnownMemberId: true }));
    const direct = track(gc.join(jr({ groupId: "k2" })));
    await flush();
    assert.ok(!direct.settled);
    const p2join = await gc.join(jr({ groupId: "k2", memberId: p2.memberId, requireKnownMemberId: true }));
    await flush();
    ok(p2join);
    ok(direct.value);
    assert.equal(p2join.generationId, 1);
  });

  it("illegal generation, unknown member, sync during PreparingRebalance", async () => {
    const { gc } = setup();
    const { ids, generationId } = await stableGroup(gc, 1);
    const a = ids[0]!;
    const hb = (memberId: string, gen: number) =>
      gc.heartbeat({ groupId: "g", generationId: gen, memberId, groupInstanceId: null }).errorCode;
    const sync = (memberId: string, gen: number, groupId = "g") =>
      gc.sync({ groupId, generationId: gen, memberId, groupInstanceId: null, assignments: [] });
    assert.equal(hb(a, generationId + 5), GroupError.ILLEGAL_GENERATION);
    assert.equal(hb("nobody", generationId), GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(
      gc.heartbeat({ groupId: "none", generationId, memberId: a, groupInstanceId: null }).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
    );
    assert.equal((await sync(a, generationId - 1)).errorCode, GroupError.ILLEGAL_GENERATION);
    assert.equal((await sync("nobody", generationId)).errorCode, GroupError.UNKNOWN_MEMBER_ID);
    assert.equal((await sync(a, generationId, "none")).errorCode, GroupError.UNKNOWN_MEMBER_ID);
    // Stable sync just returns the current assignment again.
    const again = await sync(a, generationId);
    ok(again);
    assert.deepEqual(again.assignment, meta(`a-${a}`));
    // A new member makes the group PreparingRebalance.
    const b = track(gc.join(jr({ clientId: "b" })));
    assert.equal((await sync(a, generationId)).errorCode, GroupError.REBALANCE_IN_PROGRESS);
    assert.equal(hb(a, generationId), GroupError.REBALANCE_IN_PROGRESS);
    const ja = await gc.join(jr({ memberId: a }));
    await flush();
    ok(ja);
    ok(b.value);
    // CompletingRebalance: heartbeat NONE, sync with the old generation is illegal.
    assert.equal(hb(a, ja.generationId), GroupError.NONE);
    assert.equal(hb(a, generationId), GroupError.ILLEGAL_GENERATION);
    assert.equal((await sync(a, generationId)).errorCode, GroupError.ILLEGAL_GENERATION);
  });

  it("INCONSISTENT_GROUP_PROTOCOL and protocol selection", async () => {
    const { gc } = setup();
    const bad = await gc.join(jr({ protocols: [] }));
    assert.equal(bad.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await gc.join(jr({ protocolType: "" }))).errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(gc.describe("g").state, "Dead", "no group created for a malformed join");

    const a = await gc.join(
      jr({
        clientId: "a",
        protocols: [
          { name: "roundrobin", metadata: meta("a-rr") },
          { name: "range", metadata: meta("a-r") },
        ],
      }),
    );
    ok(a);
    assert.equal(a.protocolName, "roundrobin");
    const wrongType = await gc.join(jr({ protocolType: "connect" }));
    assert.equal(wrongType.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
    const noCommon = await gc.join(jr({ protocols: [{ name: "sticky", metadata: meta("") }] }));
    assert.equal(noCommon.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);

    // Two members prefer range, the leader prefers roundrobin: range wins the vote.
    const b = gc.join(
      jr({
        clientId: "b",
        protocols: [
          { name: "range", metadata: meta("b-r") },
          { name: "roundrobin", metadata: meta("b-rr") },
        ],
      }),
    );
    const c = gc.join(
      jr({
        clientId: "c",
        protocols: [
          { name: "range", metadata: meta("c-r") },
          { name: "sticky", metadata: meta("c-s") },
          { name: "roundrobin", metadata: meta("c-rr") },
        ],
      }),
    );
    const a2 = gc.join(
      jr({
        memberId: a.memberId,
        protocols: [
          { name: "roundrobin", metadata: meta("a-rr") },
          { name: "range", metadata: meta("a-r") },
        ],
      }),
    );
    const [rb, rc, ra] = await Promise.all([b, c, a2]);
    for (const r of [ra, rb, rc]) {
      ok(r);
      assert.equal(r.protocolName, "range");
    }
    assert.deepEqual(
      ra.members.map((m) => m.metadata.toString()),
      ["a-r", "b-r", "c-r"],
    );
  });

  it("INVALID_SESSION_TIMEOUT and INVALID_GROUP_ID", async () => {
    const { gc } = setup();
    assert.equal(
      (await gc.join(jr({ sessionTimeoutMs: 5999 }))).errorCode,
      GroupError.INVALID_SESSION_TIMEOUT,
    );
    assert.equal(
      (await gc.join(jr({ sessionTimeoutMs: 1_800_001 }))).errorCode,
      GroupError.INVALID_SESSION_TIMEOUT,
    );
    assert.equal((await gc.join(jr({ groupId: "" }))).errorCode, GroupError.INVALID_GROUP_ID);
    assert.equal(
      (await gc.sync({ groupId: "", generationId: 1, memberId: "m", groupInstanceId: null, assignments: [] }))
        .errorCode,
      GroupError.INVALID_GROUP_ID,
    );
    assert.equal(
      gc.heartbeat({ groupId: "", generationId: 1, memberId: "m", groupInstanceId: null }).errorCode,
      GroupError.INVALID_GROUP_ID,
    );
    assert.equal(gc.leave({ groupId: "", members: [] }).errorCode, GroupError.INVALID_GROUP_ID);
    assert.deepEqual(gc.list(), []);
  });

  it("Stable: a follower rejoining unchanged gets the current generation; the leader's rejoin rebalances", async () => {
    const { gc } = setup();
    const { ids, generationId, leader } = await stableGroup(gc, 2);
    const follower = ids.find((i) => i !== leader)!;
    const fj = await gc.join(jr({ memberId: follower }));
    ok(fj);
    assert.equal(fj.generationId, generationId);
    assert.equal(gc.describe("g").state, "Stable");
    // Changed metadata from a follower rebalances.
    const changed = track(
      gc.join(jr({ memberId: follower, protocols: [{ name: "range", metadata: meta("new") }] })),
    );
    await flush();
    assert.equal(gc.describe("g").state, "PreparingRebalance");
    const lj = await gc.join(jr({ memberId: leader }));
    await flush();
    ok(lj);
    ok(changed.value);
    assert.equal(lj.generationId, generationId + 1);
    // Now Stable again, then the leader rejoins with identical metadata: Kafka forces a rebalance.
    await Promise.all(
      [leader, follower].map((m) =>
        gc.sync({
          groupId: "g",
          generationId: lj.generationId,
          memberId: m,
          groupInstanceId: null,
          assignments:
            m === leader ? lj.members.map((x) => ({ memberId: x.memberId, assignment: meta("z") })) : [],
        }),
      ),
    );
    assert.equal(gc.describe("g").state, "Stable");
    const again = track(gc.join(jr({ memberId: leader })));
    await flush();
    assert.equal(gc.describe("g").state, "PreparingRebalance");
    assert.ok(!again.settled);
  });

  it("a new member joining a Stable group triggers a rebalance", async () => {
    const { gc } = setup();
    const { ids, generationId } = await stableGroup(gc, 2);
    const n = track(gc.join(jr({ clientId: "new" })));
    await flush();
    assert.equal(gc.describe("g").state, "PreparingRebalance");
    for (const id of ids) {
      assert.equal(
        gc.heartbeat({ groupId: "g", generationId, memberId: id, groupInstanceId: null }).errorCode,
        GroupError.REBALANCE_IN_PROGRESS,
      );
    }
    const rs = await Promise.all(ids.map((id) => gc.join(jr({ memberId: id }))));
    await flush();
    ok(n.value);
    for (const r of rs) assert.equal(r.generationId, generationId + 1);
  });

  it("a new member during CompletingRebalance sends parked syncs back with REBALANCE_IN_PROGRESS", async () => {
    const { gc } = setup();
    const a = await gc.join(jr({ clientId: "a" }));
    const b = gc.join(jr({ clientId: "b" }));
    const a2 = await gc.join(jr({ memberId: a.memberId }));
    const rb = await b;
    ok(a2);
    ok(rb);
    const sb = track(
      gc.sync({
        groupId: "g",
        generationId: rb.generationId,
        memberId: rb.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    await flush();
    assert.ok(!sb.settled);
    const c = track(gc.join(jr({ clientId: "c" })));
    await flush();
    assert.equal(sb.value?.errorCode, GroupError.REBALANCE_IN_PROGRESS);
    assert.ok(!c.settled);
  });

  it("a parked join whose member is removed settles with UNKNOWN_MEMBER_ID", async () => {
    const { gc } = setup();
    const { ids } = await stableGroup(gc, 2);
    const [a, b] = ids as [string, string];
    const ja = track(gc.join(jr({ memberId: a, protocols: [{ name: "range", metadata: meta("changed") }] })));
    await flush();
    assert.ok(!ja.settled);
    // An admin removes a (LeaveGroup v3+); b's rejoin then completes the round alone.
    gc.leave({ groupId: "g", members: [{ memberId: a, groupInstanceId: null }] });
    await flush();
    assert.equal(ja.value?.errorCode, GroupError.UNKNOWN_MEMBER_ID);
    const jb = await gc.join(jr({ memberId: b }));
    ok(jb);
    assert.equal(jb.leader, b);
  });

  it("a leader that never syncs: parked follower syncs settle after the rebalance timeout", async () => {
    const { clock, gc } = setup();
    const a = await gc.join(jr({ clientId: "a" }));
    const b = gc.join(jr({ clientId: "b" }));
    const a2 = await gc.join(jr({ memberId: a.memberId }));
    const rb = await b;
    ok(a2);
    const sb = track(
      gc.sync({
        groupId: "g",
        generationId: rb.generationId,
        memberId: rb.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    // The leader keeps heartbeating (so its session never expires) but never syncs.
    for (let t = 0; t < REBALANCE; t += 3000) {
      clock.advance(3000);
      gc.heartbeat({
        groupId: "g",
        generationId: a2.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
      });
    }
    await flush();
    assert.equal(sb.value?.errorCode, GroupError.REBALANCE_IN_PROGRESS);
    assert.equal(
      gc.heartbeat({
        groupId: "g",
        generationId: a2.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
      }).errorCode,
      GroupError.UNKNOWN_MEMBER_ID,
      "the leader that never synced was removed",
    );
  });

  it("static membership (KIP-345): rejoin with the same instance id replaces the member id, fences the old", async () => {
    const { gc } = setup();
    const j1 = await gc.join(jr({ groupInstanceId: "i-1", clientId: "s", requireKnownMemberId: true }));
    ok(j1); // static members skip MEMBER_ID_REQUIRED
    assert.match(j1.memberId, /^i-1-/);
    ok(
      await gc.sync({
        groupId: "g",
        generationId: j1.generationId,
        memberId: j1.memberId,
        groupInstanceId: "i-1",
        assignments: [{ memberId: j1.memberId, assignment: meta("p0") }],
      }),
    );
    // Restart: unknown member id, same instance id, same metadata: no rebalance.
    const j2 = await gc.join(jr({ groupInstanceId: "i-1", clientId: "s" }));
    ok(j2);
    assert.notEqual(j2.memberId, j1.memberId);
    assert.equal(j2.generationId, j1.generationId);
    assert.equal(j2.leader, j1.memberId, "old leader id, so the new incarnation does not assign");
    assert.equal(gc.describe("g").state, "Stable");
    const s2 = await gc.sync({
      groupId: "g",
      generationId: j2.generationId,
      memberId: j2.memberId,
      groupInstanceId: "i-1",
      assignments: [],
    });
    ok(s2);
    assert.deepEqual(s2.assignment, meta("p0"));
    assert.equal(
      gc.heartbeat({
        groupId: "g",
        generationId: j1.generationId,
        memberId: j1.memberId,
        groupInstanceId: "i-1",
      }).errorCode,
      GroupError.FENCED_INSTANCE_ID,
    );
    assert.equal(gc.validateCommit("g", j1.memberId, j1.generationId, "i-1"), GroupError.FENCED_INSTANCE_ID);
    assert.equal(
      (await gc.join(jr({ memberId: j1.memberId, groupInstanceId: "i-1" }))).errorCode,
      GroupError.FENCED_INSTANCE_ID,
    );
    // Admin removal by instance id alone.
    const left = gc.leave({ groupId: "g", members: [{ memberId: "", groupInstanceId: "i-1" }] });
    assert.equal(left.members[0]!.errorCode, GroupError.NONE);
    assert.deepEqual(gc.describe("g").members, []);
  });

  it("validateCommit rules", async () => {
    const { gc } = setup();
    // Unknown group: standalone commits allowed, generation-bearing ones are stale.
    assert.equal(gc.validateCommit("solo", "", -1, null), GroupError.NONE);
    assert.equal(gc.validateCommit("solo", "m", 3, null), GroupError.ILLEGAL_GENERATION);

    const a = await gc.join(jr({ clientId: "a" }));
    // CompletingRebalance.
    assert.equal(gc.validateCommit("g", a.memberId, a.generationId, null), GroupError.REBALANCE_IN_PROGRESS);
    assert.equal(
      gc.validateCommit("g", "", -1, null),
      GroupError.UNKNOWN_MEMBER_ID,
      "group has active members",
    );
    ok(
      await gc.sync({
        groupId: "g",
        generationId: a.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    assert.equal(gc.validateCommit("g", a.memberId, a.generationId, null), GroupError.NONE);
    assert.equal(gc.validateCommit("g", a.memberId, a.generationId + 1, null), GroupError.ILLEGAL_GENERATION);
    assert.equal(gc.validateCommit("g", "other", a.generationId, null), GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(gc.validateCommit("g", "", -1, null), GroupError.UNKNOWN_MEMBER_ID);
    // PreparingRebalance: still allowed (Kafka relies on the heartbeat to signal the rebalance).
    const b = track(gc.join(jr({ clientId: "b" })));
    assert.equal(gc.validateCommit("g", a.memberId, a.generationId, null), GroupError.NONE);
    gc.leave({ groupId: "g", members: [{ memberId: a.memberId, groupInstanceId: null }] });
    await flush();
    ok(b.value);
    gc.leave({ groupId: "g", members: [{ memberId: b.value!.memberId, groupInstanceId: null }] });
    assert.equal(gc.describe("g").state, "Empty");
    assert.equal(gc.validateCommit("g", "", -1, null), GroupError.NONE, "Empty group: standalone commit");
    assert.equal(gc.validateCommit("g", a.memberId, a.generationId, null), GroupError.UNKNOWN_MEMBER_ID);
  });

  it("delete rules", async () => {
    const { gc } = setup();
    assert.equal(gc.delete("nope", false), GroupError.GROUP_ID_NOT_FOUND);
    assert.equal(gc.delete("nope", true), GroupError.NONE);
    const a = await gc.join(jr({ clientId: "a" }));
    assert.equal(gc.delete("g", true), GroupError.NON_EMPTY_GROUP);
    gc.leave({ groupId: "g", members: [{ memberId: a.memberId, groupInstanceId: null }] });
    assert.equal(gc.describe("g").state, "Empty");
    assert.deepEqual(gc.list(), [{ groupId: "g", protocolType: "consumer", state: "Empty" }]);
    assert.equal(gc.delete("g", false), GroupError.NONE);
    assert.deepEqual(gc.list(), []);
    assert.equal(gc.describe("g").state, "Dead");
    assert.equal(gc.delete("g", false), GroupError.GROUP_ID_NOT_FOUND);
  });

  it("limits: group max size and groups max", async () => {
    const { gc } = setup({ groupMaxSize: 2, groupsMax: 2 });
    const { ids } = await stableGroup(gc, 2);
    const third = await gc.join(jr({ clientId: "c" }));
    assert.equal(third.errorCode, GroupError.GROUP_MAX_SIZE_REACHED);
    assert.equal(gc.describe("g").state, "Stable", "a refused member does not disturb the group");
    // Second group fills the coordinator; a third is refused until one is Empty.
    ok(await gc.join(jr({ groupId: "h" })));
    assert.equal((await gc.join(jr({ groupId: "k" }))).errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
    gc.leave({ groupId: "g", members: ids.map((memberId) => ({ memberId, groupInstanceId: null })) });
    assert.equal(gc.describe("g").state, "Empty");
    ok(await gc.join(jr({ groupId: "k" })));
    assert.deepEqual(
      gc.list().map((g) => g.groupId),
      ["h", "k"],
      "the Empty group was evicted",
    );
  });

  it("close() settles parked joins and syncs with COORDINATOR_NOT_AVAILABLE and cancels timers", async () => {
    const { clock, gc } = setup({ initialRebalanceDelayMs: 3000 });
    // Parked in the initial delay of a new group.
    const parkedJoin = track(gc.join(jr({ groupId: "j" })));
    await flush();
    assert.ok(!parkedJoin.settled);
    gc.close();
    await flush();
    assert.equal(parkedJoin.value?.errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
    assert.equal(clock.pending, 0);
    assert.equal((await gc.join(jr())).errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
    assert.equal(
      gc.heartbeat({ groupId: "s", generationId: 1, memberId: "x", groupInstanceId: null }).errorCode,
      GroupError.COORDINATOR_NOT_AVAILABLE,
    );
    assert.equal(gc.validateCommit("s", "", -1, null), GroupError.COORDINATOR_NOT_AVAILABLE);
    assert.equal(gc.delete("s", true), GroupError.COORDINATOR_NOT_AVAILABLE);
  });

  it("close() settles a parked sync", async () => {
    const { clock, gc } = setup();
    const a = await gc.join(jr({ clientId: "a" }));
    const b = gc.join(jr({ clientId: "b" }));
    const a2 = await gc.join(jr({ memberId: a.memberId }));
    const rb = await b;
    ok(a2);
    const sb = track(
      gc.sync({
        groupId: "g",
        generationId: rb.generationId,
        memberId: rb.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    );
    await flush();
    assert.ok(!sb.settled);
    gc.close();
    await flush();
    assert.equal(sb.value?.errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
    assert.equal(clock.pending, 0);
  });
});
