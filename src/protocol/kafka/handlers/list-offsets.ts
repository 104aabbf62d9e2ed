/**
 * ListOffsets (key 2), v0-5.
 *   Request: replica_id, isolation_level (v2+), topics [name, partitions [partition_index,
 *            current_leader_epoch (v4+), timestamp, max_num_offsets (v0 only)]].
 *   Response: throttle_time_ms (v2+), topics [name, partitions [partition_index, error_code,
 *             old_style_offsets (v0 only), timestamp (v1+), offset (v1+), leader_epoch (v4+)]].
 * timestamp -1 = latest (last stable offset under read_committed), -2 = earliest.
 */
import { defineApi } from "../api.js";
import { codeOf } from "../errors.js";
import { ListOffsets, type ListOffsetsRequest, type ListOffsetsResponse } from "../generated/messages.js";

export const ListOffsetsApi = defineApi<ListOffsetsRequest, ListOffsetsResponse>({
  key: ListOffsets.apiKey,
  name: ListOffsets.name,
  minVersion: 0,
  maxVersion: 5,
  request: ListOffsets.request,
  response: ListOffsets.response,
  handle(req, ctx) {
    const isolation = req.isolationLevel === 1 ? "read_committed" : "read_uncommitted";
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const r = ctx.engine.listOffset(t.name, p.partitionIndex, p.timestamp, isolation);
          return {
            partitionIndex: p.partitionIndex,
            errorCode: codeOf(r.error),
            oldStyleOffsets: r.offset >= 0 && p.maxNumOffsets > 0 ? [r.offset] : [],
            timestamp: r.timestampMs,
            offset: r.offset,
            leaderEpoch: r.offset >= 0 ? 0 : -1,
          };
        }),
      })),
    };
  },
});
