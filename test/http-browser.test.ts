/**
 * A real browser (Debian's chromium, driven by playwright-core) subscribes to a table from a page
 * of another origin: EventSource on the table and a WebSocket on one record, writes through fetch
 * (a CORS preflighted PUT). The server is then killed with SIGKILL and restarted: EventSource
 * reconnects by itself with Last-Event-ID and the page receives every change exactly once.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { operationOk } from "./helpers/http.js";
import { startServer, type TestServer } from "./helpers/server.js";

/** Debian's chromium (apt-get install chromium); .ci/run installs it. */
const CHROMIUM = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].find((p) => fs.existsSync(p));

const PAGE = `<!doctype html><meta charset="utf-8"><title>live</title>
<script>
  window.events = [];
  window.wsEvents = [];
  window.start = (base) => {
    const es = new EventSource(base + "/live/");
    es.onmessage = (e) => window.events.push({ lastEventId: e.lastEventId, data: JSON.parse(e.data) });
    const ws = new WebSocket(base.replace("http", "ws") + "/live/a");
    ws.onmessage = (e) => window.wsEvents.push(JSON.parse(e.data));
    const opened = (target) => new Promise((resolve) => target.addEventListener("open", resolve, { once: true }));
    return Promise.all([opened(es), opened(ws)]);
  };
  window.put = async (base, id, body) => {
    const res = await fetch(base + "/live/" + id, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    return res.status;
  };
</script>`;

describe("a browser subscribed to a table", () => {
  let server: TestServer;
  let site: http.Server;
  let siteUrl: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    assert.ok(CHROMIUM, "chromium is not installed (apt-get install -y chromium)");
    // The page comes from another origin, as a web app's would; OnceDB is told to allow it.
    site = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(PAGE));
    await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
    server = await startServer({ http: true, args: ["--cors", new URL(siteUrl).origin] });
    await operationOk(server.httpUrl, { operation: "create_table", table: "live" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage();
    await page.goto(siteUrl);
  });

  after(async () => {
    await browser?.close();
    site?.close();
    await server?.dispose();
  });

  const events = () =>
    page.evaluate(
      () =>
        (
          globalThis as unknown as {
            events: { lastEventId: string; data: { id: string; version: number; value?: { n: number } } }[];
          }
        ).events,
    );

  async function waitForEvents(n: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    while ((await events()).length < n) {
      if (Date.now() > deadline)
        throw new Error(`browser got ${JSON.stringify(await events())}, wanted ${n} events`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("gets each change exactly once, across a server crash", async () => {
    const base = server.httpUrl;
    await page.evaluate(
      (b) => (globalThis as unknown as { start: (b: string) => Promise<void> }).start(b),
      base,
    );
    const put = (id: string, n: number) =>
      page.evaluate(
        ([b, i, v]) =>
          (globalThis as unknown as { put: (b: string, i: string, body: unknown) => Promise<number> }).put(
            b,
            i,
            {
              n: v,
            },
          ),
        [base, id, n] as const,
      );
    assert.equal(await put("a", 1), 204, "a cross-origin PUT from the page (CORS preflight)");
    assert.equal(await put("b", 1), 204);
    await waitForEvents(2);

    await server.kill();
    await server.start();
    // Written while the browser is reconnecting: it must still see them, once.
    for (const [id, n] of [
      ["a", 2],
      ["c", 1],
    ] as const) {
      const res = await fetch(`${base}/live/${id}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ n }),
      });
      assert.equal(res.status, 204);
    }
    await waitForEvents(4);
    assert.equal(await put("b", 2), 204);
    await waitForEvents(5);
    await new Promise((r) => setTimeout(r, 300));
    const got = await events();
    // Each event's id is <epoch>:<version>, one epoch (the table's) throughout, across the crash.
    const epoch = String(got[0]?.lastEventId).split(":")[0];
    assert.match(epoch, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      got.map((e) => [e.data.version, e.data.id, e.data.value?.n, e.lastEventId]),
      [
        [0, "a", 1, `${epoch}:0`],
        [1, "b", 1, `${epoch}:1`],
        [2, "a", 2, `${epoch}:2`],
        [3, "c", 1, `${epoch}:3`],
        [4, "b", 2, `${epoch}:4`],
      ],
    );
    // The WebSocket on record a got its first change (it does not reconnect by itself).
    const ws = await page.evaluate(
      () => (globalThis as unknown as { wsEvents: { id: string; value: { n: number } }[] }).wsEvents,
    );
    assert.deepEqual(ws.map((m) => [m.id, m.value.n]).slice(0, 1), [["a", 1]]);
  });
});
