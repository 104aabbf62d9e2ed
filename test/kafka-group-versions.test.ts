/**
 * The newer versions of the consumer-group APIs (the ones modern clients such as
 * @platformatic/kafka speak), over raw requests against a real server: batched FindCoordinator
 * v4, JoinGroup v6-9 (nullable protocol name, protocol type, skip_assignment), SyncGroup v5
 * (protocol type/name checked and echoed), Heartbeat v4, LeaveGroup v5, OffsetCommit v8,
 * OffsetFetch v8 (several groups, null topics, require_stable per group) and ListGroups v4/v5
 * (state and type filters). A version the server does not advertise closes the connection, so
 * each request below also checks that its version is served.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GroupError } from "../src/groups/errors.js";
import { encodeConsumerSubscription } from "../src/protocol/kafka/codec/consumer-protocol.js";
import { ErrorCode } from "../src/protocol/kafka/generated/error-codes.js";
import {
  AddOffsetsToTxn,
  ApiVersions,
  CreateTopics,
  EndTxn,
  FindCoordinator,
  Heartbeat,
  InitProducerId,
  JoinGroup,
  type JoinGroupRequest,
  LeaveGroup,
  ListGroups,
  OffsetCommit,
  OffsetDelete,
  OffsetFetch,
  type OffsetFetchRequestGroup,
  type OffsetFetchResponseGroup,
  SyncGroup,
  type SyncGroupRequest,
  TxnOffsetCommit,
} from "../src/protocol/kafka/generated/messages.js";
import { FIND_COORDINATOR_KEYS_PER_REQUEST_MAX } from "../src/protocol/kafka/handlers/find-coordinator.js";
import { OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX } from "../src/protocol/kafka/handlers/offset-fetch.js";
import { RawKafka } from "./helpers/raw-kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";

const TOPIC = "group-versions";
const SESSION_MS = 10_000;
const METADATA = Buffer.from("subscription");

let server: TestServer;

async function withConn<T>(fn: (c: RawKafka) => Promise<T>): Promise<T> {
  const c = await RawKafka.connect(server.kafkaAddress);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function joinBody(groupId: string, memberId: string, reason: string | null = null): JoinGroupRequest {
  return {
    groupId,
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: SESSION_MS,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: METADATA }],
    reason,
  };
}

function syncBody(
  groupId: string,
  generationId: number,
  memberId: string,
  protocolType: string | null,
  protocolName: string | null,
  assignment?: Buffer,
): SyncGroupRequest {
  return {
    groupId,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType,
    protocolName,
    assignments: assignment ? [{ memberId, assignment }] : [],
  };
}

/** A one-member group formed with JoinGroup v9 (KIP-394: first join gets a member id, second joins). */
async function joinAlone(c: RawKafka, groupId: string) {
  const first = (await c.request(JoinGroup, 9, joinBody(groupId, ""))).body;
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId, "a member id is handed out");
  // v7+: no protocol selected yet is null (not ""), and so is the type.
  assert.equal(first.protocolName, null);
  assert.equal(first.protocolType, null);
  const joined = (await c.request(JoinGroup, 9, joinBody(groupId, first.memberId, "test joins"))).body;
  assert.equal(joined.errorCode, ErrorCode.NONE);
  return { memberId: first.memberId, generationId: joined.generationId!, joined };
}

function commitBody(groupId: string, generation: number, memberId: string, offsets: [number, number][]) {
  return {
    groupId,
    generationIdOrMemberEpoch: generation,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: TOPIC,
        partitions: offsets.map(([partitionIndex, committedOffset]) => ({
          partitionIndex,
          committedOffset,
          committedLeaderEpoch: 3,
          commitTimestamp: -1,
          committedMetadata: `m${partitionIndex}`,
        })),
      },
    ],
  };
}

/** Commits as a standalone consumer (generation -1: no live group needed) with OffsetCommit v8. */
async function commitStandalone(c: RawKafka, groupId: string, offsets: [number, number][]) {
  const r = (await c.request(OffsetCommit, 8, commitBody(groupId, -1, "", offsets))).body;
  for (const p of r.topics![0]!.partitions!) assert.equal(p.errorCode, ErrorCode.NONE);
}

