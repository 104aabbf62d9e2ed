/**
 * OffsetDelete (key 47), v0 (KIP-496; `kafka-consumer-groups --delete-offsets`).
 *   Request: group_id, topics [name, partitions [partition_index]].
 *   Response: error_code, throttle_time_ms, topics [name, partitions [partition_index, error_code]].
 * As Kafka: an Empty group (or one known only by its committed offsets) loses the named offsets;
 * a live consumer group keeps those of topics it is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC,
 * the others go); a live group of another protocol type is NON_EMPTY_GROUP; an unknown group
 * is GROUP_ID_NOT_FOUND, an empty group id INVALID_GROUP_ID. Offsets that were never committed
 * delete without error; offsets pending in open transactions are deleted too (Kafka's
 * removeOffsets), so a later transaction commit does not bring them back.
 */
import { defineApi } from "../api.js";
import { Reader } from "../codec/reader.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import { OffsetDelete, type OffsetDeleteRequest, type OffsetDeleteResponse } from "../generated/messages.js";

/**
 * Topics the members subscribe to, or null when that cannot be known (no protocol selected
 * yet, or metadata that does not parse): the caller then treats every topic as subscribed,
 * which keeps offsets rather than deleting ones still in use, as Kafka does.
 * Only the leading version and topic list are read: they open every version of the consumer
 * subscription, and some clients (@platformatic/kafka) label v0-shaped data as v1, which a
 * strict decode (Kafka's included) rejects.
 */
function subscribedTopics(metadata: readonly Buffer[] | null): Set<string> | null {
  if (metadata === null) return null;
  const topics = new Set<string>();
  try {
    for (const m of metadata) {
      const r = new Reader(m);
      r.int16(); // version
      const n = r.arrayLength(false, 2);
      if (n < 0) return null; // a null list: nothing known, so everything counts as in use
      for (let i = 0; i < n; i++) topics.add(r.string());
    }
  } catch {
    return null;
  }
  return topics;
}

export const OffsetDeleteApi = defineApi<OffsetDeleteRequest, OffsetDeleteResponse>({
  key: OffsetDelete.apiKey,
  name: OffsetDelete.name,
  minVersion: 0,
  maxVersion: 0,
  request: OffsetDelete.request,
  response: OffsetDelete.response,
  async handle(req, ctx) {
    const { engine } = ctx;
    const refuse = (errorCode: number) => ({ errorCode, throttleTimeMs: 0, topics: [] });
    if (req.groupId === "") return refuse(ErrorCode.INVALID_GROUP_ID);
    const live = engine.groups.membership(req.groupId);
    if (live ? live.state === "Dead" : !engine.groupHasOffsets(req.groupId)) {
      return refuse(ErrorCode.GROUP_ID_NOT_FOUND);
    }
    let inUse = (_topic: string) => false;
    if (live && live.state !== "Empty") {
      if (live.protocolType !== "consumer") return refuse(ErrorCode.NON_EMPTY_GROUP);
      const subscribed = subscribedTopics(live.metadata);
      inUse = (topic) => subscribed === null || subscribed.has(topic);
    }
    // Keyed so that a partition named twice is deleted once (and answered twice, as asked).
    const doomed = new Map<string, { topic: string; partition: number }>();
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map(({ partitionIndex }) => {
        let errorCode: number = ErrorCode.NONE;
        if (!engine.partition(t.name, partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (inUse(t.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        else doomed.set(`${partitionIndex}:${t.name}`, { topic: t.name, partition: partitionIndex });
        return { partitionIndex, errorCode };
      }),
    }));
    try {
      await engine.deleteCommittedOffsets(req.groupId, [...doomed.values()]);
    } catch (err) {
      // The delete did not happen: say so for each partition it was to cover.
      const code = errorOf(err).code;
      for (const t of topics) {
        for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = code;
      }
    }
    return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
  },
});
