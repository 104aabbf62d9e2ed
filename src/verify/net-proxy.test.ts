import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { isLoopbackHost, NetProxy, seededRng } from "./net-proxy.js";

/** Bound for every wait in this file. */
const WAIT_MS = 10_000;

interface Echo {
  server: net.Server;
  port: number;
  /** Bytes received per accepted connection, in accept order. */
  received: Buffer[][];
  /** When false, the server only records what it receives and answers nothing. */
  echo: boolean;
}

async function startEcho(): Promise<Echo> {
  const e: Echo = { server: net.createServer(), port: 0, received: [], echo: true };
  e.server.on("connection", (s) => {
    const got: Buffer[] = [];
    e.received.push(got);
    s.on("data", (d: Buffer) => {
      got.push(d);
      if (e.echo) s.write(d);
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => e.server.listen(0, "127.0.0.1", resolve));
  e.port = (e.server.address() as net.AddressInfo).port;
  return e;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

/** Collects what a socket receives until it has `n` bytes or closes; bounded by WAIT_MS. */
function readBytes(s: net.Socket, n: number): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let len = 0;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      s.off("data", onData);
      s.off("close", onClose);
      resolve({ data: Buffer.concat(parts), closed });
    };
    const onData = (d: Buffer) => {
      parts.push(d);
      len += d.length;
      if (len >= n) done(false);
    };
    const onClose = () => done(true);
    const timer = setTimeout(() => reject(new Error(`read ${len} of ${n} bytes in ${WAIT_MS} ms`)), WAIT_MS);
    s.on("data", onData);
    s.once("close", onClose);
    s.on("error", () => undefined);
  });
}

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("NetProxy", () => {
  let echo: Echo;
  const proxies: NetProxy[] = [];
  const newProxy = async (seed = 1, limits = {}) => {
    const p = new NetProxy({ target: { host: "127.0.0.1", port: echo.port }, rng: seededRng(seed), limits });
    proxies.push(p);
    await p.listen();
    return p;
  };

  before(async () => {
    echo = await startEcho();
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
  });

  it("seededRng is deterministic and in [0, 1)", () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, seededRng(43)));
  });

  it("accepts only loopback targets", () => {
    assert.ok(isLoopbackHost("127.0.0.1") && isLoopbackHost("::1") && isLoopbackHost("localhost"));
    assert.ok(!isLoopbackHost("10.0.0.1") && !isLoopbackHost("example.com") && !isLoopbackHost("0.0.0.0"));
    assert.throws(
      () => new NetProxy({ target: { host: "192.168.1.1", port: 9092 }, rng: seededRng(1) }),
      /loopback/,
    );
    assert.throws(() => new NetProxy({ target: { host: "127.0.0.1", port: 0 }, rng: seededRng(1) }));
  });

  it("forwards both directions byte for byte", async () => {
    const p = await newProxy();
    const s = await connect(p.port);
    const data = crypto.randomBytes(1024 * 1024);
    const reading = readBytes(s, data.length);
    for (let i = 0; i < data.length; i += 10_000) s.write(data.subarray(i, i + 10_000));
    const got = await reading;
    assert.ok(got.data.equals(data));
    assert.equal(p.stats.bytesToServer, data.length);
    assert.equal(p.stats.bytesToClient, data.length);
    assert.equal(p.stats.dropped, 0);
    s.destroy();
    await waitFor("connection forgotten", () => p.stats.open === 0);
  });

  it("dropAll closes every connection and still accepts new ones", async () => {
    const p = await newProxy();
    const socks = await Promise.all([connect(p.port), connect(p.port), connect(p.port)]);
    // The connections are open end to end once an echo comes back.
    for (const s of socks) {
      const r = readBytes(s, 2);
      s.write("hi");
      assert.equal((await r).data.toString(), "hi");
    }
    const closed = socks.map((s) => readBytes(s, 1));
    assert.equal(p.dropAll(), 3);
    for (const c of await Promise.all(closed)) assert.equal(c.closed, true);
    assert.equal(p.stats.dropped, 3);
    assert.equal(p.stats.open, 0);
    const s = await connect(p.port);
    const r = readBytes(s, 5);
    s.write("again");
    assert.equal((await r).data.toString(), "again");
    s.destroy();
  });

  it("dropMidRequest cuts a request after forwarding only a prefix of it", async () => {
    const p = await newProxy(7);
    echo.echo = false;
    try {
      p.dropMidRequest(1, 0);
      const before = echo.received.length;
      const s = await connect(p.port);
      const data = crypto.randomBytes(50_000);
      const closed = readBytes(s, 1);
      s.write(data);
      assert.equal((await closed).closed, true);
      await waitFor("upstream accepted", () => echo.received.length > before);
      const got = echo.received[before]!;
      // Whatever reached the server is a prefix of what was sent, never more.
      await waitFor("proxy forgets the connection", () => p.stats.open === 0);
      const prefix = Buffer.concat(got);
      assert.ok(prefix.length <= data.length);
      assert.ok(prefix.equals(data.subarray(0, prefix.length)));
      assert.equal(p.stats.droppedRequests, 1);
      assert.equal(p.stats.dropped, 1);
    } finally {
      echo.echo = true;
    }
  });

  it("dropMidRequest with response probability loses the answer after the server got the request", async () => {
    const p = await newProxy(9);
    p.dropMidRequest(0, 1);
    const before = echo.received.length;
    const s = await connect(p.port);
    const data = crypto.randomBytes(1000);
    const r = readBytes(s, data.length);
    s.write(data);
    const got = await r;
    assert.equal(got.closed, true);
    assert.ok(got.data.length < data.length || got.data.equals(data));
    assert.ok(got.data.equals(data.subarray(0, got.data.length)));
    // The request itself arrived whole.
    await waitFor("request delivered", () => Buffer.concat(echo.received[before] ?? []).length === 1000);
    assert.ok(Buffer.concat(echo.received[before]!).equals(data));
    assert.equal(p.stats.droppedResponses, 1);
    assert.equal(p.stats.droppedRequests, 0);
  });

  it("the same seed makes the same fault decisions", async () => {
    const run = async (seed: number) => {
      const p = await newProxy(seed);
      p.dropMidRequest(0.3, 0);
      const outcomes: boolean[] = [];
      for (let i = 0; i < 20; i++) {
        const s = await connect(p.port);
        const r = readBytes(s, 4);
        s.write("ping");
        outcomes.push((await r).closed);
        s.destroy();
      }
      await p.close();
      return outcomes;
    };
    const a = await run(1234);
    assert.deepEqual(await run(1234), a);
    assert.ok(a.includes(true) && a.includes(false), `expected some drops and some passes: ${a}`);
  });

  it("stall holds bytes until it ends or heal(); delay keeps order", async () => {
    const p = await newProxy();
    const s = await connect(p.port);
    const first = readBytes(s, 1);
    s.write("x");
    await first;
    p.stall(30_000);
    const data = crypto.randomBytes(100_000);
    const r = readBytes(s, data.length);
    s.write(data);
    await waitFor("bytes queued in the proxy", () => p.stats.queuedBytes === data.length);
    assert.equal(p.stats.bytesToServer, 1);
    p.heal();
    assert.ok((await r).data.equals(data));

    p.delay(20);
    const parts = Array.from({ length: 20 }, (_, i) => Buffer.from(`<${i}>`));
    const all = Buffer.concat(parts);
    const r2 = readBytes(s, all.length);
    for (const part of parts) s.write(part);
    assert.ok((await r2).data.equals(all));
    p.heal();
    s.destroy();
  });

  it("bounds the queue by pausing the source while stalled", async () => {
    const maxQueuedBytes = 256 * 1024;
    const p = await newProxy(1, { maxQueuedBytes });
    const s = await connect(p.port);
    p.stall(30_000);
    const data = crypto.randomBytes(8 * 1024 * 1024);
    const r = readBytes(s, data.length);
    s.write(data);
    await waitFor("queue filled", () => p.stats.queuedBytes > maxQueuedBytes);
    // Let the kernel buffers fill up too; the queue must not grow past one read beyond its limit.
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(p.stats.queuedBytes <= maxQueuedBytes + 64 * 1024, `queued ${p.stats.queuedBytes}`);
    p.heal();
    assert.ok((await r).data.equals(data));
    s.destroy();
  });

  it("close() ends connections and stops listening", async () => {
    const p = await newProxy();
    const s = await connect(p.port);
    const closed = readBytes(s, 1);
    const port = p.port;
    await p.close();
    assert.equal((await closed).closed, true);
    await assert.rejects(connect(port), /ECONNREFUSED/);
    await p.close(); // idempotent
  });

  it("refuses connections above maxConnections", async () => {
    const p = await newProxy(1, { maxConnections: 2 });
    const a = await connect(p.port);
    const b = await connect(p.port);
    await waitFor("two open", () => p.stats.open === 2);
    const c = await connect(p.port);
    assert.equal((await readBytes(c, 1)).closed, true);
    assert.equal(p.stats.refused, 1);
    a.destroy();
    b.destroy();
  });
});

