/**
 * Property test: random interleavings of join / sync / heartbeat / leave / commit / time over a few
 * simulated clients (two dynamic, one static), checking the coordinator's invariants after every step.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { GroupCoordinator, GroupError, type JoinResult } from "./coordinator.js";
import { FakeClock } from "./fake-clock.js";

const SESSION = 10_000;
const REBALANCE_TIMEOUTS = [10_000, 20_000];
const BOUND = Math.max(...REBALANCE_TIMEOUTS) + SESSION;
const CLIENTS = 3; // client 2 is static (group.instance.id)

type Cmd =
  | { kind: "join"; client: number; variant: number }
  | { kind: "sync"; client: number }
  | { kind: "heartbeat"; client: number }
  | { kind: "leave"; client: number }
  | { kind: "commit"; client: number }
  | { kind: "advance"; ms: number };

const client = fc.nat(CLIENTS - 1);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("join" as const), client, variant: fc.nat(2) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("sync" as const), client }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), client }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("leave" as const), client }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("commit" as const), client }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.constantFrom(1, 10, 100, 250, 1_000, 3_000, 7_000, 12_000, 25_000),
    }),
  },
);

const flush = () => new Promise<void>((r) => setImmediate(r));

const VARIANTS = [
  [
    { name: "range", metadata: Buffer.from("r1") },
    { name: "roundrobin", metadata: Buffer.from("rr") },
  ],
  [
    { name: "roundrobin", metadata: Buffer.from("rr") },
    { name: "range", metadata: Buffer.from("r1") },
  ],
  [{ name: "range", metadata: Buffer.from("r2") }],
];

interface Sim {
  memberId: string;
  generation: number;
  busy: boolean; // a join or sync in flight (real clients send one at a time)
  lastJoin: JoinResult | null;
  requireKnown: boolean;
  instanceId: string | null;
  rebalanceTimeoutMs: number;
}

interface Op {
  createdAt: number;
  settled: boolean;
  what: string;
}

async function run(cmds: Cmd[], initialRebalanceDelayMs: number, requireKnown: boolean[]): Promise<void> {
  const clock = new FakeClock(0);
  const gc = new GroupCoordinator({ clock, initialRebalanceDelayMs });
  const sims: Sim[] = Array.from({ length: CLIENTS }, (_, i) => ({
    memberId: "",
    generation: -1,
    busy: false,
    lastJoin: null,
    requireKnown: requireKnown[i] ?? false,
    instanceId: i === 2 ? "static-2" : null,
    rebalanceTimeoutMs: REBALANCE_TIMEOUTS[i % REBALANCE_TIMEOUTS.length]!,
  }));
  const ops: Op[] = [];
  const selfLeaders = new Map<number, Set<string>>(); // generation -> members told they lead it
  const memberListReceivers = new Map<number, Set<string>>();
  let lastJoinGeneration = 0;

  const reset = (s: Sim) => {
    s.memberId = "";
    s.generation = -1;
    s.lastJoin = null;
  };
  const opStart = (what: string): Op => {
    const op = { createdAt: clock.nowMs(), settled: false, what };
    ops.push(op);
    return op;
  };
  const add = (m: Map<number, Set<string>>, g: number, id: string) => {
    if (!m.has(g)) m.set(g, new Set());
    m.get(g)!.add(id);
  };

  const onJoin = (s: Sim, r: JoinResult) => {
    if (r.errorCode === GroupError.NONE) {
      assert.ok(r.generationId >= lastJoinGeneration, "generation never decreases");
      lastJoinGeneration = r.generationId;
      s.memberId = r.memberId;
      s.generation = r.generationId;
      s.lastJoin = r;
      if (r.leader === r.memberId) add(selfLeaders, r.generationId, r.memberId);
      if (r.members.length > 0) add(memberListReceivers, r.generationId, r.memberId);
    } else if (r.errorCode === GroupError.MEMBER_ID_REQUIRED) {
      s.memberId = r.memberId;
    } else if (
      r.errorCode === GroupError.UNKNOWN_MEMBER_ID ||
      r.errorCode === GroupError.FENCED_INSTANCE_ID
    ) {
      reset(s);
    }
  };

  const step = async (c: Cmd) => {
    if (c.kind === "advance") {
      clock.advance(c.ms);
      return;
    }
    const s = sims[c.client]!;
    const base = { groupId: "g", memberId: s.memberId, groupInstanceId: s.instanceId };
    switch (c.kind) {
      case "join": {
        if (s.busy) return;
        s.busy = true;
        const op = opStart(`join ${c.client}`);
        gc.join({
          ...base,
          clientId: `c${c.client}`,
          clientHost: "h",
          sessionTimeoutMs: SESSION,
          rebalanceTimeoutMs: s.rebalanceTimeoutMs,
          protocolType: "consumer",
          protocols: VARIANTS[c.variant]!,
          requireKnownMemberId: s.requireKnown,
        }).then((r) => {
          op.settled = true;
          s.busy = false;
          onJoin(s, r);
        });
        return;
      }
      case "sync": {
        if (s.busy || s.memberId === "" || s.generation < 0) return;
        s.busy = true;
        const lj = s.lastJoin;
        const isLeader = lj !== null && lj.memberId === s.memberId && lj.generationId === s.generation;
        const assignments = isLeader
          ? lj.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from(`a:${m.memberId}`) }))
          : [];
        const op = opStart(`sync ${c.client}`);
        gc.sync({ ...base, generationId: s.generation, assignments }).then((r) => {
          op.settled = true;
          s.busy = false;
          if (r.errorCode === GroupError.NONE)
            assert.ok(r.assignment.length > 0, "synced member has an assignment");
          if (r.errorCode === GroupError.UNKNOWN_MEMBER_ID || r.errorCode === GroupError.FENCED_INSTANCE_ID)
            reset(s);
        });
        return;
      }
      case "heartbeat": {
        if (s.memberId === "") return;
        const r = gc.heartbeat({ ...base, generationId: s.generation });
        if (r.errorCode === GroupError.UNKNOWN_MEMBER_ID || r.errorCode === GroupError.FENCED_INSTANCE_ID)
          reset(s);
        return;
      }
      case "leave": {
        gc.leave({ groupId: "g", members: [{ memberId: s.memberId, groupInstanceId: s.instanceId }] });
        reset(s);
        return;
      }
      case "commit": {
        gc.validateCommit("g", s.memberId, s.generation, s.instanceId);
        return;
      }
    }
  };

  const checkInvariants = () => {
    const now = clock.nowMs();
    for (const op of ops) {
      if (!op.settled)
        assert.ok(now - op.createdAt <= BOUND, `${op.what} pending for ${now - op.createdAt} ms`);
    }
    for (const [g, set] of selfLeaders) assert.ok(set.size <= 1, `generation ${g} has leaders ${[...set]}`);
    for (const [g, set] of memberListReceivers) {
      assert.ok(set.size <= 1, `generation ${g}: member lists sent to ${[...set]}`);
    }
    const d = gc.describe("g");
    assert.ok(d.members.length <= CLIENTS, `no ghost members (${d.members.length})`);
    if (d.state === "Stable") {
      for (const m of d.members)
        assert.ok(m.assignment.length > 0, `Stable member ${m.memberId} has an assignment`);
    }
    if (d.state === "Empty" || d.state === "Dead") assert.equal(d.members.length, 0);
    else assert.ok(d.members.length > 0, `${d.state} group has members`);
  };

  for (const c of cmds) {
    await step(c);
    await flush();
    checkInvariants();
  }
  // Everything settles within the bound of simulated time.
  clock.advance(BOUND + 1);
  await flush();
  for (const op of ops) assert.ok(op.settled, `${op.what} settled`);
  checkInvariants();
  gc.close();
  assert.equal(clock.pending, 0, "close() cancels every timer");
}

it("property: random join/sync/heartbeat/leave/time sequences keep the group invariants", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(cmd, { minLength: 1, maxLength: 60 }),
      fc.constantFrom(0, 250),
      fc.array(fc.boolean(), { minLength: CLIENTS, maxLength: CLIENTS }),
      run,
    ),
    { numRuns: 400 },
  );
});

it("property: with clients that always follow the protocol, the group reaches Stable", async () => {
  // Clients rejoin on REBALANCE_IN_PROGRESS and sync after join, as kafkajs does; no departures.
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(CLIENTS - 1), { minLength: 1, maxLength: 6 }), async (order) => {
      const clock = new FakeClock(0);
      const gc = new GroupCoordinator({ clock });
      const started = new Set<number>();
      const ids = new Map<number, string>();
      const gens = new Map<number, number>();
      const loop = async (i: number): Promise<void> => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const j = await gc.join({
            groupId: "g",
            memberId: ids.get(i) ?? "",
            groupInstanceId: null,
            clientId: `c${i}`,
            clientHost: "h",
            sessionTimeoutMs: SESSION,
            rebalanceTimeoutMs: 20_000,
            protocolType: "consumer",
            protocols: VARIANTS[0]!,
            requireKnownMemberId: true,
          });
          if (j.errorCode === GroupError.MEMBER_ID_REQUIRED) {
            ids.set(i, j.memberId);
            continue;
          }
          if (j.errorCode === GroupError.UNKNOWN_MEMBER_ID) ids.delete(i);
          if (j.errorCode !== GroupError.NONE) continue;
          ids.set(i, j.memberId);
          const s = await gc.sync({
            groupId: "g",
            generationId: j.generationId,
            memberId: j.memberId,
            groupInstanceId: null,
            assignments: j.members.map((m) => ({
              memberId: m.memberId,
              assignment: Buffer.from(m.memberId),
            })),
          });
          if (s.errorCode === GroupError.NONE) {
            gens.set(i, j.generationId);
            return;
          }
        }
      };
      const loops: Promise<void>[] = [];
      for (const i of order) {
        if (started.has(i)) continue;
        started.add(i);
        loops.push(loop(i));
        clock.advance(100);
        await flush();
      }
      // Heartbeat every 3 s; whoever sees REBALANCE_IN_PROGRESS rejoins.
      for (let t = 0; t < 120_000; t += 3_000) {
        clock.advance(3_000);
        await flush();
        for (const i of started) {
          const id = ids.get(i);
          const gen = gens.get(i);
          if (id === undefined || gen === undefined) continue;
          const hb = gc.heartbeat({ groupId: "g", generationId: gen, memberId: id, groupInstanceId: null });
          if (hb.errorCode !== GroupError.NONE) {
            gens.delete(i);
            loops.push(loop(i));
          }
        }
        await flush();
      }
      const d = gc.describe("g");
      assert.equal(d.state, "Stable");
      assert.equal(d.members.length, started.size);
      assert.equal(new Set(gens.values()).size, 1, "everyone on the same generation");
      gc.close();
      await Promise.all(loops);
    }),
    { numRuns: 100 },
  );
});
