/** The public surface of the `oncedb` package. */
export { OnceDB, type OnceDBOptions, type ListenAddress, type BoundAddresses } from "./oncedb.js";
export { Engine, type EngineOptions, type TopicInfo, type AppendResult, type FetchResult } from "./engine/engine.js";
export { EngineError, type EngineErrorName } from "./engine/errors.js";
export { encodeBatch, decodeRecords, type RecordInput, type DecodedRecord } from "./log/records.js";
