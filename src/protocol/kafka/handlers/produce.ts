/**
 * Produce (key 0), v0-8. Versions 0-2 are advertised because librdkafka (up to 2.11) only
 * compresses with gzip, snappy or lz4 when the broker's Produce range includes v0; they decode,
 * but their message sets (magic 0 and 1) are refused with UNSUPPORTED_FOR_MESSAGE_FORMAT: the
 * log stores RecordBatch v2 only. Every current client sends v3+ with magic 2.
 *   Request: transactional_id (nullable), acks, timeout_ms,
 *            topic_data [name, partition_data [index, records]].
 *   Response: responses [name, partition_responses [index, error_code, base_offset,
 *             log_append_time_ms, log_start_offset (v5+), record_errors (v8+),
 *             error_message (v8+)]], throttle_time_ms.
 * acks -1 and 1 answer after the commit holding the batch is fsynced (a single node is its own
 * in-sync replica set); acks 0 never answers. Unknown topics are auto-created when enabled.
 * With a producer byte rate set, the request's record bytes are charged to its client id.
 * zstd batches need v7+ (KIP-110); in older requests they are UNSUPPORTED_COMPRESSION_TYPE.
 */
import { batchCodec, Compression } from "../../../log/record-batch.js";
import { defineApi, NO_RESPONSE } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  Produce,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from "../generated/messages.js";

/** The first Produce version that may carry zstd batches (KIP-110). */
export const ZSTD_PRODUCE_VERSION_MIN = 7;

export const ProduceApi = defineApi<ProduceRequest, ProduceResponse>({
  key: Produce.apiKey,
  name: Produce.name,
  minVersion: 0,
  maxVersion: 8,
  request: Produce.request,
  response: Produce.response,
  async handle(req, ctx) {
    const { engine } = ctx;
    const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
    // Producer quota (KIP-219): charged on arrival; over it, this connection reads nothing more
    // for the throttle time while this request completes, and the answer carries the time.
    let bytes = 0;
    for (const t of req.topicData) for (const p of t.partitionData) bytes += p.records?.length ?? 0;
    const throttleTimeMs = engine.chargeProducer(ctx.clientId ?? "", bytes);
    ctx.throttle(throttleTimeMs);
    const responses = await Promise.all(
      req.topicData.map(async (t) => {
        // Not awaited: the topic is usable at once and its creation commits before (or with)
        // these appends, which keeps pipelined requests appending in arrival order.
        if (!engine.topic(t.name)) engine.autoCreate(t.name)?.catch(() => undefined);
        const partitionResponses = await Promise.all(
          t.partitionData.map(async (p): Promise<ProduceResponsePartitionProduceResponse> => {
            if (!validAcks)
              return failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1`);
            if (!p.records) return failed(p.index, ErrorCode.CORRUPT_MESSAGE, "records are null");
            if (ctx.apiVersion < ZSTD_PRODUCE_VERSION_MIN && batchCodec(p.records) === Compression.zstd)
              return failed(
                p.index,
                ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
                `zstd batches need Produce v${ZSTD_PRODUCE_VERSION_MIN}+ (this request is v${ctx.apiVersion})`,
              );
            try {
              const r = await engine.append(t.name, p.index, p.records);
              return {
                index: p.index,
                errorCode: ErrorCode.NONE,
                baseOffset: r.baseOffset,
                logAppendTimeMs: r.logAppendTimeMs,
                logStartOffset: r.logStartOffset,
              };
            } catch (err) {
              const e = errorOf(err);
              return failed(p.index, e.code, e.message);
            }
          }),
        );
        return { name: t.name, partitionResponses };
      }),
    );
    if (req.acks === 0) return NO_RESPONSE;
    return { responses, throttleTimeMs };
  },
});

function failed(
  index: number,
  errorCode: number,
  errorMessage: string,
): ProduceResponsePartitionProduceResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage };
}
