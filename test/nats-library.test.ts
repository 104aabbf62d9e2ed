/**
 * The message bus is the engine's, not the NATS adapter's: in an embedded OnceDB, a message
 * published through `engine.bus` reaches a NATS client's subscription (wildcard and queue group),
 * and what a NATS client publishes (with headers and a reply subject) reaches an in-process
 * subscriber, which can answer the request through the bus. Also: the library starts NATS only
 * when asked, and close() disconnects NATS clients.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { OnceDB } from "../src/index.js";
import { decodeHeaders } from "../src/messaging/headers.js";
import type { Subscriber, Subscription } from "../src/messaging/types.js";

describe("NATS through the engine's bus (embedded OnceDB)", { timeout: 60_000 }, () => {
  let db: OnceDB;
  let dataDir: string;
  let nc: NatsConnection;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-bus-"));
    db = await OnceDB.start({
      dataDir,
      kafka: { host: "127.0.0.1", port: 0 },
      nats: { host: "127.0.0.1", port: 0 },
    });
    nc = await connect({ servers: db.addresses.nats!, maxReconnectAttempts: 0 });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("starts NATS only when asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-bus-off-"));
    const plain = await OnceDB.start({ dataDir: dir, kafka: { host: "127.0.0.1", port: 0 } });
    try {
      assert.equal(plain.addresses.nats, null);
      assert.match(db.addresses.nats ?? "", /^127\.0\.0\.1:\d+$/);
    } finally {
      await plain.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an engine.bus publish reaches a NATS client's wildcard and queue subscriptions", async () => {
    const got: string[] = [];
    nc.subscribe("orders.>", { callback: (_e, m) => void got.push(`plain ${m.subject} ${m.string()}`) });
    nc.subscribe("orders.*", {
      queue: "billing",
      callback: (_e, m) => void got.push(`queue ${m.subject} ${m.string()}`),
    });
    await nc.flush();
    assert.equal(db.engine.bus.publish("orders.created", undefined, undefined, Buffer.from("o-1")), 2);
    assert.equal(db.engine.bus.publish("orders.eu.created", undefined, undefined, Buffer.from("o-2")), 1);
    await nc.flush();
    assert.deepEqual(got.sort(), [
      "plain orders.created o-1",
      "plain orders.eu.created o-2",
      "queue orders.created o-1",
    ]);
  });

  it("a NATS request reaches an in-process subscriber, which answers through the bus", async () => {
    const bus = db.engine.bus;
    const seen: { subject: string; header: string | undefined; payload: string }[] = [];
    const service: Subscriber = {
      echo: true,
      deliver(_sub: Subscription, subject, reply, hdrs, payload) {
        const h = hdrs ? decodeHeaders(hdrs) : null;
        seen.push({
          subject,
          header: h?.entries.find(([k]) => k === "Trace")?.[1],
          payload: Buffer.from(payload).toString(),
        });
        if (reply)
          bus.publish(reply, undefined, undefined, Buffer.from(`hello ${Buffer.from(payload).toString()}`));
      },
      expired() {},
    };
    const sub = bus.subscribe(service, "svc", "greet");
    try {
      const h = headers();
      h.set("Trace", "t-1");
      const answer = await nc.request("greet", "ada", { timeout: 2000, headers: h });
      assert.equal(answer.string(), "hello ada");
      assert.deepEqual(seen, [{ subject: "greet", header: "t-1", payload: "ada" }]);
    } finally {
      bus.unsubscribe(sub);
    }
    // With the in-process subscriber gone, the same request has no responders.
    await assert.rejects(nc.request("greet", "ada", { timeout: 2000 }), /no responders/i);
  });
});
