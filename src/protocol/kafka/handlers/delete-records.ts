/**
 * DeleteRecords (key 21), v0-2 (v2 flexible).
 *   Request: topics [name, partitions [partition_index, offset]], timeout_ms.
 *   Response: throttle_time_ms, topics [name, partitions [partition_index, low_watermark, error_code]].
 * offset -1 means the high watermark. Whole batches below the new log start are deleted.
 */
import { defineApi } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  DeleteRecords,
  type DeleteRecordsRequest,
  type DeleteRecordsResponse,
} from "../generated/messages.js";

export const DeleteRecordsApi = defineApi<DeleteRecordsRequest, DeleteRecordsResponse>({
  key: DeleteRecords.apiKey,
  name: DeleteRecords.name,
  minVersion: 0,
  maxVersion: 2,
  request: DeleteRecords.request,
  response: DeleteRecords.response,
  async handle(req, ctx) {
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            try {
              const low = await ctx.engine.deleteRecords(t.name, p.partitionIndex, p.offset);
              return { partitionIndex: p.partitionIndex, lowWatermark: low, errorCode: ErrorCode.NONE };
            } catch (err) {
              return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: errorOf(err).code };
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
