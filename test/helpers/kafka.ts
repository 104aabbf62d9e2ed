/** kafkajs clients for tests: quiet logs, short retries, a client id per test. */
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

export function kafkaClient(broker: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: "oncedb-test",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 },
    ...extra,
  });
}

/** A group's committed offsets for one topic, by partition (as kafkajs's admin reports them). */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(t!.partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** The Kafka error name of a kafkajs error, looking through its causes. */
export function errorType(err: unknown): string | undefined {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type) return e.type;
  }
  return undefined;
}
