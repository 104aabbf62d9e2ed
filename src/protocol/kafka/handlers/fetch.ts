/**
 * Fetch (key 1), v4-13 (v12+ flexible).
 *   Request: replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id (v7+),
 *            session_epoch (v7+), topics [topic (v0-12) | topic_id (v13+), partitions [partition,
 *            current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+),
 *            log_start_offset (v5+), partition_max_bytes]], forgotten_topics_data (v7+),
 *            rack_id (v11+).
 *   Response: throttle_time_ms, error_code (v7+), session_id (v7+), responses [topic (v0-12) |
 *             topic_id (v13+), partitions [partition_index, error_code, high_watermark,
 *             last_stable_offset, log_start_offset (v5+), aborted_transactions,
 *             preferred_read_replica (v11+), records]].
 * v13 names topics by id (KIP-516); an unknown id answers UNKNOWN_TOPIC_ID for each of its
 * partitions. last_fetched_epoch is not checked: leader epochs never change on one node, so a
 * log never diverges from what a consumer read.
 * Incremental fetch sessions (KIP-227) are not offered: we answer session_id 0, which tells
 * the client to keep sending full requests. Records are whole stored batches, the one holding
 * fetch_offset first; the response's byte budget is max_bytes, except that the first batch
 * found is always returned so a consumer can make progress (KIP-74).
 * Long poll: if fewer than min_bytes are ready, wait up to max_wait_ms for any requested
 * partition's high watermark to move, then read again.
 * Quota: with a consumer byte rate set, the bytes sent are charged to the client id; when it is
 * over, the answer carries throttle_time_ms and the connection reads nothing more for as long.
 * The connection's answers are also paced at that rate, so they trickle out rather than burst.
 * zstd batches reach v10+ readers only (KIP-110): an older fetch gets the batches before the
 * first zstd one, or UNSUPPORTED_COMPRESSION_TYPE when the fetch offset is in a zstd batch.
 */
import type { FetchRequestItem, FetchResult, IsolationLevel } from "../../../engine/engine.js";
import type { Partition } from "../../../log/partition.js";
import { batchCodec, Compression } from "../../../log/record-batch.js";
import { defineApi, type RequestContext } from "../api.js";
import { codeOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  Fetch,
  type FetchRequest,
  type FetchResponse,
  type FetchResponseFetchableTopicResponse,
  type FetchResponsePartitionData,
} from "../generated/messages.js";
import { topicById } from "../topic-id.js";

/** The first Fetch version a client may be sent zstd batches in (KIP-110). */
export const ZSTD_FETCH_VERSION_MIN = 10;

/** A quota-limited client's answer is paced over at most this long (RequestContext.pace). */
export const PACE_SPREAD_MS_MAX = 1000;

async function readOnce(req: FetchRequest, ctx: RequestContext, isolation: IsolationLevel) {
  const { engine, config } = ctx;
  const budget = Math.min(
    req.maxBytes > 0 ? req.maxBytes : config.fetchResponseBytesMax,
    config.fetchResponseBytesMax,
  );
  // v13+ names topics by id; null = no such topic.
  const names = req.topics.map((t) =>
    ctx.apiVersion >= 13 ? (topicById(engine, t.topicId)?.name ?? null) : t.topic,
  );
  const items: FetchRequestItem[] = [];
  for (const [i, t] of req.topics.entries()) {
    const name = names[i]!;
    if (name === null) continue;
    for (const p of t.partitions) {
      items.push({
        topic: name,
        partition: p.partition,
        offset: p.fetchOffset,
        maxBytes: p.partitionMaxBytes,
      });
    }
  }
  // One read for the whole request, off the main thread (engine.fetchMany).
  const { results, release } = await engine.fetchMany(items, budget, isolation);
  try {
    return answerOf(req, ctx, names, results, release);
  } catch (err) {
    release(); // the caller never sees the answer
    throw err;
  }
}

/** The Fetch response's topics from the engine's answers (in request order), and what it waits on. */
function answerOf(
  req: FetchRequest,
  ctx: RequestContext,
  names: readonly (string | null)[],
  results: readonly FetchResult[],
  release: () => void,
) {
  const { engine } = ctx;
  let total = 0;
  let k = 0;
  const watched: Partition[] = [];
  const responses: FetchResponseFetchableTopicResponse[] = req.topics.map((t, i) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p): FetchResponsePartitionData => {
      const name = names[i]!;
      if (name === null) {
        return {
          partitionIndex: p.partition,
          errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
          highWatermark: -1,
          lastStableOffset: -1,
          logStartOffset: -1,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: null,
        };
      }
      const r = results[k++]!;
      const part = engine.partition(name, p.partition);
      let batches = r.batches;
      let errorCode = codeOf(r.error);
      if (ctx.apiVersion < ZSTD_FETCH_VERSION_MIN && errorCode === ErrorCode.NONE) {
        // What precedes the first zstd batch is served; at the zstd batch the consumer stops.
        const cut = batches.findIndex((b) => batchCodec(b) === Compression.zstd);
        if (cut >= 0) batches = batches.slice(0, cut);
        if (cut === 0) errorCode = ErrorCode.UNSUPPORTED_COMPRESSION_TYPE;
      }
      if (part && errorCode === ErrorCode.NONE) watched.push(part);
      for (const b of batches) total += b.length;
      return {
        partitionIndex: p.partition,
        errorCode,
        highWatermark: r.highWatermark,
        lastStableOffset: r.lastStableOffset,
        logStartOffset: r.logStartOffset,
        abortedTransactions: r.abortedTransactions,
        preferredReadReplica: -1,
        records: errorCode === ErrorCode.NONE ? batches : null,
      };
    }),
  }));
  return { responses, total, watched, release };
}

export const FetchApi = defineApi<FetchRequest, FetchResponse>({
  key: Fetch.apiKey,
  name: Fetch.name,
  minVersion: 4,
  maxVersion: 13,
  request: Fetch.request,
  response: Fetch.response,
  async handle(req, ctx) {
    const isolation: IsolationLevel = req.isolationLevel === 1 ? "read_committed" : "read_uncommitted";
    const deadline =
      ctx.engine.clock.nowMs() + Math.min(Math.max(req.maxWaitMs, 0), ctx.config.fetchMaxWaitMsMax);
    let result = await readOnce(req, ctx, isolation);
    // Registered at once, so an answer is released however the request ends (the connection
    // runs it after the write, when it closes, or when the handler fails).
    ctx.afterWrite(() => result.release());
    // Bounded: each turn waits for a change or the deadline, and the deadline is fixed.
    while (result.total < Math.max(req.minBytes, 1) && result.watched.length > 0) {
      const left = deadline - ctx.engine.clock.nowMs();
      if (left <= 0) break;
      // Not sent: its memory is free for others while this request waits.
      result.release();
      await ctx.engine.waitForData(result.watched, left);
      result = await readOnce(req, ctx, isolation);
    }
    const clientId = ctx.clientId ?? "";
    const rate = ctx.engine.consumerQuota?.rateFor(clientId);
    // Spread over at most PACE_SPREAD_MS_MAX: pacing smooths an answer, the throttle below keeps
    // the average; an answer paced for longer would run into the client's request timeout.
    ctx.pace(rate === undefined ? 0 : Math.max(rate, (result.total * 1000) / PACE_SPREAD_MS_MAX));
    const throttleTimeMs = ctx.engine.chargeConsumer(clientId, result.total);
    ctx.throttle(throttleTimeMs);
    return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: 0, responses: result.responses };
  },
});
