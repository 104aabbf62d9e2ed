/**
 * ListTransactions (key 66), v0-1 (flexible). KIP-664, KIP-994.
 *   Request: state_filters, producer_id_filters, duration_filter (v1+: running longer than, ms).
 *   Response: throttle_time_ms, error_code, unknown_state_filters, transaction_states
 *             [transactional_id, producer_id, transaction_state].
 */
import { TxnState } from "../../../txn/types.js";
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  ListTransactions,
  type ListTransactionsRequest,
  type ListTransactionsResponse,
} from "../generated/messages.js";

const KNOWN_STATES = new Set<string>(Object.values(TxnState));

export const ListTransactionsApi = defineApi<ListTransactionsRequest, ListTransactionsResponse>({
  key: ListTransactions.apiKey,
  name: ListTransactions.name,
  minVersion: 0,
  maxVersion: 1,
  request: ListTransactions.request,
  response: ListTransactions.response,
  handle(req, ctx) {
    const now = ctx.engine.clock.nowMs();
    const states = new Set(req.stateFilters);
    const pids = new Set(req.producerIdFilters);
    const minDuration = ctx.apiVersion >= 1 ? req.durationFilter : -1;
    const transactionStates = ctx.engine.txn
      .list()
      .filter((t) => states.size === 0 || states.has(t.state))
      .filter((t) => pids.size === 0 || pids.has(t.producerId))
      .filter((t) => minDuration < 0 || (t.state === TxnState.Ongoing && now - t.startMs >= minDuration))
      .map((t) => ({
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        transactionState: t.state,
      }));
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      unknownStateFilters: req.stateFilters.filter((s) => !KNOWN_STATES.has(s)),
      transactionStates,
    };
  },
});