/**
 * Opens a transaction for `transactionalId` that stages `offset` for TOPIC partition 0 of
 * `groupId` (InitProducerId, AddOffsetsToTxn, TxnOffsetCommit) and leaves it open; returns the
 * producer ids for EndTxn.
 */
async function stageTxnOffset(c: RawKafka, transactionalId: string, groupId: string, offset: number) {
  const pid = (
    await c.request(InitProducerId, 1, {
      transactionalId,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    })
  ).body;
  assert.equal(pid.errorCode, ErrorCode.NONE);
  const ids = { transactionalId, producerId: Number(pid.producerId), producerEpoch: pid.producerEpoch! };
  assert.equal((await c.request(AddOffsetsToTxn, 1, { ...ids, groupId })).body.errorCode, ErrorCode.NONE);
  const staged = (
    await c.request(TxnOffsetCommit, 2, {
      ...ids,
      groupId,
      generationId: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [
        {
          name: TOPIC,
          partitions: [
            { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: "" },
          ],
        },
      ],
    })
  ).body;
  assert.equal(staged.topics![0]!.partitions![0]!.errorCode, ErrorCode.NONE);
  return ids;
}

function fetchV8(
  c: RawKafka,
  groups: { groupId: string; topics: OffsetFetchRequestGroup["topics"] }[],
  requireStable = false,
) {
  return c.request(OffsetFetch, 8, {
    groupId: "",
    topics: [],
    groups: groups.map((g) => ({ ...g, memberId: null, memberEpoch: -1 })),
    requireStable,
  });
}

/** A group's answer as `topic/partition -> [offset, leader epoch, metadata, error]`, sorted. */
function offsetsOf(g: OffsetFetchResponseGroup): Record<string, [number, number, string | null, number]> {
  const out: Record<string, [number, number, string | null, number]> = {};
  for (const t of g.topics ?? []) {
    for (const p of t.partitions ?? []) {
      out[`${t.name}/${p.partitionIndex}`] = [
        Number(p.committedOffset),
        p.committedLeaderEpoch!,
        p.metadata ?? null,
        p.errorCode!,
      ];
    }
  }
  return out;
}

