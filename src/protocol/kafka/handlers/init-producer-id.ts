/**
 * InitProducerId (key 22), v0-4 (v2+ flexible).
 *   Request: transactional_id (nullable), transaction_timeout_ms, producer_id (v3+),
 *            producer_epoch (v3+).
 *   Response: throttle_time_ms, error_code, producer_id, producer_epoch.
 * Without a transactional id: a fresh idempotent producer id. With one: the epoch is bumped,
 * fencing any older incarnation; an open transaction of the old incarnation is aborted first.
 * v3+ may name the current id/epoch (KIP-360) to bump after an abortable error.
 * A fenced producer gets INVALID_PRODUCER_EPOCH before v4 (kafkajs knows no PRODUCER_FENCED).
 */
import { defineApi } from "../api.js";
import { codeOf, coordinatorErrorOf } from "../errors.js";
import {
  InitProducerId,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from "../generated/messages.js";

export const InitProducerIdApi = defineApi<InitProducerIdRequest, InitProducerIdResponse>({
  key: InitProducerId.apiKey,
  name: InitProducerId.name,
  minVersion: 0,
  maxVersion: 4,
  request: InitProducerId.request,
  response: InitProducerId.response,
  async handle(req, ctx) {
    const expected =
      ctx.apiVersion >= 3 ? { producerId: req.producerId, producerEpoch: req.producerEpoch } : null;
    let r: Awaited<ReturnType<typeof ctx.engine.txn.initProducerId>>;
    try {
      r = await ctx.engine.txn.initProducerId(
        req.transactionalId,
        req.transactionTimeoutMs,
        expected,
        ctx.apiVersion >= 4 ? "PRODUCER_FENCED" : "INVALID_PRODUCER_EPOCH",
      );
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: coordinatorErrorOf(err), producerId: -1, producerEpoch: -1 };
    }
    if (r.error !== "NONE")
      return { throttleTimeMs: 0, errorCode: codeOf(r.error), producerId: -1, producerEpoch: -1 };
    const ok = r as { producerId: number; producerEpoch: number };
    return { throttleTimeMs: 0, errorCode: 0, producerId: ok.producerId, producerEpoch: ok.producerEpoch };
  },
});