describe("NetProxy with int32 response framing", () => {
  /** Sends `count` length-prefixed frames to each connection, in awkward pieces. */
  function frames(count: number, seed: number): Buffer[] {
    const rng = seededRng(seed);
    return Array.from({ length: count }, (_, i) => {
      const body = Buffer.alloc(1 + Math.floor(rng() * 3000), i % 251);
      const f = Buffer.alloc(4 + body.length);
      f.writeUInt32BE(body.length, 0);
      body.copy(f, 4);
      return f;
    });
  }

  it("delivers only whole response frames, in order, even when cutting", async () => {
    const sent = frames(60, 5);
    const all = Buffer.concat(sent);
    const server = net.createServer((s) => {
      s.on("error", () => undefined);
      // Pieces that straddle frame boundaries.
      let i = 0;
      const step = () => {
        if (i >= all.length || s.destroyed) return;
        s.write(all.subarray(i, i + 777));
        i += 777;
        setImmediate(step);
      };
      step();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const boundaries = new Set<number>([0]);
    let acc = 0;
    for (const f of sent) boundaries.add((acc += f.length));
    let cutSomewhereInside = false;
    try {
      for (let seed = 1; seed <= 8; seed++) {
        const p = new NetProxy({
          target: { host: "127.0.0.1", port },
          rng: seededRng(seed),
          responseFraming: "int32",
        });
        await p.listen();
        p.dropMidRequest(0, 0.05);
        const s = await connect(p.port);
        const got = await readBytes(s, all.length);
        // A prefix made of whole frames: never a partial frame.
        assert.ok(boundaries.has(got.data.length), `${got.data.length} bytes is not a frame boundary`);
        assert.ok(got.data.equals(all.subarray(0, got.data.length)));
        if (got.closed && got.data.length > 0 && got.data.length < all.length) cutSomewhereInside = true;
        s.destroy();
        await p.close();
      }
      assert.ok(cutSomewhereInside, "no seed cut the stream after some frames");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("ends a connection whose response frame is larger than maxFrameBytes", async () => {
    const server = net.createServer((s) => {
      s.on("error", () => undefined);
      const f = Buffer.alloc(4 + 2000);
      f.writeUInt32BE(2000, 0);
      s.write(f);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const p = new NetProxy({
      target: { host: "127.0.0.1", port },
      rng: seededRng(1),
      responseFraming: "int32",
      limits: { maxFrameBytes: 1000 },
    });
    try {
      await p.listen();
      const s = await connect(p.port);
      const got = await readBytes(s, 1);
      assert.equal(got.closed, true);
      assert.equal(got.data.length, 0);
      assert.equal(p.stats.oversizedFrames, 1);
    } finally {
      await p.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
