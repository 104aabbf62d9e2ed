/** Polling waits with a deadline. */

/** Polls `cond` every 20 ms; throws "timed out waiting for <what()>" once `timeoutMs` has passed. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
