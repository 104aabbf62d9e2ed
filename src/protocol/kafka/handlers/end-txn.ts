/**
 * EndTxn (key 26), v0-3 (v3 flexible).
 *   Request: transactional_id, producer_id, producer_epoch, committed.
 *   Response: throttle_time_ms, error_code.
 * Answers only after the markers are in every partition of the transaction and its offsets are
 * committed (or discarded), in one durable commit: no CONCURRENT_TRANSACTIONS afterwards.
 * A retry of a completed EndTxn with the same outcome succeeds.
 */
import { defineApi } from "../api.js";
import { codeOf, coordinatorErrorOf } from "../errors.js";
import { EndTxn, type EndTxnRequest, type EndTxnResponse } from "../generated/messages.js";

export const EndTxnApi = defineApi<EndTxnRequest, EndTxnResponse>({
  key: EndTxn.apiKey,
  name: EndTxn.name,
  minVersion: 0,
  maxVersion: 3,
  request: EndTxn.request,
  response: EndTxn.response,
  async handle(req, ctx) {
    try {
      const e = await ctx.engine.txn.endTxn(
        req.transactionalId,
        req.producerId,
        req.producerEpoch,
        req.committed,
      );
      return { throttleTimeMs: 0, errorCode: codeOf(e) };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: coordinatorErrorOf(err) };
    }
  },
});
