/**
 * AddPartitionsToTxn (key 24), v0-3 (v3 flexible).
 *   Request: transactional_id, producer_id, producer_epoch, topics [name, partitions].
 *   Response: throttle_time_ms, results [name, results [partition_index, error_code]].
 * Durable before the answer. An unknown partition fails the whole request: that partition
 * gets UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as Kafka does.
 */
import { defineApi } from "../api.js";
import { codeOf, coordinatorErrorOf } from "../errors.js";
import {
  AddPartitionsToTxn,
  type AddPartitionsToTxnRequest,
  type AddPartitionsToTxnResponse,
} from "../generated/messages.js";

export const AddPartitionsToTxnApi = defineApi<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>({
  key: AddPartitionsToTxn.apiKey,
  name: AddPartitionsToTxn.name,
  minVersion: 0,
  maxVersion: 3,
  request: AddPartitionsToTxn.request,
  response: AddPartitionsToTxn.response,
  async handle(req, ctx) {
    const tps = req.v3AndBelowTopics.flatMap((t) =>
      t.partitions.map((partition) => ({ topic: t.name, partition })),
    );
    let errors: number[];
    try {
      errors = (
        await ctx.engine.txn.addPartitions(
          req.v3AndBelowTransactionalId,
          req.v3AndBelowProducerId,
          req.v3AndBelowProducerEpoch,
          tps,
        )
      ).map(codeOf);
    } catch (err) {
      errors = tps.map(() => coordinatorErrorOf(err));
    }
    let i = 0;
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: req.v3AndBelowTopics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode: errors[i++]!,
        })),
      })),
    };
  },
});
