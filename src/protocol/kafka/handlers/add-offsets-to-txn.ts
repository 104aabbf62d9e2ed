/**
 * AddOffsetsToTxn (key 25), v0-3 (v3 flexible).
 *   Request: transactional_id, producer_id, producer_epoch, group_id.
 *   Response: throttle_time_ms, error_code.
 * Adds the group to the transaction so TxnOffsetCommit may stage its offsets.
 */
import { defineApi } from "../api.js";
import { codeOf, coordinatorErrorOf } from "../errors.js";
import {
  AddOffsetsToTxn,
  type AddOffsetsToTxnRequest,
  type AddOffsetsToTxnResponse,
} from "../generated/messages.js";

export const AddOffsetsToTxnApi = defineApi<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>({
  key: AddOffsetsToTxn.apiKey,
  name: AddOffsetsToTxn.name,
  minVersion: 0,
  maxVersion: 3,
  request: AddOffsetsToTxn.request,
  response: AddOffsetsToTxn.response,
  async handle(req, ctx) {
    try {
      const e = await ctx.engine.txn.addOffsets(
        req.transactionalId,
        req.producerId,
        req.producerEpoch,
        req.groupId,
      );
      return { throttleTimeMs: 0, errorCode: codeOf(e) };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: coordinatorErrorOf(err) };
    }
  },
});
