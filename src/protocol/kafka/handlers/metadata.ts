/**
 * Metadata (key 3), v0-12 (v9+ flexible).
 *   Request: topics [topic_id (v10+), name (nullable v10+)] (null = all, v1+),
 *            allow_auto_topic_creation (v4+), include_*_authorized_operations (v8+).
 *   Response: brokers [node_id, host, port, rack], cluster_id (v2+), controller_id (v1+),
 *             topics [error_code, name, topic_id (v10+), is_internal, partitions [...]].
 * One node (id 0) leads every partition. kafkajs sends InitProducerId to controller_id, so
 * it names us too. Topics named twice are answered once. A topic is looked up (or auto-created)
 * by name unless it carries a topic_id: from v12 that is looked up by id alone (an unknown id
 * answers UNKNOWN_TOPIC_ID, nothing is auto-created); before v12 an id or a null name is
 * INVALID_REQUEST, as in Kafka.
 */
import type { TopicInfo } from "../../../engine/engine.js";
import { topicNameProblem } from "../../../engine/topic-config.js";
import { defineApi } from "../api.js";
import { ZERO_UUID } from "../codec/uuid.js";
import { codeOf, errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  Metadata,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataResponseTopic,
} from "../generated/messages.js";
import { kafkaTopicId, topicById } from "../topic-id.js";

export const CLUSTER_ID = "oncedb-single-node";

function describeTopic(t: TopicInfo): MetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: kafkaTopicId(t.uuid),
    isInternal: false,
    partitions: t.partitions.map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.index,
      leaderId: 0,
      leaderEpoch: 0,
      replicaNodes: [0],
      isrNodes: [0],
      offlineReplicas: [],
    })),
  };
}

export const MetadataApi = defineApi<MetadataRequest, MetadataResponse>({
  key: Metadata.apiKey,
  name: Metadata.name,
  minVersion: 0,
  maxVersion: 12,
  request: Metadata.request,
  response: Metadata.response,
  async handle(req, ctx) {
    const { engine, broker, apiVersion } = ctx;
    const brokers = [{ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: null }];
    // v0 has no null topic list: an empty list means "all topics" there.
    const all = req.topics === null || (apiVersion === 0 && req.topics.length === 0);
    let topics: MetadataResponseTopic[];
    if (all) {
      topics = engine.listTopics().map(describeTopic);
    } else {
      const allowAuto = apiVersion < 4 || req.allowAutoTopicCreation;
      // Each topic is answered once, as Kafka does (it reads the list as a set): otherwise a
      // small request naming a big topic many times would build a huge answer.
      const seen = new Set<string>();
      const wanted = req.topics!.filter(({ name, topicId }) => {
        const key = topicId !== ZERO_UUID ? `id:${topicId}` : `name:${name}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      topics = await Promise.all(
        wanted.map(async ({ name, topicId }): Promise<MetadataResponseTopic> => {
          if (topicId !== ZERO_UUID || name === null) {
            // By id: v12 on (Kafka reads a request with ids by its ids alone, and never
            // auto-creates); before v12 ids are not accepted, and names are not nullable.
            if (apiVersion < 12) {
              return { errorCode: ErrorCode.INVALID_REQUEST, name: name ?? "", topicId, partitions: [] };
            }
            const byId = topicById(engine, topicId);
            if (byId) return describeTopic(byId);
            return { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId, partitions: [] };
          }
          const topicName = name;
          const existing = engine.topic(topicName);
          if (existing) return describeTopic(existing);
          if (topicNameProblem(topicName)) {
            return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name: topicName, partitions: [] };
          }
          const creating = allowAuto ? engine.autoCreate(topicName) : null;
          if (!creating)
            return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: topicName, partitions: [] };
          try {
            return describeTopic(await creating);
          } catch (err) {
            const e = errorOf(err);
            // Two clients racing to auto-create the same topic both see it.
            const now = engine.topic(topicName);
            if (now) return describeTopic(now);
            return {
              errorCode: e.code === codeOf("TOPIC_ALREADY_EXISTS") ? ErrorCode.NONE : e.code,
              name: topicName,
              partitions: [],
            };
          }
        }),
      );
    }
    return { throttleTimeMs: 0, brokers, clusterId: CLUSTER_ID, controllerId: broker.nodeId, topics };
  },
});
