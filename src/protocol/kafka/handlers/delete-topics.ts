/**
 * DeleteTopics (key 20), v0-6 (v4+ flexible).
 *   Request: topic_names (v0-5) or topics [name (nullable), topic_id] (v6+), timeout_ms.
 *   Response: throttle_time_ms (v1+), responses [name (nullable v6+), topic_id (v6+),
 *             error_code, error_message (v5+)].
 * The topic disappears at once; its batches are reclaimed in bounded chunks afterwards.
 * v6 names each topic by name or by id (KIP-516), not both, as Kafka requires: both or neither
 * is INVALID_REQUEST, an unknown id UNKNOWN_TOPIC_ID, a topic named twice INVALID_REQUEST.
 */
import { defineApi } from "../api.js";
import { ZERO_UUID } from "../codec/uuid.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  DeleteTopics,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  type DeleteTopicsResponseDeletableTopicResult,
} from "../generated/messages.js";
import { kafkaTopicId, topicById } from "../topic-id.js";

export const DeleteTopicsApi = defineApi<DeleteTopicsRequest, DeleteTopicsResponse>({
  key: DeleteTopics.apiKey,
  name: DeleteTopics.name,
  minVersion: 0,
  maxVersion: 6,
  request: DeleteTopics.request,
  response: DeleteTopics.response,
  async handle(req, ctx) {
    const { engine, apiVersion } = ctx;
    const wanted =
      apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    // A topic named twice (by the same name or id) is refused every time, as Kafka's controller
    // does, rather than deleted by the first mention and reported missing by the next.
    const mentions = new Map<string, number>();
    const keyOf = (t: { name: string | null; topicId: string }) =>
      t.topicId !== ZERO_UUID ? `id:${t.topicId}` : `name:${t.name}`;
    for (const t of wanted) mentions.set(keyOf(t), (mentions.get(keyOf(t)) ?? 0) + 1);
    const responses = await Promise.all(
      wanted.map(async ({ name, topicId }): Promise<DeleteTopicsResponseDeletableTopicResult> => {
        const fail = (errorCode: number, errorMessage: string) => ({
          name,
          topicId,
          errorCode,
          errorMessage,
        });
        if ((name === null) === (topicId === ZERO_UUID)) {
          return fail(ErrorCode.INVALID_REQUEST, "name a topic by its name or by its id, not both");
        }
        if ((mentions.get(keyOf({ name, topicId })) ?? 0) > 1) {
          return fail(ErrorCode.INVALID_REQUEST, "topic named more than once in one request");
        }
        let topicName = name;
        if (topicName === null) {
          const topic = topicById(engine, topicId);
          if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_ID, `no topic has id ${topicId}`);
          topicName = topic.name;
        }
        const id = topicId === ZERO_UUID ? engine.topic(topicName)?.uuid : undefined;
        try {
          await engine.deleteTopic(topicName);
          return {
            name: topicName,
            topicId: id === undefined ? topicId : kafkaTopicId(id),
            errorCode: ErrorCode.NONE,
            errorMessage: null,
          };
        } catch (err) {
          const e = errorOf(err);
          return fail(e.code, e.message);
        }
      }),
    );
    return { throttleTimeMs: 0, responses };
  },
});
