/**
 * Exactly-once with librdkafka (kcat 1.7.1 / librdkafka 2.0.2 from Debian): transactional
 * produce, read_committed and read_uncommitted consumers, the idempotent producer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { run } from "./helpers/run.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

const kcat = (args: string[], input?: string) =>
  run("kcat", ["-b", server.kafkaAddress, ...args], { input, timeoutMs: 30_000 });

async function consume(topic: string, isolation: "read_committed" | "read_uncommitted"): Promise<string[]> {
  const r = await kcat([
    "-C",
    "-t",
    topic,
    "-e",
    "-q",
    "-X",
    `isolation.level=${isolation}`,
    "-f",
    "%k=%s\\n",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

describe("exactly-once with kcat (librdkafka)", { timeout: 120_000 }, () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it("commits a transactional produce that read_committed consumers then see", async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `k${i}:v${i}`).join("\n");
    const p = await kcat(["-P", "-t", "kc-txn", "-K:", "-X", "transactional.id=kcat-txn-1"], `${lines}\n`);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /Transaction successfully committed/);
    const committed = await consume("kc-txn", "read_committed");
    assert.deepEqual(
      committed,
      Array.from({ length: 200 }, (_, i) => `k${i}=v${i}`),
    );
    assert.deepEqual(await consume("kc-txn", "read_uncommitted"), committed);
    // The end offset counts the commit marker: 200 records + 1 control record.
    const meta = await kcat(["-Q", "-t", "kc-txn:0:-1"]);
    assert.match(meta.stdout, /kc-txn \[0\] offset 201/);
  });

  it("a second transactional run with the same id fences nothing visible and appends after the first", async () => {
    const p = await kcat(["-P", "-t", "kc-txn", "-K:", "-X", "transactional.id=kcat-txn-1"], "again:1\n");
    assert.equal(p.code, 0, p.stderr);
    const all = await consume("kc-txn", "read_committed");
    assert.equal(all.length, 201);
    assert.equal(all[200], "again=1");
  });

  it("librdkafka's idempotent producer writes each message once", async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `i${i}:x`).join("\n");
    const p = await kcat(
      ["-P", "-t", "kc-idem", "-K:", "-X", "enable.idempotence=true", "-X", "linger.ms=5"],
      `${lines}\n`,
    );
    assert.equal(p.code, 0, p.stderr);
    const got = await consume("kc-idem", "read_uncommitted");
    assert.deepEqual(
      got,
      Array.from({ length: 500 }, (_, i) => `i${i}=x`),
    );
  });
});
