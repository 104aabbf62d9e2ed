/**
 * Errors of the database layer, named for what the caller did wrong rather than for a protocol:
 * the HTTP adapter maps them to status codes (404, 400, 409, 413), other adapters to theirs.
 * Storage failures stay EngineErrors (KAFKA_STORAGE_ERROR), which adapters answer as "try again".
 */
export type TableErrorCode =
  /** No such table. */
  | "TABLE_NOT_FOUND"
  /** No such record (PATCH, DELETE, or a record-level read). */
  | "RECORD_NOT_FOUND"
  /** The table (or a topic of its name) exists already. */
  | "EXISTS"
  /** Malformed input: a record, a query, a definition. */
  | "INVALID"
  /** A named limit was exceeded. */
  | "LIMIT"
  /** The server cannot take it now (write queue full); retrying later may work. */
  | "UNAVAILABLE";

export class TableError extends Error {
  override name = "TableError";
  constructor(
    readonly code: TableErrorCode,
    message: string,
  ) {
    super(message);
  }
}
