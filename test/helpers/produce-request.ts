/** Produce request bodies for tests that speak the protocol directly (RawKafka). */
import type { ProduceRequest } from "../../src/protocol/kafka/generated/messages.js";

/** One batch (or null records) to one partition. */
export function produceBody(
  topic: string,
  partition: number,
  records: Buffer | null,
  acks = -1,
): ProduceRequest {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}
