/**
 * DescribeProducers (key 61), v0 (flexible). KIP-664.
 *   Request: topics [name, partition_indexes].
 *   Response: throttle_time_ms, topics [name, partitions [partition_index, error_code,
 *             error_message, active_producers [producer_id, producer_epoch, last_sequence,
 *             last_timestamp, coordinator_epoch, current_txn_start_offset]]].
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  DescribeProducers,
  type DescribeProducersRequest,
  type DescribeProducersResponse,
} from "../generated/messages.js";

export const DescribeProducersApi = defineApi<DescribeProducersRequest, DescribeProducersResponse>({
  key: DescribeProducers.apiKey,
  name: DescribeProducers.name,
  minVersion: 0,
  maxVersion: 0,
  request: DescribeProducers.request,
  response: DescribeProducers.response,
  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const p = ctx.engine.partition(t.name, partitionIndex);
          if (!p) {
            return {
              partitionIndex,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: null,
              activeProducers: [],
            };
          }
          return {
            partitionIndex,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            activeProducers: ctx.engine.txn.producersOf(p.id).map((s) => ({
              producerId: s.producerId,
              producerEpoch: s.epoch,
              lastSequence: s.lastSequence,
              lastTimestamp: s.lastTimestampMs,
              coordinatorEpoch: 0,
              currentTxnStartOffset: s.txnStartOffset,
            })),
          };
        }),
      })),
    };
  },
});
