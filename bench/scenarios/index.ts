/** The scenarios, in the order `npm run bench` runs them. Add new ones here. */
import type { Scenario } from "../harness/types.js";
import { kafkaE2eLatencyScenario } from "./kafka-e2e-latency.js";
import { kafkaEosScenario } from "./kafka-eos.js";
import { kafkaIngestScenario } from "./kafka-ingest.js";
import { limitsScenario } from "./limits.js";
import { memoryScenario } from "./memory.js";
import {
  natsCoreScenario,
  natsJetstreamPublishScenario,
  natsPullConsumeScenario,
  natsRequestScenario,
} from "./nats.js";
import { partitionsScaleScenario } from "./partitions-scale.js";
import { responsivenessScenario } from "./responsiveness.js";
import { restGetScenario, restPutScenario, restQueryScenario, subscribeLatencyScenario } from "./rest.js";

export const SCENARIOS: Scenario[] = [
  limitsScenario,
  kafkaIngestScenario,
  kafkaE2eLatencyScenario,
  kafkaEosScenario,
  partitionsScaleScenario,
  memoryScenario,
  responsivenessScenario,
  natsCoreScenario,
  natsRequestScenario,
  natsJetstreamPublishScenario,
  natsPullConsumeScenario,
  restPutScenario,
  restGetScenario,
  restQueryScenario,
  subscribeLatencyScenario,
];
