/**
 * ListOffsets (v2, latest) over the product's raw client: kafkajs's admin only lists offsets
 * read_committed, so high watermarks (isolation level 0) need this.
 */
import { KafkaClient } from "../../src/protocol/kafka/client.js";
import { ListOffsets } from "../../src/protocol/kafka/generated/messages.js";

/** The raw per-partition ListOffsets results for partitions 0..partitions-1 of `topic`. */
export async function listOffsetsPartitions(
  address: string,
  topic: string,
  partitions: number,
  isolationLevel: 0 | 1,
) {
  const c = await KafkaClient.connect(address);
  try {
    const res = await c.request(ListOffsets, 2, {
      replicaId: -1,
      isolationLevel,
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, i) => ({
            partitionIndex: i,
            currentLeaderEpoch: -1,
            timestamp: -1,
            maxNumOffsets: 1,
          })),
        },
      ],
      timeoutMs: 0,
    });
    return res.topics![0]!.partitions!;
  } finally {
    c.close();
  }
}

/** End offsets by partition: high watermarks (isolationLevel 0) or last stable offsets (1). */
export async function listOffsets(
  address: string,
  topic: string,
  partitions: number,
  isolationLevel: 0 | 1,
): Promise<Map<number, number>> {
  const parts = await listOffsetsPartitions(address, topic, partitions, isolationLevel);
  return new Map(parts.map((p) => [p.partitionIndex!, Number(p.offset)]));
}
