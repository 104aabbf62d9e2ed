/**
 * Topic ids (KIP-516). The engine keeps each topic's uuid in the canonical text form
 * ("8-4-4-4-12" hex, as crypto.randomUUID makes it); Kafka puts the same 16 bytes on the wire
 * and shows them as 22 characters of base64url. These two functions convert between the forms.
 */
import type { Engine, TopicInfo } from "../../engine/engine.js";
import { isUuid, uuidFromBytes, ZERO_UUID } from "./codec/uuid.js";

export function kafkaTopicId(uuid: string): string {
  return uuidFromBytes(Buffer.from(uuid.replace(/-/g, ""), "hex"));
}

/** The canonical uuid of a Kafka topic id, or null for the zero id and malformed ids. */
export function engineTopicUuid(kafkaId: string): string | null {
  if (kafkaId === ZERO_UUID || !isUuid(kafkaId)) return null;
  const hex = Buffer.from(kafkaId, "base64url").toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The topic a Kafka topic id names, if it exists. */
export function topicById(engine: Engine, kafkaId: string): TopicInfo | undefined {
  const uuid = engineTopicUuid(kafkaId);
  return uuid === null ? undefined : engine.topicByUuid(uuid);
}
