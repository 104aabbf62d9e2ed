/**
 * Table changes reach NATS: a row written over REST is published on `$DB.<table>.<id>` (payload =
 * the record's JSON, headers Oncedb-Op and Oncedb-Version = the change record's offset), read by
 * @nats-io/transport-node subscribers with wildcards; a JetStream stream on `$DB.<table>.>`
 * captures them durably. Checked against a real server over real sockets.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { operationOk } from "./helpers/http.js";
import { startServer, type TestServer } from "./helpers/server.js";

const op = (server: TestServer, body: unknown): Promise<unknown> => operationOk(server.httpUrl, body);

async function rest(server: TestServer, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.httpUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("table changes on NATS", () => {
  let server: TestServer;
  let nc: NatsConnection;

  before(async () => {
    server = await startServer({ nats: true, http: true });
    nc = await connect({ servers: server.natsAddress });
    await op(server, {
      operation: "create_table",
      table: "orders",
      attributes: [{ name: "qty", type: "Int", indexed: true }],
    });
  });

  after(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it("publishes every committed change on $DB.<table>.<id>, in order, with op and version", async () => {
    const got: Msg[] = [];
    const sub = nc.subscribe("$DB.orders.>", {
      callback: (_err, m) => {
        got.push(m);
      },
    });
    const one = nc.subscribe("$DB.orders.o1", { max: 1 });
    await nc.flush();
    assert.equal((await rest(server, "PUT", "/orders/o1", { qty: 1 })).status, 204);
    assert.equal((await rest(server, "PATCH", "/orders/o1", { qty: 2 })).status, 204);
    assert.equal((await rest(server, "PUT", "/orders/o2", { qty: 7 })).status, 204);
    assert.equal((await rest(server, "DELETE", "/orders/o1")).status, 200);
    const deadline = Date.now() + 5000;
    while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    assert.deepEqual(
      got.map((m) => [m.subject, m.headers?.get("Oncedb-Op"), m.string()]),
      [
        ["$DB.orders.o1", "put", '{"qty":1,"id":"o1"}'],
        ["$DB.orders.o1", "patch", '{"qty":2,"id":"o1"}'],
        ["$DB.orders.o2", "put", '{"qty":7,"id":"o2"}'],
        ["$DB.orders.o1", "delete", ""],
      ],
    );
    // Versions are the change topic's offsets: dense and increasing.
    assert.deepEqual(
      got.map((m) => Number(m.headers?.get("Oncedb-Version"))),
      [0, 1, 2, 3],
    );
    // A subscription to one record's subject gets that record's changes only.
    for await (const m of one) assert.equal(m.string(), '{"qty":1,"id":"o1"}');
    // The ETag of a record is the same version.
    assert.equal((await rest(server, "PUT", "/orders/o3", { qty: 3 })).status, 204);
    const res = await rest(server, "GET", "/orders/o3");
    assert.equal(res.headers.get("etag"), '"4"');
  });

  it("a JetStream stream on $DB.<table>.> stores the changes durably", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "ORDERS_CHANGES", subjects: ["$DB.orders.>"] });
    assert.equal((await rest(server, "PUT", "/orders/s1", { qty: 10 })).status, 204);
    assert.equal((await rest(server, "PUT", "/orders/s2", { qty: 20 })).status, 204);
    const js = jetstream(nc);
    const deadline = Date.now() + 5000;
    while ((await jsm.streams.info("ORDERS_CHANGES")).state.messages < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const first = await js.streams.get("ORDERS_CHANGES").then((s) => s.getMessage({ seq: 1 }));
    assert.equal(first?.subject, "$DB.orders.s1");
    assert.equal(first?.string(), '{"qty":10,"id":"s1"}');
    const second = await js.streams.get("ORDERS_CHANGES").then((s) => s.getMessage({ seq: 2 }));
    assert.equal(second?.subject, "$DB.orders.s2");
  });
});
