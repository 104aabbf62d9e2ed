/** The public surface of the `oncedb` package. */

export {
  type AppendResult,
  Engine,
  type EngineOptions,
  type FetchAnswers,
  type FetchRequestItem,
  type FetchResult,
  type TopicInfo,
} from "./engine/engine.js";
export { EngineError, type EngineErrorName } from "./engine/errors.js";
export type { ByteRateQuotaConfig } from "./engine/quota.js";
export { type DecodedRecord, decodeRecords, encodeBatch, type RecordInput } from "./log/records.js";
export { BusError, MessageBus } from "./messaging/bus.js";
export { type DecodedHeaders, decodeHeaders, encodeHeaders } from "./messaging/headers.js";
export type { Subscriber, Subscription } from "./messaging/types.js";
export { type MetricSources, Metrics } from "./metrics/metrics.js";
export { type BoundAddresses, type ListenAddress, OnceDB, type OnceDBOptions } from "./oncedb.js";