describe("consumer-group API versions", { timeout: 120_000 }, () => {
  before(async () => {
    server = await startServer();
    await withConn(async (c) => {
      const r = await c.request(CreateTopics, 3, {
        topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      assert.equal(r.body.topics![0]!.errorCode, ErrorCode.NONE);
    });
  });
  after(async () => {
    await server?.dispose();
  });

  it("advertises the new ranges in ApiVersions", async () => {
    const r = await withConn((c) =>
      c.request(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" }),
    );
    const ranges = new Map(r.body.apiKeys!.map((k) => [k.apiKey!, [k.minVersion!, k.maxVersion!]]));
    const want: [string, number, [number, number]][] = [
      ["OffsetCommit", OffsetCommit.apiKey, [0, 8]],
      ["OffsetFetch", OffsetFetch.apiKey, [1, 8]],
      ["FindCoordinator", FindCoordinator.apiKey, [0, 4]],
      ["JoinGroup", JoinGroup.apiKey, [0, 9]],
      ["Heartbeat", Heartbeat.apiKey, [0, 4]],
      ["LeaveGroup", LeaveGroup.apiKey, [0, 5]],
      ["SyncGroup", SyncGroup.apiKey, [0, 5]],
      ["ListGroups", ListGroups.apiKey, [0, 5]],
    ];
    for (const [name, key, range] of want) assert.deepEqual(ranges.get(key), range, name);
  });

  it("FindCoordinator v4 answers one coordinator per key, in order, for groups and transactions", async () => {
    await withConn(async (c) => {
      const v3 = (await c.request(FindCoordinator, 3, { key: "g", keyType: 0, coordinatorKeys: [] })).body;
      assert.equal(v3.errorCode, ErrorCode.NONE);
      assert.equal(v3.port, server.kafkaPort);
      const node = { nodeId: v3.nodeId, host: v3.host, port: v3.port, errorCode: 0, errorMessage: null };

      const groups = ["fc-b", "fc-a", "fc-c"];
      const g = (await c.request(FindCoordinator, 4, { key: "", keyType: 0, coordinatorKeys: groups })).body;
      assert.deepEqual(
        g.coordinators,
        groups.map((key) => ({ key, ...node })),
      );

      const txns = ["txn-2", "txn-1"];
      const t = (await c.request(FindCoordinator, 4, { key: "", keyType: 1, coordinatorKeys: txns })).body;
      assert.deepEqual(
        t.coordinators,
        txns.map((key) => ({ key, ...node })),
      );

      const none = (await c.request(FindCoordinator, 4, { key: "", keyType: 0, coordinatorKeys: [] })).body;
      assert.deepEqual(none.coordinators, []);
    });
  });

  it("FindCoordinator: an unknown key type is INVALID_REQUEST for every key (v4) and top-level (v3)", async () => {
    await withConn(async (c) => {
      const r = (await c.request(FindCoordinator, 4, { key: "", keyType: 7, coordinatorKeys: ["x", "y"] }))
        .body;
      assert.deepEqual(
        r.coordinators!.map((e) => [e.key, e.errorCode, e.nodeId, e.host, e.port]),
        [
          ["x", ErrorCode.INVALID_REQUEST, -1, "", -1],
          ["y", ErrorCode.INVALID_REQUEST, -1, "", -1],
        ],
      );
      assert.match(r.coordinators![0]!.errorMessage ?? "", /key type 7/);
      const v3 = (await c.request(FindCoordinator, 3, { key: "x", keyType: 7, coordinatorKeys: [] })).body;
      assert.equal(v3.errorCode, ErrorCode.INVALID_REQUEST);
      assert.equal(v3.nodeId, -1);
    });
  });

  it("JoinGroup v6 (before nullable protocol name) answers an empty name, not null", async () => {
    await withConn(async (c) => {
      const r = (await c.request(JoinGroup, 6, joinBody("jg-v6", ""))).body;
      assert.equal(r.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
      assert.equal(r.protocolName, "");
    });
  });

  it("a full round: JoinGroup v9, SyncGroup v5, Heartbeat v4, OffsetCommit v8, OffsetFetch v8, LeaveGroup v5", async () => {
    const groupId = "round-v9";
    await withConn(async (c) => {
      const { memberId, generationId, joined } = await joinAlone(c, groupId);
      assert.equal(generationId, 1);
      assert.equal(joined.memberId, memberId);
      assert.equal(joined.leader, memberId);
      assert.equal(joined.protocolType, "consumer");
      assert.equal(joined.protocolName, "range");
      assert.equal(joined.skipAssignment, false);
      assert.deepEqual(
        joined.members!.map((m) => [m.memberId, m.groupInstanceId, Buffer.from(m.metadata!).toString()]),
        [[memberId, null, METADATA.toString()]],
      );

      const assignment = Buffer.from("partitions 0,1");
      const synced = (
        await c.request(
          SyncGroup,
          5,
          syncBody(groupId, generationId, memberId, "consumer", "range", assignment),
        )
      ).body;
      assert.equal(synced.errorCode, ErrorCode.NONE);
      assert.equal(synced.protocolType, "consumer");
      assert.equal(synced.protocolName, "range");
      assert.deepEqual(Buffer.from(synced.assignment!), assignment);

      const hb = (await c.request(Heartbeat, 4, { groupId, generationId, memberId, groupInstanceId: null }))
        .body;
      assert.equal(hb.errorCode, ErrorCode.NONE);

      const committed = (
        await c.request(OffsetCommit, 8, commitBody(groupId, generationId, memberId, [[0, 42]]))
      ).body;
      assert.deepEqual(committed.topics, [
        { name: TOPIC, partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] },
      ]);
      // A stale generation is still refused in v8: the coordinator's checks apply as before.
      const stale = (
        await c.request(OffsetCommit, 8, commitBody(groupId, generationId + 1, memberId, [[0, 43]]))
      ).body;
      assert.equal(stale.topics![0]!.partitions![0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);

      const fetched = (await fetchV8(c, [{ groupId, topics: [{ name: TOPIC, partitionIndexes: [0, 1] }] }]))
        .body;
      assert.equal(fetched.groups!.length, 1);
      assert.equal(fetched.groups![0]!.groupId, groupId);
      assert.equal(fetched.groups![0]!.errorCode, ErrorCode.NONE);
      assert.deepEqual(offsetsOf(fetched.groups![0]!), {
        [`${TOPIC}/0`]: [42, 3, "m0", 0],
        [`${TOPIC}/1`]: [-1, -1, "", 0],
      });

      const left = (
        await c.request(LeaveGroup, 5, {
          groupId,
          memberId: "",
          members: [{ memberId, groupInstanceId: null, reason: "test is done" }],
        })
      ).body;
      assert.equal(left.errorCode, ErrorCode.NONE);
      assert.deepEqual(left.members, [{ memberId, groupInstanceId: null, errorCode: ErrorCode.NONE }]);

      const after = (
        await c.request(Heartbeat, 4, { groupId, generationId, memberId, groupInstanceId: null })
      ).body;
      assert.equal(after.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, "the member is gone");
      const listed = (await c.request(ListGroups, 4, { statesFilter: [], typesFilter: [] })).body;
      assert.equal(listed.groups!.find((g) => g.groupId === groupId)?.groupState, "Empty");
    });
  });

  it("SyncGroup v5: a protocol type or name other than the group's is INCONSISTENT_GROUP_PROTOCOL", async () => {
    const groupId = "sync-v5";
    await withConn(async (c) => {
      const { memberId, generationId } = await joinAlone(c, groupId);
      const assignment = Buffer.from("a");
      for (const [type, name] of [
        ["consumer", "roundrobin"],
        ["connect", "range"],
        ["connect", null],
        [null, "sticky"],
      ] as const) {
        const r = (
          await c.request(SyncGroup, 5, syncBody(groupId, generationId, memberId, type, name, assignment))
        ).body;
        assert.equal(r.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL, `${type}/${name}`);
        assert.equal(r.protocolType, null);
        assert.equal(r.protocolName, null);
        assert.equal(r.assignment!.length, 0);
      }
      // Not given (null) is not checked; the answer still names the group's protocol.
      const ok = (
        await c.request(SyncGroup, 5, syncBody(groupId, generationId, memberId, null, null, assignment))
      ).body;
      assert.equal(ok.errorCode, ErrorCode.NONE);
      assert.equal(ok.protocolType, "consumer");
      assert.equal(ok.protocolName, "range");
      assert.deepEqual(Buffer.from(ok.assignment!), assignment);
      // Once Stable, too.
      const stable = (
        await c.request(SyncGroup, 5, syncBody(groupId, generationId, memberId, "consumer", "roundrobin"))
      ).body;
      assert.equal(stable.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
      const again = (
        await c.request(SyncGroup, 5, syncBody(groupId, generationId, memberId, "consumer", "range"))
      ).body;
      assert.equal(again.errorCode, ErrorCode.NONE);
      assert.deepEqual(Buffer.from(again.assignment!), assignment);
    });
  });

  it("OffsetFetch v8 answers each group in order; null topics means all of the group's offsets", async () => {
    await withConn(async (c) => {
      await commitStandalone(c, "of-with", [
        [0, 7],
        [1, 9],
      ]);
      const r = (
        await fetchV8(c, [
          { groupId: "of-with", topics: null },
          { groupId: "of-without", topics: null },
          { groupId: "of-without", topics: [{ name: TOPIC, partitionIndexes: [1] }] },
          { groupId: "of-with", topics: [{ name: TOPIC, partitionIndexes: [1] }] },
        ])
      ).body;
      assert.deepEqual(
        r.groups!.map((g) => [g.groupId, g.errorCode]),
        [
          ["of-with", 0],
          ["of-without", 0],
          ["of-without", 0],
          ["of-with", 0],
        ],
      );
      const [all, none, missing, one] = r.groups!.map(offsetsOf);
      assert.deepEqual(all, { [`${TOPIC}/0`]: [7, 3, "m0", 0], [`${TOPIC}/1`]: [9, 3, "m1", 0] });
      assert.deepEqual(none, {}, "a group without commits answers no topics");
      assert.deepEqual(missing, { [`${TOPIC}/1`]: [-1, -1, "", 0] });
      assert.deepEqual(one, { [`${TOPIC}/1`]: [9, 3, "m1", 0] });

      // v7 answers the same per-group data (shared logic), in its single-group shape.
      const v7 = (
        await c.request(OffsetFetch, 7, {
          groupId: "of-with",
          topics: null,
          groups: [],
          requireStable: false,
        })
      ).body;
      assert.equal(v7.errorCode, ErrorCode.NONE);
      assert.deepEqual(offsetsOf({ topics: v7.topics }), all);
    });
  });

  it("OffsetFetch v8 applies require_stable to each group", async () => {
    await withConn(async (c) => {
      await commitStandalone(c, "stable-other", [[0, 5]]);
      await stageTxnOffset(c, "group-versions-txn", "stable-txn", 11);

      const wanted = [{ name: TOPIC, partitionIndexes: [0] }];
      const groups = [
        { groupId: "stable-txn", topics: wanted },
        { groupId: "stable-other", topics: wanted },
      ];
      const stable = (await fetchV8(c, groups, true)).body.groups!.map(offsetsOf);
      assert.deepEqual(stable, [
        { [`${TOPIC}/0`]: [-1, -1, "", ErrorCode.UNSTABLE_OFFSET_COMMIT] },
        { [`${TOPIC}/0`]: [5, 3, "m0", 0] },
      ]);
      const loose = (await fetchV8(c, groups, false)).body.groups!.map(offsetsOf);
      assert.deepEqual(loose, [{ [`${TOPIC}/0`]: [-1, -1, "", 0] }, { [`${TOPIC}/0`]: [5, 3, "m0", 0] }]);
    });
  });

  it(`OffsetFetch v8 answers at most ${OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX} partitions; later groups get INVALID_REQUEST`, async () => {
    const wide = "of-wide";
    const perGroup = 1_000;
    await withConn(async (c) => {
      const created = await c.request(CreateTopics, 3, {
        topics: [{ name: wide, numPartitions: perGroup, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      assert.equal(created.body.topics![0]!.errorCode, ErrorCode.NONE);
      const commit = (
        await c.request(OffsetCommit, 8, {
          ...commitBody("of-wide-group", -1, "", []),
          topics: [
            {
              name: wide,
              partitions: Array.from({ length: perGroup }, (_, partitionIndex) => ({
                partitionIndex,
                committedOffset: 1,
                committedLeaderEpoch: -1,
                commitTimestamp: -1,
                committedMetadata: null,
              })),
            },
          ],
        })
      ).body;
      assert.ok(commit.topics![0]!.partitions!.every((p) => p.errorCode === ErrorCode.NONE));
      // The group asked for with null topics, as many times as fit, then once more.
      const fit = OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX / perGroup;
      const groups = Array.from({ length: fit + 1 }, () => ({ groupId: "of-wide-group", topics: null }));
      const answer = (await fetchV8(c, groups)).body.groups!;
      assert.equal(answer.length, fit + 1);
      for (const g of answer.slice(0, fit)) {
        assert.equal(g.errorCode, ErrorCode.NONE);
        assert.equal(g.topics![0]!.partitions!.length, perGroup);
      }
      assert.equal(answer[fit]!.errorCode, ErrorCode.INVALID_REQUEST);
      assert.deepEqual(answer[fit]!.topics, []);
    });
  });

  it(`FindCoordinator v4 refuses more than ${FIND_COORDINATOR_KEYS_PER_REQUEST_MAX} keys with one entry`, async () => {
    const r = await withConn((c) =>
      c.request(FindCoordinator, 4, {
        key: "",
        keyType: 0,
        coordinatorKeys: Array.from({ length: FIND_COORDINATOR_KEYS_PER_REQUEST_MAX + 1 }, (_, i) => `g${i}`),
      }),
    );
    assert.equal(r.body.coordinators!.length, 1);
    assert.equal(r.body.coordinators![0]!.errorCode, ErrorCode.INVALID_REQUEST);
  });

  it("ListGroups v4 filters by state (case-insensitively) and v5 by type", async () => {
    await withConn(async (c) => {
      const stableGroup = "lg-stable";
      const { memberId, generationId } = await joinAlone(c, stableGroup);
      const s = (
        await c.request(SyncGroup, 5, syncBody(stableGroup, generationId, memberId, "consumer", "range"))
      ).body;
      assert.equal(s.errorCode, ErrorCode.NONE);
      const emptyGroup = "lg-offsets-only";
      await commitStandalone(c, emptyGroup, [[0, 1]]);

      const list = async (version: number, statesFilter: string[], typesFilter: string[] = []) =>
        (await c.request(ListGroups, version, { statesFilter, typesFilter })).body.groups!;
      const mine = (gs: Awaited<ReturnType<typeof list>>) =>
        gs
          .filter((g) => g.groupId === stableGroup || g.groupId === emptyGroup)
          .map((g) => [g.groupId, g.protocolType, g.groupState, g.groupType])
          .sort();

      const all = await list(4, []);
      assert.deepEqual(mine(all), [
        [emptyGroup, "consumer", "Empty", ""],
        [stableGroup, "consumer", "Stable", ""],
      ]);

      const stable = await list(4, ["sTaBlE"]);
      assert.ok(stable.length > 0 && stable.every((g) => g.groupState === "Stable"));
      assert.deepEqual(mine(stable), [[stableGroup, "consumer", "Stable", ""]]);

      const empty = await list(4, ["EMPTY", "Dead"]);
      assert.ok(empty.length > 0 && empty.every((g) => g.groupState === "Empty"));
      assert.deepEqual(mine(empty), [[emptyGroup, "consumer", "Empty", ""]]);

      assert.deepEqual(mine(await list(4, ["PreparingRebalance"])), []);

      const classic = await list(5, [], ["Classic"]);
      assert.equal(classic.length, all.length);
      assert.ok(classic.every((g) => g.groupType === "classic"));
      assert.deepEqual(mine(classic), [
        [emptyGroup, "consumer", "Empty", "classic"],
        [stableGroup, "consumer", "Stable", "classic"],
      ]);
      assert.deepEqual(await list(5, [], ["consumer"]), [], "no KIP-848 groups here");
      assert.deepEqual(mine(await list(5, ["stable"], ["consumer", "CLASSIC"])), [
        [stableGroup, "consumer", "Stable", "classic"],
      ]);
    });
  });
});

describe("OffsetDelete v0", { timeout: 60_000 }, () => {
  const OTHER = "offset-delete-other";
  before(async () => {
    server = await startServer();
    await withConn(async (c) => {
      const r = await c.request(CreateTopics, 3, {
        topics: [TOPIC, OTHER].map((name) => ({
          name,
          numPartitions: 2,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 5000,
        validateOnly: false,
      });
      for (const t of r.body.topics!) assert.equal(t.errorCode, ErrorCode.NONE);
    });
  });
  after(async () => {
    await server?.dispose();
  });

  function offsetDelete(c: RawKafka, groupId: string, topics: [string, number[]][]) {
    return c.request(OffsetDelete, 0, {
      groupId,
      topics: topics.map(([name, partitions]) => ({
        name,
        partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
      })),
    });
  }
  /** Standalone commits (generation -1) to any topic. */
  async function commitTo(c: RawKafka, groupId: string, topic: string, offsets: [number, number][]) {
    const body = commitBody(groupId, -1, "", offsets);
    const r = (await c.request(OffsetCommit, 8, { ...body, topics: [{ ...body.topics[0]!, name: topic }] }))
      .body;
    for (const p of r.topics![0]!.partitions!) assert.equal(p.errorCode, ErrorCode.NONE);
  }

  const codes = (r: Awaited<ReturnType<typeof offsetDelete>>) =>
    r.body.topics!.map((t) => `${t.name}:${t.partitions!.map((p) => p.errorCode).join(",")}`);

  /** A live one-member group of `protocolType` whose member sends `metadata`. */
  async function liveGroup(c: RawKafka, groupId: string, protocolType: string, metadata: Buffer) {
    const body = (memberId: string): JoinGroupRequest => ({
      ...joinBody(groupId, memberId),
      protocolType,
      protocols: [{ name: "range", metadata }],
    });
    const first = (await c.request(JoinGroup, 9, body(""))).body;
    const joined = (await c.request(JoinGroup, 9, body(first.memberId!))).body;
    assert.equal(joined.errorCode, ErrorCode.NONE);
    return { memberId: first.memberId!, generationId: joined.generationId! };
  }

  it("answers GROUP_ID_NOT_FOUND for a group with neither members nor offsets", async () => {
    const r = await withConn((c) => offsetDelete(c, "od-nobody", [[TOPIC, [0]]]));
    assert.equal(r.body.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.deepEqual(r.body.topics, []);
  });

  it("deletes the named offsets of a group known only by its offsets; unknown partitions are refused", async () => {
    await withConn(async (c) => {
      await commitStandalone(c, "od-offsets-only", [
        [0, 10],
        [1, 11],
      ]);
      const r = await offsetDelete(c, "od-offsets-only", [
        [TOPIC, [0, 99]],
        ["od-no-such-topic", [0]],
      ]);
      assert.equal(r.body.errorCode, ErrorCode.NONE);
      assert.deepEqual(codes(r), [
        `${TOPIC}:${ErrorCode.NONE},${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`,
        `od-no-such-topic:${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`,
      ]);
      const f = (await fetchV8(c, [{ groupId: "od-offsets-only", topics: null }])).body.groups![0]!;
      assert.deepEqual(Object.keys(offsetsOf(f)), [`${TOPIC}/1`], "partition 0's offset is gone, 1's stays");
    });
  });

  it("keeps the offsets of topics a live consumer group subscribes to, and deletes the others", async () => {
    await withConn(async (c) => {
      await commitStandalone(c, "od-live", [[0, 5]]);
      await commitTo(c, "od-live", OTHER, [[1, 7]]);
      const subscription = encodeConsumerSubscription(
        { topics: [TOPIC], userData: null, ownedPartitions: [], generationId: -1, rackId: null },
        1,
      );
      await liveGroup(c, "od-live", "consumer", subscription);
      const r = await offsetDelete(c, "od-live", [
        [TOPIC, [0]],
        [OTHER, [1]],
      ]);
      assert.equal(r.body.errorCode, ErrorCode.NONE);
      assert.deepEqual(codes(r), [
        `${TOPIC}:${ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC}`,
        `${OTHER}:${ErrorCode.NONE}`,
      ]);
      const f = (await fetchV8(c, [{ groupId: "od-live", topics: null }])).body.groups![0]!;
      assert.deepEqual(Object.keys(offsetsOf(f)), [`${TOPIC}/0`]);
    });
  });

  it("treats every topic as subscribed when the subscription cannot be read, as Kafka does", async () => {
    await withConn(async (c) => {
      await liveGroup(c, "od-opaque", "consumer", Buffer.from([0, 1, 0x7f, 0xff, 0xff, 0xff]));
      const r = await offsetDelete(c, "od-opaque", [[OTHER, [0]]]);
      assert.deepEqual(codes(r), [`${OTHER}:${ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC}`]);
    });
  });

  it("refuses a live group of another protocol type with NON_EMPTY_GROUP", async () => {
    await withConn(async (c) => {
      await liveGroup(c, "od-connect", "connect", Buffer.from("worker"));
      const r = await offsetDelete(c, "od-connect", [[TOPIC, [0]]]);
      assert.equal(r.body.errorCode, ErrorCode.NON_EMPTY_GROUP);
      assert.deepEqual(r.body.topics, []);
    });
  });

  it("answers INVALID_GROUP_ID for an empty group id", async () => {
    const r = await withConn((c) => offsetDelete(c, "", [[TOPIC, [0]]]));
    assert.equal(r.body.errorCode, ErrorCode.INVALID_GROUP_ID);
  });

  it("also deletes an offset pending in an open transaction, so its commit does not bring it back", async () => {
    await withConn(async (c) => {
      const groupId = "od-txn";
      await commitStandalone(c, groupId, [[0, 3]]);
      const ids = await stageTxnOffset(c, "od-txn-producer", groupId, 11);

      const r = await offsetDelete(c, groupId, [[TOPIC, [0]]]);
      assert.deepEqual(codes(r), [`${TOPIC}:${ErrorCode.NONE}`]);
      const ended = (await c.request(EndTxn, 3, { ...ids, committed: true })).body;
      assert.equal(ended.errorCode, ErrorCode.NONE);
      const f = (await fetchV8(c, [{ groupId, topics: [{ name: TOPIC, partitionIndexes: [0] }] }])).body
        .groups![0]!;
      assert.deepEqual(offsetsOf(f), { [`${TOPIC}/0`]: [-1, -1, "", 0] });
    });
  });
});
