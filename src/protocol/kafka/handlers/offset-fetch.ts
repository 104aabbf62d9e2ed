/**
 * OffsetFetch (key 9), v1-8 (v6+ flexible).
 *   Request v1-7: group_id, topics [name, partition_indexes] (null = all, v2+), require_stable (v7+).
 *   Request v8:   groups [group_id, topics [name, partition_indexes] (null = all)], require_stable.
 *   Response v1-7: throttle_time_ms (v3+), topics [name, partitions [partition_index,
 *                  committed_offset, committed_leader_epoch (v5+), metadata, error_code]],
 *                  error_code (v2+).
 *   Response v8:   throttle_time_ms, groups [group_id, topics [name, partitions [partition_index,
 *                  committed_offset, committed_leader_epoch, metadata, error_code]], error_code],
 *                  one per requested group, in request order.
 * A partition without a committed offset answers -1 and no error, as Kafka does. v1-7 and v8
 * answer each group the same way (answerGroup); require_stable applies to every group of a v8
 * batch; a v8 answer holds at most OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX partitions.
 */
import type { Engine } from "../../../engine/engine.js";
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import { OffsetFetch, type OffsetFetchRequest, type OffsetFetchResponse } from "../generated/messages.js";

/**
 * Partitions answered in one v8 response. A group asked with null topics answers every offset
 * it has committed, so a small request naming a large group many times would otherwise build a
 * response thousands of times its size (and hold the main thread while doing it). Groups are
 * answered in order while they fit; the first group is always answered whole; a group that
 * would go past the budget gets INVALID_REQUEST, and the client can ask for it again alone.
 */
export const OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX = 100_000;

interface TopicAnswer {
  name: string;
  partitions: {
    partitionIndex: number;
    committedOffset: number;
    committedLeaderEpoch: number;
    metadata: string | null;
    errorCode: number;
  }[];
}

/** One group's answer: the asked topics and partitions, or (topics null) every committed one. */
function answerGroup(
  engine: Engine,
  groupId: string,
  topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  requireStable: boolean,
): TopicAnswer[] {
  let wanted: readonly { name: string; partitionIndexes: readonly number[] }[];
  if (topics === null) {
    const byTopic = new Map<string, number[]>();
    for (const c of engine.committedOffsets(groupId)) {
      let list = byTopic.get(c.topic);
      if (!list) byTopic.set(c.topic, (list = []));
      list.push(c.partition);
    }
    wanted = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  } else {
    wanted = topics;
  }
  return wanted.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => {
      // require_stable (v7+): a partition with offsets pending in an open transaction
      // is not answered until that transaction ends; the client retries.
      if (requireStable && engine.txn.hasPendingOffset(groupId, t.name, partitionIndex)) {
        return {
          partitionIndex,
          committedOffset: -1,
          committedLeaderEpoch: -1,
          metadata: "",
          errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
        };
      }
      const c = engine.committedOffset(groupId, t.name, partitionIndex);
      return {
        partitionIndex,
        committedOffset: c ? c.offset : -1,
        committedLeaderEpoch: c ? c.leaderEpoch : -1,
        metadata: c ? c.metadata : "",
        errorCode: ErrorCode.NONE,
      };
    }),
  }));
}

export const OffsetFetchApi = defineApi<OffsetFetchRequest, OffsetFetchResponse>({
  key: OffsetFetch.apiKey,
  name: OffsetFetch.name,
  minVersion: 1,
  // Not v9: it adds KIP-848 member validation, which we do not implement.
  maxVersion: 8,
  request: OffsetFetch.request,
  response: OffsetFetch.response,
  handle(req, ctx) {
    const { engine } = ctx;
    if (ctx.apiVersion >= 8) {
      let answered = 0;
      return {
        throttleTimeMs: 0,
        groups: req.groups.map((g, i) => {
          // Counted before building: a null topic list answers every committed offset.
          const size =
            g.topics === null
              ? engine.committedOffsetCount(g.groupId)
              : g.topics.reduce((n, t) => n + t.partitionIndexes.length, 0);
          if (i > 0 && answered + size > OFFSET_FETCH_PARTITIONS_PER_RESPONSE_MAX) {
            return { groupId: g.groupId, topics: [], errorCode: ErrorCode.INVALID_REQUEST };
          }
          answered += size;
          return {
            groupId: g.groupId,
            topics: answerGroup(engine, g.groupId, g.topics, req.requireStable),
            errorCode: ErrorCode.NONE,
          };
        }),
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      topics: answerGroup(engine, req.groupId, req.topics, req.requireStable),
    };
  },
});
