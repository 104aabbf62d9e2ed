/** Record bodies shared by the REST load generators and the scenarios' seeding (no side effects on import). */

/** A JSON record body of exactly `bytes` bytes (when `bytes` is large enough): {"id":"...","grp":N,"v":"..."}. */
export function recordBody(id: string, grp: number, bytes: number): string {
  const base = JSON.stringify({ id, grp, v: "" });
  return JSON.stringify({ id, grp, v: "x".repeat(Math.max(0, bytes - base.length)) });
}
