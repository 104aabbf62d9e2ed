/** Maps engine errors (Kafka error names) to wire codes, and unexpected errors to a logged -1. */
import { EngineError, type EngineErrorName } from "../../engine/errors.js";
import { ErrorCode } from "./generated/error-codes.js";

export function codeOf(name: EngineErrorName): number {
  const code = (ErrorCode as Record<string, number>)[name];
  return code ?? ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** The Kafka error code and message for anything a handler caught. */
export function errorOf(err: unknown): { code: number; message: string } {
  if (err instanceof EngineError) return { code: codeOf(err.code), message: err.message };
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: (err as Error)?.message ?? String(err) };
}

/**
 * The code for a coordinator request (transactions) that failed for an operating reason, e.g.
 * a failed commit. COORDINATOR_NOT_AVAILABLE is retriable in every client, and a retry is
 * right: the engine has reloaded the durable state, in which the request did not happen.
 */
export function coordinatorErrorOf(err: unknown): number {
  if (err instanceof EngineError && err.code !== "KAFKA_STORAGE_ERROR") return codeOf(err.code);
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}
