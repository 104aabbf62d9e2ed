/**
 * The HTTP layer under awkward input and awkward clients: index-planned queries agree with full
 * scans (number-like strings, null, non-BMP text), dropping a table ends its subscriptions, a
 * stalled subscriber is disconnected once, a half-sent request does not hold up shutdown, and
 * malformed requests get 4xx JSON errors. Against a real server process.
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { operation } from "./helpers/http.js";
import { startServer, type TestServer } from "./helpers/server.js";

describe("HTTP robustness", () => {
  let server: TestServer;

  const op = (body: unknown) => operation(server.httpUrl, body);
  const get = async (path: string): Promise<unknown> => {
    const res = await fetch(`${server.httpUrl}${path}`);
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return res.json();
  };

  before(async () => {
    server = await startServer({ http: true });
  });

  after(async () => {
    await server?.dispose();
  });

  it("an indexed attribute answers every query as a full scan does", async () => {
    for (const [table, indexed] of [
      ["ix", true],
      ["scan", false],
    ] as const) {
      assert.equal(
        (
          await op({
            operation: "create_table",
            table,
            attributes: [
              { name: "name", indexed },
              { name: "tag", indexed },
            ],
          })
        ).status,
        200,
      );
      const records = [
        { id: "r1", name: "10", tag: ["5", 5] },
        { id: "r2", name: "apple", tag: null },
        { id: "r3", name: "4", tag: 7 },
        { id: "r4", name: "\u{1F600}smile", tag: "x" },
        { id: "r5", name: "\uFFFDreplacement" },
        { id: "r6", name: 3 },
      ];
      assert.equal((await op({ operation: "insert", table, records })).status, 200);
      // Replacing r1's tag removes the string "5" but must keep the number 5's entry.
      const res = await fetch(`${server.httpUrl}/${table}/r1`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "10", tag: [5] }),
      });
      assert.equal(res.status, 204);
    }
    const queries = [
      "name=lt=m",
      "name=le=zzz",
      "name=lt=5",
      "name=gt=3",
      "name==10",
      "name=10",
      "name=sw=%F0%9F%98%80",
      "name=gt=%EF%BF%BD",
      "name=lt=%F0%9F%98%80",
      "tag==5",
      "tag=5",
      "tag==null",
      "tag=ge=6",
    ];
    for (const q of queries) {
      const ids = async (t: string) => ((await get(`/${t}/?${q}&select(id)`)) as string[]).sort();
      assert.deepEqual(await ids("ix"), await ids("scan"), q);
    }
    assert.deepEqual(await get("/ix/?tag==5&select(id)"), ["r1"]);
    // FIQL reads 5 as a number: only numbers compare with it, never the text "10" or "4".
    assert.deepEqual(await get("/ix/?name=lt=5&select(id)"), ["r6"]);
    assert.deepEqual(await get("/ix/?name=lt=m&select(id)"), ["r1", "r3", "r2"]);
  });

  it("dropping a table ends its WebSocket and SSE subscriptions with a reason", async () => {
    assert.equal((await op({ operation: "create_table", table: "dropme" })).status, 200);
    const ws = new WebSocket(`ws://${server.httpAddress}/dropme/`);
    const wsMessages: string[] = [];
    ws.on("message", (d) => wsMessages.push(d.toString()));
    const wsClosed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await new Promise((r) => ws.once("open", r));
    const sse = await fetch(`${server.httpUrl}/dropme/`, { headers: { accept: "text/event-stream" } });
    assert.equal(sse.status, 200);
    const sseText = sse.text();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await op({ operation: "drop_table", table: "dropme" })).status, 200);
    assert.equal(await wsClosed, 1000);
    assert.match(wsMessages.join("\n"), /"error":"table dropme was dropped"/);
    assert.match(await sseText, /event: error\ndata: \{"error":"table dropme was dropped"\}/);
  });

  it("a subscriber that stops reading is disconnected once, and others are unaffected", async () => {
    assert.equal(
      (await op({ operation: "create_table", table: "big", attributes: [{ name: "pad", type: "String" }] }))
        .status,
      200,
    );
    const pad = "p".repeat(1000);
    for (let i = 0; i < 4; i++) {
      const records = Array.from({ length: 5000 }, (_, j) => ({ id: `r${i}-${j}`, pad }));
      assert.equal((await op({ operation: "insert", table: "big", records })).status, 200);
    }
    // A raw socket that upgrades and then never reads: the snapshot (20 MB) backs up.
    const stalled = net.connect(server.httpPort, "127.0.0.1");
    await new Promise((r) => stalled.once("connect", r));
    stalled.write("GET /big/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    stalled.pause();
    await new Promise((r) => setTimeout(r, 500));
    // Live writes keep coming; the stalled one's queue passes the limit and it is cut off.
    for (let i = 0; i < 12; i++) {
      const records = Array.from({ length: 1000 }, (_, j) => ({ id: `live${i}-${j}`, pad }));
      assert.equal((await op({ operation: "upsert", table: "big", records })).status, 200);
    }
    const closed = await new Promise<boolean>((resolve) => {
      stalled.once("close", () => resolve(true));
      stalled.resume(); // drain what the kernel holds; the server has ended the connection
      setTimeout(() => resolve(false), 10_000);
    });
    assert.ok(closed, "the stalled subscriber was not disconnected");
    const warnings = server.logLines.join("\n").match(/subscriber too slow/g) ?? [];
    assert.equal(warnings.length, 1, "one warning per slow subscriber, not one per message");
    // The server still answers.
    assert.equal(((await get("/big/r0-0")) as { id: string }).id, "r0-0");
  });

  it("malformed requests get 4xx JSON errors; limits are enforced", async () => {
    assert.equal((await op({ operation: "create_table", table: "bad" })).status, 200);
    const nullCond = await op({ operation: "search_by_conditions", table: "bad", conditions: [null] });
    assert.equal(nullCond.status, 400);
    const many = await op({
      operation: "search_by_conditions",
      table: "bad",
      conditions: Array.from({ length: 100 }, () => ({ search_attribute: "a", search_value: 1 })),
    });
    assert.equal(many.status, 413);
    const ids = await op({ operation: "search_by_id", table: "bad", ids: Array(20_000).fill("x") });
    assert.equal(ids.status, 413);
    const badUrl = await fetch(`${server.httpUrl}/bad/%E0%A4%A`);
    assert.equal(badUrl.status, 400);
    assert.equal(typeof ((await badUrl.json()) as { error: unknown }).error, "string");
    const root = (await get("/")) as { tables: string[] };
    assert.ok(root.tables.includes("bad"));
  });

  it("pages of other origins are refused unless allowed (--cors): CORS and WebSocket Origin", async () => {
    const evil = "https://evil.example";
    const pre = await fetch(`${server.httpUrl}/bad/x`, {
      method: "OPTIONS",
      headers: {
        origin: evil,
        "access-control-request-method": "PUT",
        "access-control-request-headers": "content-type",
      },
    });
    assert.equal(pre.headers.get("access-control-allow-origin"), null, "a foreign origin got CORS access");
    const get = await fetch(`${server.httpUrl}/`, { headers: { origin: evil } });
    assert.equal(get.headers.get("access-control-allow-origin"), null);
    // A WebSocket upgrade from a foreign page is refused; one without Origin (not a browser) is not.
    const foreign = new WebSocket(`ws://${server.httpAddress}/bad/`, { origin: evil });
    const msgs: string[] = [];
    foreign.on("message", (d) => msgs.push(d.toString()));
    const code = await new Promise<number>((resolve) => foreign.on("close", (c) => resolve(c)));
    assert.equal(code, 1008);
    assert.match(msgs.join(""), /origin https:\/\/evil.example is not allowed/);
    const same = new WebSocket(`ws://${server.httpAddress}/bad/`, { origin: server.httpUrl });
    await new Promise((r) => same.once("open", r));
    same.close();
  });

  it("on loopback only loopback host names are served (DNS rebinding)", async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port: server.httpPort,
            path: "/",
            headers: { host, origin: `http://${host}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
    assert.equal(await status(`evil.example:${server.httpPort}`), 403);
    assert.equal(await status(`localhost:${server.httpPort}`), 200);
    assert.equal(await status(`LOCALHOST:${server.httpPort}`), 200);
    assert.equal(await status(`127.0.0.1:${server.httpPort}`), 200);
  });

  it("SQL and select() edge cases are 4xx or valid JSON, never a 500", async () => {
    await fetch(`${server.httpUrl}/bad/p1`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    const sql = (q: string) => op({ operation: "sql", sql: q });
    assert.equal((await sql("SELECT * FROM bad WHERE a = -.")).status, 400);
    const inList = Array.from({ length: 1001 }, (_, i) => i).join(",");
    assert.equal((await sql(`SELECT id FROM bad WHERE a IN (${inList})`)).status, 413);
    // Attributes named like Object.prototype members are just absent attributes.
    assert.deepEqual(await get("/bad/?select(constructor)"), [null]);
    assert.deepEqual(await get("/bad/?select(id,constructor)"), [{ id: "p1" }]);
    assert.deepEqual(await get("/bad/p1?select(hasOwnProperty)"), null);
  });

  it("a stalled WebSocket subscriber does not hold up a graceful shutdown", async () => {
    const stalled = net.connect(server.httpPort, "127.0.0.1");
    await new Promise((r) => stalled.once("connect", r));
    stalled.on("error", () => {});
    stalled.write(
      "GET /big/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    stalled.pause();
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms`);
    stalled.destroy();
    await server.start();
  });

  it("an upgrade refused before its handler (foreign Host) does not hold up a graceful shutdown", async () => {
    const s = net.connect(server.httpPort, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.on("error", () => {});
    let answer = "";
    s.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    s.write(
      "GET /bad/ HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.match(answer, /^HTTP\/1.1 403/);
    s.pause();
    const t0 = Date.now();
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms`);
    s.destroy();
    await server.start();
  });

  it("a half-sent request does not hold up a graceful shutdown", async () => {
    const s = net.connect(server.httpPort, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.on("error", () => {});
    s.write(
      'PUT /bad/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"',
    );
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms`);
    s.destroy();
    await server.start();
  });
});
