/**
 * The Operations API (`POST /` on OnceDB's HTTP listener) as the tests call it.
 */
import assert from "node:assert/strict";

/**
 * POSTs an operation; returns the status and the parsed answer (undefined when empty). A string
 * body is sent as is, so tests can send malformed JSON.
 */
export async function operation(baseUrl: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** The same for steps that must succeed: asserts 200 and returns the answer. */
export async function operationOk<T = unknown>(baseUrl: string, body: unknown): Promise<T> {
  const r = await operation(baseUrl, body);
  assert.equal(r.status, 200, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
}
