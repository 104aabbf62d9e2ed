/**
 * DescribeTransactions (key 65), v0 (flexible). KIP-664.
 *   Request: transactional_ids.
 *   Response: throttle_time_ms, transaction_states [error_code, transactional_id,
 *             transaction_state, transaction_timeout_ms, transaction_start_time_ms,
 *             producer_id, producer_epoch, topics [topic, partitions]].
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  DescribeTransactions,
  type DescribeTransactionsRequest,
  type DescribeTransactionsResponse,
} from "../generated/messages.js";

export const DescribeTransactionsApi = defineApi<DescribeTransactionsRequest, DescribeTransactionsResponse>({
  key: DescribeTransactions.apiKey,
  name: DescribeTransactions.name,
  minVersion: 0,
  maxVersion: 0,
  request: DescribeTransactions.request,
  response: DescribeTransactions.response,
  handle(req, ctx) {
    const { engine } = ctx;
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((id) => {
        const t = engine.txn.describe(id);
        if (!t)
          return {
            errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
            transactionalId: id,
            transactionState: "",
            topics: [],
          };
        const byTopic = new Map<string, number[]>();
        for (const partitionId of t.partitions.keys()) {
          const p = engine.partitionById(partitionId);
          if (!p) continue;
          let list = byTopic.get(p.topic);
          if (!list) byTopic.set(p.topic, (list = []));
          list.push(p.index);
        }
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: t.state,
          transactionTimeoutMs: t.timeoutMs,
          transactionStartTimeMs: t.state === "Ongoing" ? t.startMs : -1,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        };
      }),
    };
  },
});
