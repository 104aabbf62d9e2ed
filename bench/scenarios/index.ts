/** The scenarios, in the order `npm run bench` runs them. Add new ones here. */
import type { PeerName, Scenario } from "../harness/types.js";
import { kafkaE2eLatencyScenario } from "./kafka-e2e-latency.js";
import { kafkaEosScenario } from "./kafka-eos.js";
import { kafkaIngestScenario } from "./kafka-ingest.js";
import { limitsScenario } from "./limits.js";
import { memoryScenario } from "./memory.js";
import { partitionsScaleScenario } from "./partitions-scale.js";
import { responsivenessScenario } from "./responsiveness.js";

export const SCENARIOS: Scenario[] = [
  limitsScenario,
  kafkaIngestScenario,
  kafkaE2eLatencyScenario,
  kafkaEosScenario,
  partitionsScaleScenario,
  memoryScenario,
  responsivenessScenario,
];

/** Named in issue 5 but not written yet; listed by --list so nobody wonders where they went. */
export const PLANNED: { name: string; peers: PeerName[]; what: string }[] = [
  { name: "nats-core", peers: ["nats-server"], what: "core pub -> sub, 100-byte messages" },
  { name: "nats-request", peers: ["nats-server"], what: "request/reply, sequential and 50 concurrent" },
  { name: "nats-jetstream-publish", peers: ["nats-server"], what: "JetStream publish with msgID dedupe" },
  { name: "nats-pull-consume", peers: ["nats-server"], what: "pull consumer, fetch + double ack" },
  { name: "rest-put", peers: ["harperdb"], what: "REST PUT of a 105-byte record" },
  { name: "rest-get", peers: ["harperdb"], what: "REST GET by id" },
  {
    name: "rest-query",
    peers: ["harperdb"],
    what: "REST query returning 10 records on an indexed attribute",
  },
  { name: "subscribe-latency", peers: ["harperdb"], what: "write-to-receipt over a subscription" },
];
