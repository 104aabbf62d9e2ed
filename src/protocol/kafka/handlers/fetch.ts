/**
 * Fetch (key 1), v4-11.
 *   Request: replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id (v7+),
 *            session_epoch (v7+), topics [topic, partitions [partition, current_leader_epoch (v9+),
 *            fetch_offset, log_start_offset (v5+), partition_max_bytes]],
 *            forgotten_topics_data (v7+), rack_id (v11+).
 *   Response: throttle_time_ms, error_code (v7+), session_id (v7+), responses [topic,
 *             partitions [partition_index, error_code, high_watermark, last_stable_offset,
 *             log_start_offset (v5+), aborted_transactions, preferred_read_replica (v11+),
 *             records]].
 * Incremental fetch sessions (KIP-227) are not offered: we answer session_id 0, which tells
 * the client to keep sending full requests. Records are whole stored batches, the one holding
 * fetch_offset first; the response's byte budget is max_bytes, except that the first batch
 * found is always returned so a consumer can make progress (KIP-74).
 * Long poll: if fewer than min_bytes are ready, wait up to max_wait_ms for any requested
 * partition's high watermark to move, then read again.
 */
import type { FetchResult, IsolationLevel } from "../../../engine/engine.js";
import type { Partition } from "../../../log/partition.js";
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

/**
 * Bytes read synchronously before yielding to the event loop: a fetch is read in slices, within
 * a partition and across partitions, so produce acknowledgements and other connections are
 * served in between (a 50 MB read in one go held the main thread ~50-90 ms in the
 * responsiveness benchmark).
 */
export const FETCH_SLICE_BYTES = 4 * 1024 * 1024;

async function readOnce(req: FetchRequest, ctx: RequestContext, isolation: IsolationLevel) {
  const { engine, config } = ctx;
  let budget = Math.min(
    req.maxBytes > 0 ? req.maxBytes : config.fetchResponseBytesMax,
    config.fetchResponseBytesMax,
  );
  let total = 0;
  let sinceYield = 0;
  const watched: Partition[] = [];
  const responses: FetchResponseFetchableTopicResponse[] = [];
  for (const t of req.topics) {
    const partitions: FetchResponsePartitionData[] = [];
    responses.push({ topic: t.topic, partitions });
    for (const p of t.partitions) {
      if (sinceYield >= FETCH_SLICE_BYTES) {
        await new Promise((resolve) => setImmediate(resolve));
        sinceYield = 0;
      }
      const limit = budget > 0 ? Math.min(p.partitionMaxBytes, budget) : 0;
      const r: FetchResult = await engine.fetchSliced(
        t.topic,
        p.partition,
        p.fetchOffset,
        limit,
        isolation,
        FETCH_SLICE_BYTES,
      );
      const part = engine.partition(t.topic, p.partition);
      if (part && r.error === "NONE") watched.push(part);
      budget -= r.bytes;
      total += r.bytes;
      sinceYield += r.bytes;
      partitions.push({
        partitionIndex: p.partition,
        errorCode: codeOf(r.error),
        highWatermark: r.highWatermark,
        lastStableOffset: r.lastStableOffset,
        logStartOffset: r.logStartOffset,
        abortedTransactions: r.abortedTransactions,
        preferredReadReplica: -1,
        records: r.batches,
      });
    }
  }
  return { responses, total, watched };
}

export const FetchApi = defineApi<FetchRequest, FetchResponse>({
  key: Fetch.apiKey,
  name: Fetch.name,
  minVersion: 4,
  maxVersion: 11,
  request: Fetch.request,
  response: Fetch.response,
  async handle(req, ctx) {
    const isolation: IsolationLevel = req.isolationLevel === 1 ? "read_committed" : "read_uncommitted";
    const deadline =
      ctx.engine.clock.nowMs() + Math.min(Math.max(req.maxWaitMs, 0), ctx.config.fetchMaxWaitMsMax);
    let result = await readOnce(req, ctx, isolation);
    // Bounded: each turn waits for a change or the deadline, and the deadline is fixed.
    while (result.total < Math.max(req.minBytes, 1) && result.watched.length > 0) {
      const left = deadline - ctx.engine.clock.nowMs();
      if (left <= 0) break;
      await ctx.engine.waitForData(result.watched, left);
      result = await readOnce(req, ctx, isolation);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: result.responses };
  },
});
