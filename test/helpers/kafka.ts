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
