/**
 * SSE subscriptions resume with Last-Event-ID, as EventSource does on its own after a dropped
 * connection: frames carry `id: <version>`, the snapshot ends with an id-only frame, and a
 * reconnect with the last id gets exactly the changes made while it was away (read back from the
 * table's change topic), then live ones. Also across a server restart (SIGKILL).
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { operationOk } from "./helpers/http.js";
import { startServer, type TestServer } from "./helpers/server.js";

interface Frame {
  id?: string;
  event?: string;
  data?: { id: string; type: string; version: number; value?: Record<string, unknown>; reason?: string };
}

/** An SSE connection that parses frames as they arrive. */
class SseClient {
  readonly frames: Frame[] = [];
  private req: http.ClientRequest;
  private buf = "";
  readonly ready: Promise<number>;

  constructor(url: string, lastEventId?: string) {
    const u = new URL(url);
    this.req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      headers: {
        accept: "text/event-stream",
        ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }),
      },
    });
    this.ready = new Promise((resolve, reject) => {
      this.req.on("response", (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => this.feed(chunk));
        res.on("error", () => {});
        resolve(res.statusCode ?? 0);
      });
      this.req.on("error", reject);
    });
    this.req.end();
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (let i = this.buf.indexOf("\n\n"); i >= 0; i = this.buf.indexOf("\n\n")) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const f: Frame = {};
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) f.id = line.slice(4);
        else if (line.startsWith("event: ")) f.event = line.slice(7);
        else if (line.startsWith("data: ")) f.data = JSON.parse(line.slice(6)) as Frame["data"];
      }
      if (f.id !== undefined || f.data !== undefined) this.frames.push(f);
    }
  }

  /** The id EventSource would send on reconnect: the last id seen. */
  get lastEventId(): string | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--)
      if (this.frames[i]!.id !== undefined) return this.frames[i]!.id;
    return undefined;
  }

  async waitFor(pred: (frames: Frame[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!pred(this.frames)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(this.frames)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.req.destroy();
  }
}

describe("SSE resume with Last-Event-ID", () => {
  let server: TestServer;
  const put = async (id: string, body: unknown) => {
    const res = await fetch(`${server.httpUrl}/feed/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 204);
  };

  before(async () => {
    server = await startServer({ http: true });
    await operationOk(server.httpUrl, { operation: "create_table", table: "feed" });
  });

  after(async () => {
    await server?.dispose();
  });

  it("a reconnect with the last id gets exactly what it missed, across a server crash too", async () => {
    await put("a", { n: 1 });
    await put("b", { n: 1 });
    const first = new SseClient(`${server.httpUrl}/feed/`);
    assert.equal(await first.ready, 200);
    // Snapshot (no ids), then one id-only frame marking its position: <epoch>:<version>, the
    // epoch being the table's change-topic uuid.
    await first.waitFor((f) => f.some((x) => x.id?.endsWith(":1")), "the snapshot's position");
    const epoch = first.frames.find((x) => x.id)!.id!.split(":")[0]!;
    assert.match(epoch, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const at = (version: number) => `${epoch}:${version}`;
    assert.deepEqual(
      first.frames.map((f) => [f.id, f.data?.id]),
      [
        [undefined, "a"],
        [undefined, "b"],
        [at(1), undefined],
      ],
    );
    await put("a", { n: 2 });
    await first.waitFor((f) => f.some((x) => x.data?.version === 2), "the live change");
    assert.equal(first.lastEventId, at(2));
    first.close();

    // Changes while disconnected, then a server crash and restart.
    await put("c", { n: 1 });
    await fetch(`${server.httpUrl}/feed/b`, { method: "DELETE" });
    await server.kill();
    await server.start();
    await put("a", { n: 3 });

    const second = new SseClient(`${server.httpUrl}/feed/`, first.lastEventId);
    assert.equal(await second.ready, 200);
    await second.waitFor((f) => f.some((x) => x.data?.version === 5), "the backlog");
    await put("d", { n: 1 });
    await second.waitFor((f) => f.some((x) => x.data?.version === 6), "the next live change");
    // Exactly the changes after version 2, in order, each once, each with its id.
    assert.deepEqual(
      second.frames.map((f) => [f.id, f.data?.type, f.data?.id, f.data?.value?.n]),
      [
        [at(3), "put", "c", 1],
        [at(4), "delete", "b", undefined],
        [at(5), "put", "a", 3],
        [at(6), "put", "d", 1],
      ],
    );
    second.close();

    // A record subscription resumes the same way, filtered to its record.
    const rec = new SseClient(`${server.httpUrl}/feed/a`, at(2));
    await rec.waitFor((f) => f.length >= 1, "the record's backlog");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      rec.frames.map((f) => [f.id, f.data?.value?.n]),
      [[at(5), 3]],
    );
    rec.close();

    // An id it cannot resume from (in the future) starts over with a snapshot.
    const fresh = new SseClient(`${server.httpUrl}/feed/`, at(999));
    await fresh.waitFor((f) => f.some((x) => x.id === at(6)), "a fresh snapshot");
    assert.equal(fresh.frames[0]?.event, "reset", "told to drop what it holds before the snapshot");
    assert.match(String(fresh.frames[0]?.data?.reason), new RegExp(`cannot resume after ${at(999)}`));
    assert.deepEqual(
      fresh.frames.filter((f) => f.data && !f.event).map((f) => f.data!.id),
      ["a", "c", "d"],
    );
    fresh.close();

    // An id from another table (dropped and created again, or another data directory) starts over too.
    const other = new SseClient(`${server.httpUrl}/feed/`, "00000000-0000-4000-8000-000000000000:2");
    await other.waitFor((f) => f.some((x) => x.id === at(6)), "a snapshot for a foreign id");
    assert.equal(other.frames[0]?.event, "reset");
    assert.deepEqual(
      other.frames.filter((f) => f.data && !f.event).map((f) => f.data!.id),
      ["a", "c", "d"],
    );
    other.close();
  });
});
