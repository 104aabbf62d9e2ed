/**
 * CreateTopics (key 19), v0-7 (v5+ flexible).
 *   Request: topics [name, num_partitions, replication_factor, assignments [partition_index,
 *            broker_ids], configs [name, value]], timeout_ms, validate_only (v1+).
 *   Response: throttle_time_ms (v2+), topics [name, topic_id (v7+), error_code,
 *             error_message (v1+), num_partitions, replication_factor, configs [name, value,
 *             read_only, config_source, is_sensitive] (v5+, KIP-525)].
 * num_partitions -1 takes the broker default; replication factor must be -1 or 1 (one node).
 * Explicit assignments are accepted when they only name node 0. A validate_only answer
 * describes the topic that would be made, with the zero topic id (none was made).
 */
import { topicConfigEntries } from "../../../engine/topic-config.js";
import { defineApi } from "../api.js";
import { ZERO_UUID } from "../codec/uuid.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  CreateTopics,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  type CreateTopicsResponseCreatableTopicResult,
} from "../generated/messages.js";
import { kafkaTopicId } from "../topic-id.js";

/** Kafka's ConfigSource values used in the v5+ answer. */
const ConfigSource = { topicOverride: 1, default: 5 } as const;

/** Topics in one request: each costs a durable commit, and a request must stay bounded. */
export const CREATE_TOPICS_PER_REQUEST_MAX = 10_000;

export const CreateTopicsApi = defineApi<CreateTopicsRequest, CreateTopicsResponse>({
  key: CreateTopics.apiKey,
  name: CreateTopics.name,
  minVersion: 0,
  maxVersion: 7,
  request: CreateTopics.request,
  response: CreateTopics.response,
  async handle(req, ctx) {
    const { engine } = ctx;
    const seen = new Map<string, number>();
    for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        const fail = (errorCode: number, errorMessage: string): CreateTopicsResponseCreatableTopicResult => ({
          name: t.name,
          topicId: ZERO_UUID,
          errorCode,
          errorMessage,
          topicConfigErrorCode: ErrorCode.NONE,
          numPartitions: -1,
          replicationFactor: -1,
          configs: null,
        });
        if (req.topics.length > CREATE_TOPICS_PER_REQUEST_MAX) {
          return fail(
            ErrorCode.POLICY_VIOLATION,
            `at most ${CREATE_TOPICS_PER_REQUEST_MAX} topics per request`,
          );
        }
        if ((seen.get(t.name) ?? 0) > 1)
          return fail(ErrorCode.INVALID_REQUEST, "topic named twice in one request");
        if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && t.assignments.length === 0) {
          return fail(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            `replication factor ${t.replicationFactor} > 1 available node`,
          );
        }
        if (t.assignments.some((a) => a.brokerIds.some((b) => b !== 0))) {
          return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "assignments may only name node 0");
        }
        const partitions =
          t.assignments.length > 0
            ? t.assignments.length
            : t.numPartitions === -1
              ? engine.defaultPartitions
              : t.numPartitions;
        const configs: Record<string, string | null> = {};
        for (const c of t.configs) configs[c.name] = c.value;
        try {
          const topic = await engine.createTopic(t.name, partitions, configs, req.validateOnly);
          return {
            name: t.name,
            topicId: req.validateOnly ? ZERO_UUID : kafkaTopicId(topic.uuid),
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            topicConfigErrorCode: ErrorCode.NONE,
            numPartitions: partitions,
            replicationFactor: 1,
            configs: topicConfigEntries(topic.configs).map((c) => ({
              name: c.name,
              value: c.value,
              readOnly: false,
              configSource: c.isDefault ? ConfigSource.default : ConfigSource.topicOverride,
              isSensitive: false,
            })),
          };
        } catch (err) {
          const e = errorOf(err);
          return fail(e.code, e.message);
        }
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
});
