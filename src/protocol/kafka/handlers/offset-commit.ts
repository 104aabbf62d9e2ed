/**
 * OffsetCommit (key 8), v0-8 (v8+ flexible).
 *   Request: group_id, generation_id (v1+), member_id (v1+), group_instance_id (v7+),
 *            retention_time_ms (v2-4), topics [name, partitions [partition_index,
 *            committed_offset, committed_leader_epoch (v6+), commit_timestamp (v1), committed_metadata]].
 *   Response: throttle_time_ms (v3+), topics [name, partitions [partition_index, error_code]].
 * The group coordinator decides whether this member may commit for this generation; accepted
 * offsets are durable (fsynced) before the response, and survive restarts.
 */
import { defineApi } from "../api.js";
import { codeOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import { OffsetCommit, type OffsetCommitRequest, type OffsetCommitResponse } from "../generated/messages.js";

export const OffsetCommitApi = defineApi<OffsetCommitRequest, OffsetCommitResponse>({
  key: OffsetCommit.apiKey,
  name: OffsetCommit.name,
  minVersion: 0,
  // Not v9: it is the first version for KIP-848 consumer groups (member epochs, GROUP_ID_NOT_FOUND),
  // which we do not implement.
  maxVersion: 8,
  request: OffsetCommit.request,
  response: OffsetCommit.response,
  async handle(req, ctx) {
    const { engine } = ctx;
    const generation = ctx.apiVersion >= 1 ? req.generationIdOrMemberEpoch : -1;
    const memberId = ctx.apiVersion >= 1 ? req.memberId : "";
    const groupError =
      req.groupId === ""
        ? ErrorCode.INVALID_GROUP_ID
        : engine.groups.validateCommit(req.groupId, memberId, generation, req.groupInstanceId);
    if (groupError !== ErrorCode.NONE) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: groupError })),
        })),
      };
    }
    const entries = req.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.committedMetadata,
      })),
    );
    let errors: number[];
    try {
      errors = (await engine.commitOffsets(req.groupId, entries)).map(codeOf);
    } catch {
      errors = entries.map(() => ErrorCode.KAFKA_STORAGE_ERROR);
    }
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors[i++]! })),
      })),
    };
  },
});
