// Typed errors for the Kafka wire codec. `code` is stable and meant for logs and metrics; the
// message is for humans.

export type KafkaDecodeErrorCode =
  /** A read ran past the end of the input (truncated frame or corrupt length). */
  | "UNDERFLOW"
  /** A length or count was negative where only -1 (null) is allowed. */
  | "NEGATIVE_LENGTH"
  /** A length or count is larger than the remaining input or a protocol limit. */
  | "LENGTH_TOO_LARGE"
  /** A varint used more bytes than its type allows. */
  | "VARINT_TOO_LONG"
  /** An int64 does not fit in a JS number without loss (|v| > 2^53 - 1). */
  | "INT64_UNSAFE"
  /** A null was sent for a field that is not nullable in this version. */
  | "UNEXPECTED_NULL"
  /** A tagged field's declared size does not match its content. */
  | "TAGGED_FIELD_SIZE"
  /** The message version is outside the schema's valid versions. */
  | "UNSUPPORTED_VERSION"
  /** Bytes were left after a message that should fill its buffer. */
  | "TRAILING_BYTES";

export class KafkaDecodeError extends Error {
  override readonly name = "KafkaDecodeError";
  readonly code: KafkaDecodeErrorCode;

  constructor(code: KafkaDecodeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export type KafkaEncodeErrorCode =
  /** The message version is outside the schema's valid versions. */
  | "UNSUPPORTED_VERSION"
  /** A value does not fit its wire type (range, length, null, malformed uuid). */
  | "INVALID_VALUE";

export class KafkaEncodeError extends Error {
  override readonly name = "KafkaEncodeError";
  readonly code: KafkaEncodeErrorCode;
  /** Where in the message the bad value is, e.g. "topics[0].partitions[2].records". */
  fieldPath = "";

  constructor(code: KafkaEncodeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
