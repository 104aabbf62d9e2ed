/**
 * CreatePartitions (key 37), v0-3 (v2+ flexible).
 *   Request: topics [name, count, assignments (nullable)], timeout_ms, validate_only.
 *   Response: throttle_time_ms, results [name, error_code, error_message].
 */
import { defineApi } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  CreatePartitions,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
} from "../generated/messages.js";

export const CreatePartitionsApi = defineApi<CreatePartitionsRequest, CreatePartitionsResponse>({
  key: CreatePartitions.apiKey,
  name: CreatePartitions.name,
  minVersion: 0,
  maxVersion: 3,
  request: CreatePartitions.request,
  response: CreatePartitions.response,
  async handle(req, ctx) {
    const results = await Promise.all(
      req.topics.map(async (t) => {
        if (t.assignments?.some((a) => a.brokerIds.some((b) => b !== 0))) {
          return {
            name: t.name,
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: "assignments may only name node 0",
          };
        }
        try {
          await ctx.engine.createPartitions(t.name, t.count, req.validateOnly);
          return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
        } catch (err) {
          const e = errorOf(err);
          return { name: t.name, errorCode: e.code, errorMessage: e.message };
        }
      }),
    );
    return { throttleTimeMs: 0, results };
  },
});
