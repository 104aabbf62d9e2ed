/**
 * TxnOffsetCommit (key 28), v0-3 (v3 flexible).
 *   Request: transactional_id, group_id, producer_id, producer_epoch, generation_id (v3+),
 *            member_id (v3+), group_instance_id (v3+), topics [name, partitions
 *            [partition_index, committed_offset, committed_leader_epoch (v2+), committed_metadata]].
 *   Response: throttle_time_ms, topics [name, partitions [partition_index, error_code]].
 * Offsets stay pending until EndTxn: committed with the markers, or discarded on abort.
 * With v3 the member and generation are checked (KIP-447 fencing of zombie consumers).
 */
import { defineApi } from "../api.js";
import { codeOf, coordinatorErrorOf } from "../errors.js";
import {
  TxnOffsetCommit,
  type TxnOffsetCommitRequest,
  type TxnOffsetCommitResponse,
} from "../generated/messages.js";

export const TxnOffsetCommitApi = defineApi<TxnOffsetCommitRequest, TxnOffsetCommitResponse>({
  key: TxnOffsetCommit.apiKey,
  name: TxnOffsetCommit.name,
  minVersion: 0,
  maxVersion: 3,
  request: TxnOffsetCommit.request,
  response: TxnOffsetCommit.response,
  async handle(req, ctx) {
    const member =
      ctx.apiVersion >= 3 && req.generationId >= 0
        ? { memberId: req.memberId, generationId: req.generationId, groupInstanceId: req.groupInstanceId }
        : null;
    const offsets = req.topics.flatMap((t) =>
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
      errors = (
        await ctx.engine.txn.txnOffsetCommit(
          req.transactionalId,
          req.producerId,
          req.producerEpoch,
          req.groupId,
          member,
          offsets,
        )
      ).map(codeOf);
    } catch (err) {
      errors = offsets.map(() => coordinatorErrorOf(err));
    }
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: errors[i++]!,
        })),
      })),
    };
  },
});
