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
