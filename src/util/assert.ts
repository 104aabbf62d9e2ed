/**
 * Invariant checks. A failed assertion is a programmer error, never an operating error:
 * it throws AssertionError and is not meant to be caught (see docs/ARCHITECTURE.md, "Errors").
 */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
