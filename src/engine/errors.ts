/**
 * Operating errors the engine reports. The names are Kafka's error names (the log's storage
 * format is Kafka's, and its error vocabulary is the one our users already know); each
 * protocol adapter maps a name to its own wire error (the Kafka adapter to the numeric code).
 */
export type EngineErrorName =
  | "NONE"
  | "UNKNOWN_SERVER_ERROR"
  | "OFFSET_OUT_OF_RANGE"
  | "OFFSET_METADATA_TOO_LARGE"
  | "CORRUPT_MESSAGE"
  | "INVALID_TIMESTAMP"
  | "UNKNOWN_TOPIC_OR_PARTITION"
  | "MESSAGE_TOO_LARGE"
  | "INVALID_TOPIC_EXCEPTION"
  | "INVALID_RECORD"
  | "UNSUPPORTED_FOR_MESSAGE_FORMAT"
  | "TOPIC_ALREADY_EXISTS"
  | "INVALID_PARTITIONS"
  | "INVALID_REPLICATION_FACTOR"
  | "INVALID_CONFIG"
  | "INVALID_REQUEST"
  | "KAFKA_STORAGE_ERROR"
  | "POLICY_VIOLATION"
  | "GROUP_ID_NOT_FOUND"
  | "REQUEST_TIMED_OUT"
  | "INVALID_PRODUCER_EPOCH"
  | "PRODUCER_FENCED"
  | "OUT_OF_ORDER_SEQUENCE_NUMBER"
  | "INVALID_TXN_STATE"
  | "INVALID_PRODUCER_ID_MAPPING"
  | "INVALID_TRANSACTION_TIMEOUT"
  | "CONCURRENT_TRANSACTIONS"
  /** A fenced committer: the offset it expected to advance from had moved (tables.commit). */
  | "FENCED_MEMBER_EPOCH"
  | "TRANSACTIONAL_ID_NOT_FOUND"
  | "OPERATION_NOT_ATTEMPTED"
  | "UNSTABLE_OFFSET_COMMIT"
  | "COORDINATOR_NOT_AVAILABLE"
  | "ILLEGAL_GENERATION"
  | "UNKNOWN_MEMBER_ID"
  | "REBALANCE_IN_PROGRESS"
  | "FENCED_INSTANCE_ID"
  | "INVALID_GROUP_ID";

export class EngineError extends Error {
  override name = "EngineError";
  constructor(
    readonly code: EngineErrorName,
    message: string,
  ) {
    super(message);
  }
}
