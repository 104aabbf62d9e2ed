/**
 * OffsetFetch (key 9), v1-7 (v6+ flexible).
 *   Request: group_id, topics [name, partition_indexes] (null = all, v2+), require_stable (v7+).
 *   Response: throttle_time_ms (v3+), topics [name, partitions [partition_index,
 *             committed_offset, committed_leader_epoch (v5+), metadata, error_code]],
 *             error_code (v2+).
 * A partition without a committed offset answers -1 and no error, as Kafka does.
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import { OffsetFetch, type OffsetFetchRequest, type OffsetFetchResponse } from "../generated/messages.js";

export const OffsetFetchApi = defineApi<OffsetFetchRequest, OffsetFetchResponse>({
  key: OffsetFetch.apiKey,
  name: OffsetFetch.name,
  minVersion: 1,
  maxVersion: 7,
  request: OffsetFetch.request,
  response: OffsetFetch.response,
  handle(req, ctx) {
    const { engine } = ctx;
    let wanted: { name: string; partitionIndexes: readonly number[] }[];
    if (req.topics === null) {
      const byTopic = new Map<string, number[]>();
      for (const c of engine.committedOffsets(req.groupId)) {
        let list = byTopic.get(c.topic);
        if (!list) byTopic.set(c.topic, (list = []));
        list.push(c.partition);
      }
      wanted = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
    } else {
      wanted = req.topics;
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      topics: wanted.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          // require_stable (v7+): a partition with offsets pending in an open transaction
          // is not answered until that transaction ends; the client retries.
          if (req.requireStable && engine.txn.hasPendingOffset(req.groupId, t.name, partitionIndex)) {
            return {
              partitionIndex,
              committedOffset: -1,
              committedLeaderEpoch: -1,
              metadata: "",
              errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
            };
          }
          const c = engine.committedOffset(req.groupId, t.name, partitionIndex);
          return {
            partitionIndex,
            committedOffset: c ? c.offset : -1,
            committedLeaderEpoch: c ? c.leaderEpoch : -1,
            metadata: c ? c.metadata : "",
            errorCode: ErrorCode.NONE,
          };
        }),
      })),
    };
  },
});
