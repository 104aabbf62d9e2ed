/**
 * DeleteTopics (key 20), v0-3.
 *   Request: topic_names, timeout_ms.   Response: throttle_time_ms (v1+), responses [name, error_code].
 * The topic disappears at once; its batches are reclaimed in bounded chunks afterwards.
 */
import { defineApi } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import { DeleteTopics, type DeleteTopicsRequest, type DeleteTopicsResponse } from "../generated/messages.js";

export const DeleteTopicsApi = defineApi<DeleteTopicsRequest, DeleteTopicsResponse>({
  key: DeleteTopics.apiKey,
  name: DeleteTopics.name,
  minVersion: 0,
  maxVersion: 3,
  request: DeleteTopics.request,
  response: DeleteTopics.response,
  async handle(req, ctx) {
    const responses = await Promise.all(
      req.topicNames.map(async (name) => {
        try {
          await ctx.engine.deleteTopic(name);
          return { name, errorCode: ErrorCode.NONE };
        } catch (err) {
          return { name, errorCode: errorOf(err).code };
        }
      }),
    );
    return { throttleTimeMs: 0, responses };
  },
});
