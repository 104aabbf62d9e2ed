/**
 * Core NATS through the nats.js client (@nats-io/transport-node): exact subjects and payloads,
 * ordering, wildcards, queue groups, request/reply, headers, subscription limits and drain,
 * no-echo. One suite, run against the reference nats-server and against OnceDB, so every
 * expectation is NATS's own behaviour.
 *
 * Waits are deterministic: `settle` flushes the publishers (the server has processed their
 * messages) and then the subscribers (a PONG comes after every message queued before it).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import {
  type ConnectionOptions,
  connect,
  headers,
  type Msg,
  type NatsConnection,
  RequestError,
  type SubscriptionOptions,
} from "@nats-io/transport-node";
import { NATS_TARGETS, type NatsTarget, RawNats, type StartTarget } from "./helpers/nats-targets.js";
import { waitFor } from "./helpers/wait.js";

const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Subscribes and collects every message delivered to the subscription. */
function collect(nc: NatsConnection, subject: string, opts: SubscriptionOptions = {}): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, {
    ...opts,
    callback: (err, m) => {
      if (err) throw err;
      got.push(m);
    },
  });
  return got;
}

/** Flushes each connection in turn: publishers first, then subscribers. */
async function settle(...conns: NatsConnection[]): Promise<void> {
  for (const nc of conns) await nc.flush();
}

function waitCount(what: string, count: () => number, n: number): Promise<void> {
  return waitFor(
    () => count() >= n,
    10_000,
    () => `${n} messages on ${what} (have ${count()})`,
  );
}

const strings = (msgs: Msg[]) => msgs.map((m) => m.string());

function suite(targetName: string, start: StartTarget): void {
  describe(`core NATS with nats.js: ${targetName}`, { timeout: 120_000 }, () => {
    let t: NatsTarget;
    const conns: NatsConnection[] = [];
    const raws: RawNats[] = [];

    before(async () => {
      t = await start();
    });
    afterEach(async () => {
      await Promise.all(conns.splice(0).map((nc) => nc.close().catch(() => {})));
      for (const r of raws.splice(0)) r.destroy();
    });
    after(async () => {
      await t?.stop();
    });

    async function client(opts: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
      const nc = await connect({ servers: t.address, reconnect: false, ...opts });
      conns.push(nc);
      return nc;
    }

    async function raw(connectJson: Record<string, unknown>): Promise<RawNats> {
      const r = await RawNats.connect(t, connectJson);
      raws.push(r);
      return r;
    }

    it("delivers binary, empty and 1 MiB payloads intact on an exact subject", async () => {
      const pub = await client();
      const sub = await client();
      const got = collect(sub, "exact.bin");
      const longer = collect(sub, "exact.bin.more");
      const shorter = collect(sub, "exact");
      await sub.flush();

      // Every byte value, CR LF among them, and text that looks like protocol.
      const binary = Buffer.concat([
        Uint8Array.from({ length: 256 }, (_, i) => i),
        Buffer.from("\r\nPING\r\nMSG x 1 2\r\n"),
      ]);
      const big = randomBytes(MiB, 0x9e3779b9);
      pub.publish("exact.bin", binary);
      pub.publish("exact.bin", new Uint8Array(0));
      pub.publish("exact.bin", big);
      pub.publish("exact.bi", "prefix of the subject");
      await waitCount("exact.bin", () => got.length, 3);
      await settle(pub, sub);

      assert.equal(got.length, 3);
      assert.deepEqual(
        got.map((m) => m.subject),
        ["exact.bin", "exact.bin", "exact.bin"],
      );
      assert.ok(Buffer.from(got[0]!.data).equals(binary), "binary payload changed");
      assert.equal(got[1]!.data.length, 0);
      assert.equal(got[2]!.data.length, MiB);
      assert.ok(Buffer.from(got[2]!.data).equals(big), "1 MiB payload changed");
      for (const m of got) {
        assert.ok(!m.reply, `reply ${m.reply}`);
        assert.equal(m.headers, undefined);
      }
      assert.equal(longer.length, 0);
      assert.equal(shorter.length, 0);
    });

    it("keeps each publisher's messages in publish order", async () => {
      const a = await client();
      const b = await client();
      const sub = await client();
      const got = collect(sub, "order.t");
      await sub.flush();
      const n = 1000;
      // Varying sizes so messages straddle socket reads at different offsets.
      for (let i = 0; i < n; i++) {
        a.publish("order.t", `a-${i}-${"x".repeat(i % 97)}`);
        b.publish("order.t", `b-${i}-${"y".repeat((i * 7) % 89)}`);
      }
      await waitCount("order.t", () => got.length, 2 * n);
      await settle(a, b, sub);
      assert.equal(got.length, 2 * n);
      const seq = (p: string) =>
        strings(got)
          .filter((s) => s.startsWith(`${p}-`))
          .map((s) => Number(s.split("-")[1]));
      const expected = Array.from({ length: n }, (_, i) => i);
      assert.deepEqual(seq("a"), expected);
      assert.deepEqual(seq("b"), expected);
    });

    it("matches `*` to exactly one token and `>` to one or more, one copy per matching subscription", async () => {
      const published = ["wc", "wc.a", "wc.a.b", "wc.a.b.c", "wc.x.b", "wcx.a"];
      const expected: Record<string, string[]> = {
        "wc.*": ["wc.a"],
        "wc.>": ["wc.a", "wc.a.b", "wc.a.b.c", "wc.x.b"],
        "wc.*.b": ["wc.a.b", "wc.x.b"],
        "wc.a.>": ["wc.a.b", "wc.a.b.c"],
        "wc.a.*.c": ["wc.a.b.c"],
        "*.a": ["wc.a", "wcx.a"],
        "*": ["wc"],
        ">": published,
        wc: ["wc"],
        "wc.a.b.c.>": [],
        "wc.b.*": [],
        "wc.*.*.*.*": [],
      };
      const s1 = await client();
      const s2 = await client();
      const pub = await client();
      const subs = Object.keys(expected).map((pattern, i) => ({
        pattern,
        got: collect(i % 2 ? s2 : s1, pattern),
      }));
      // The same pattern twice on one connection: each subscription gets its own copy.
      const twice = [collect(s1, "wc.a.*"), collect(s1, "wc.a.*")];
      await settle(s1, s2);
      for (const s of published) pub.publish(s, `to ${s}`);
      const total = Object.values(expected).reduce((n, e) => n + e.length, 0);
      const count = () => subs.reduce((n, s) => n + s.got.length, 0);
      await waitCount("the wildcard subscriptions", count, total);
      await settle(pub, s1, s2);

      for (const { pattern, got } of subs) {
        assert.deepEqual(
          got.map((m) => m.subject),
          expected[pattern],
          `subscription ${pattern}`,
        );
        assert.deepEqual(
          strings(got),
          expected[pattern]!.map((s) => `to ${s}`),
        );
      }
      for (const got of twice) assert.deepEqual(strings(got), ["to wc.a.b"]);
    });

    it("delivers each message to exactly one member of a queue group, and to every group and plain subscriber", async () => {
      const n = 300;
      const workers = await Promise.all([client(), client(), client()]);
      const auditors = await Promise.all([client(), client()]);
      const plainConn = await client();
      const pub = await client();
      const workerGot = workers.map((nc) => collect(nc, "q.work", { queue: "workers" }));
      const auditGot = auditors.map((nc) => collect(nc, "q.work", { queue: "audit" }));
      const plain = collect(plainConn, "q.work");
      const subscribers = [...workers, ...auditors, plainConn];
      await settle(...subscribers);

      for (let i = 0; i < n; i++) pub.publish("q.work", `m${i}`);
      const sum = (lists: Msg[][]) => lists.reduce((k, l) => k + l.length, 0);
      await waitCount("workers", () => sum(workerGot), n);
      await waitCount("audit", () => sum(auditGot), n);
      await waitCount("the plain subscriber", () => plain.length, n);
      await settle(pub, ...subscribers);

      const all = Array.from({ length: n }, (_, i) => `m${i}`);
      for (const [name, group] of [
        ["workers", workerGot],
        ["audit", auditGot],
      ] as const) {
        const received = group.flatMap(strings);
        assert.equal(received.length, n, `${name}: messages in total`);
        assert.deepEqual([...received].sort(), [...all].sort(), `${name}: each message exactly once`);
        // Each member sees its share in publish order.
        for (const member of group) {
          const idx = strings(member).map((s) => Number(s.slice(1)));
          assert.deepEqual(
            idx,
            [...idx].sort((x, y) => x - y),
          );
        }
      }
      for (const [i, member] of workerGot.entries())
        assert.ok(member.length > 0, `worker ${i} got none of ${n}`);
      assert.deepEqual(strings(plain), all);
    });

    it("matches many concurrent requests to their replies over the muxed inbox", async () => {
      const svc = await client();
      const cli = await client();
      const n = 200;
      const requests: Msg[] = [];
      svc.subscribe("rr.echo", {
        callback: (_err, m) => {
          requests.push(m);
          // Answer only once all have arrived, in reverse order, so matching is by reply subject.
          if (requests.length === n) for (const r of [...requests].reverse()) r.respond(`re:${r.string()}`);
        },
      });
      await svc.flush();
      const replies = await Promise.all(
        Array.from({ length: n }, (_, i) => cli.request("rr.echo", `q${i}`, { timeout: 10_000 })),
      );
      assert.deepEqual(
        strings(replies),
        Array.from({ length: n }, (_, i) => `re:q${i}`),
      );
      // One muxed inbox subscription (`_INBOX.<id>.*`) served them all: one prefix, n tokens.
      const replyTo = requests.map((m) => m.reply!);
      assert.equal(new Set(replyTo).size, n);
      assert.equal(new Set(replyTo.map((r) => r.slice(0, r.lastIndexOf(".")))).size, 1);
      assert.equal(svc.stats().inMsgs, n);
    });

    it("answers noMux requests, each on its own inbox", async () => {
      const svc = await client();
      const cli = await client();
      const n = 20;
      const requests: Msg[] = [];
      svc.subscribe("rr.nomux", {
        callback: (_err, m) => {
          requests.push(m);
          if (requests.length === n) for (const r of [...requests].reverse()) r.respond(`re:${r.string()}`);
        },
      });
      await svc.flush();
      const replies = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          cli.request("rr.nomux", `q${i}`, { timeout: 10_000, noMux: true }),
        ),
      );
      assert.deepEqual(
        strings(replies),
        Array.from({ length: n }, (_, i) => `re:q${i}`),
      );
      const prefixes = requests.map((m) => m.reply!.slice(0, m.reply!.lastIndexOf(".")));
      assert.equal(new Set(requests.map((m) => m.reply)).size, n);
      assert.deepEqual(new Set(prefixes), new Set(["_INBOX"]), "noMux inboxes are _INBOX.<id>");
    });

    it("fails a request nobody subscribes to with no-responders (503), without waiting for the timeout", async () => {
      const cli = await client();
      for (const noMux of [false, true]) {
        const t0 = performance.now();
        await assert.rejects(
          cli.request("rr.nobody", "anyone?", { timeout: 5_000, noMux }),
          (err: unknown) => {
            assert.ok(err instanceof RequestError, `noMux=${noMux}: ${String(err)}`);
            assert.ok(err.isNoResponders(), `noMux=${noMux}: not no-responders: ${String(err)}`);
            return true;
          },
        );
        const ms = performance.now() - t0;
        assert.ok(ms < 1_000, `noMux=${noMux}: no-responders took ${Math.round(ms)} ms`);
      }
    });

    it("round-trips multiple headers with repeated keys", async () => {
      const pub = await client();
      const sub = await client();
      const got = collect(sub, "hdr.t");
      await sub.flush();
      const h = headers();
      h.append("X-Multi", "one");
      h.append("X-Multi", "two");
      h.append("X-Multi", "three");
      h.set("X-Single", "value with spaces: and a colon");
      pub.publish("hdr.t", "body", { headers: h });
      const h2 = headers();
      h2.set("Only-Header", "no payload");
      pub.publish("hdr.t", undefined, { headers: h2 });
      await waitCount("hdr.t", () => got.length, 2);
      await settle(pub, sub);

      assert.equal(got.length, 2);
      const [m1, m2] = got as [Msg, Msg];
      assert.equal(m1.string(), "body");
      assert.deepEqual(m1.headers!.values("X-Multi"), ["one", "two", "three"]);
      assert.deepEqual(m1.headers!.values("X-Single"), ["value with spaces: and a colon"]);
      assert.deepEqual(m1.headers!.keys().sort(), ["X-Multi", "X-Single"]);
      assert.equal(m2.data.length, 0);
      assert.deepEqual(m2.headers!.values("Only-Header"), ["no payload"]);
    });

    it("delivers a message with headers to a headers:false connection as MSG with only the payload", async () => {
      const pub = await client();
      const plain = await raw({ headers: false });
      const withHeaders = await raw({ headers: true });
      plain.write("SUB hdr.plain 7\r\n");
      withHeaders.write("SUB hdr.plain 8\r\n");
      assert.equal(await plain.ping(), "");
      assert.equal(await withHeaders.ping(), "");
      const h = headers();
      h.append("X-Multi", "one");
      h.append("X-Multi", "two");
      pub.publish("hdr.plain", "just the payload", { headers: h, reply: "hdr.reply" });
      await pub.flush();

      const m = await plain.msg();
      assert.deepEqual(
        { ...m, payload: m.payload.toString() },
        {
          op: "MSG",
          subject: "hdr.plain",
          sid: "7",
          reply: "hdr.reply",
          headers: undefined,
          payload: "just the payload",
        },
      );
      assert.equal(await plain.ping(), "", "nothing else after the MSG");

      const hm = await withHeaders.msg();
      assert.equal(hm.op, "HMSG");
      assert.equal(hm.reply, "hdr.reply");
      assert.equal(hm.payload.toString(), "just the payload");
      assert.equal(hm.headers!.toString(), "NATS/1.0\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n");
    });

    it("ends a subscription with max after exactly that many messages", async () => {
      const pub = await client();
      const subConn = await client();
      const got: string[] = [];
      const sub = subConn.subscribe("max.t", { max: 3, callback: (_e, m) => void got.push(m.string()) });
      await subConn.flush();
      for (let i = 0; i < 5; i++) pub.publish("max.t", `m${i}`);
      await waitCount("max.t", () => got.length, 3);
      await settle(pub, subConn);
      assert.deepEqual(got, ["m0", "m1", "m2"]);
      await sub.closed;
      assert.ok(sub.isClosed());
      // The server stopped after 3 (UNSUB <sid> 3): the client was not handed the other two.
      assert.equal(subConn.stats().inMsgs, 3);
    });

    it("stops delivery on unsubscribe()", async () => {
      const pub = await client();
      const subConn = await client();
      const got: string[] = [];
      const sub = subConn.subscribe("unsub.t", { callback: (_e, m) => void got.push(m.string()) });
      await subConn.flush();
      pub.publish("unsub.t", "a");
      pub.publish("unsub.t", "b");
      await settle(pub, subConn);
      assert.deepEqual(got, ["a", "b"]);
      sub.unsubscribe();
      await subConn.flush();
      pub.publish("unsub.t", "c");
      await settle(pub, subConn);
      assert.deepEqual(got, ["a", "b"]);
      assert.equal(subConn.stats().inMsgs, 2, "the server still delivered after UNSUB");
    });

    it("drains a subscription and a connection after delivering what was already published", async () => {
      const pub = await client();
      const subConn = await client();
      const got: string[] = [];
      const sub = subConn.subscribe("drain.t", { callback: (_e, m) => void got.push(m.string()) });
      await subConn.flush();
      for (let i = 0; i < 100; i++) pub.publish("drain.t", `d${i}`);
      await pub.flush();
      await sub.drain();
      assert.ok(sub.isClosed());
      assert.deepEqual(
        got,
        Array.from({ length: 100 }, (_, i) => `d${i}`),
      );
      pub.publish("drain.t", "after");
      await settle(pub, subConn);
      assert.equal(subConn.stats().inMsgs, 100, "the server delivered after the drain's UNSUB");

      const connGot = collect(subConn, "drain.conn");
      await subConn.flush();
      for (let i = 0; i < 50; i++) pub.publish("drain.conn", `c${i}`);
      await pub.flush();
      await subConn.drain();
      assert.ok(subConn.isClosed());
      assert.equal(connGot.length, 50);
    });

    it("does not echo a noEcho connection's own publishes back to it, but delivers others'", async () => {
      const quiet = await client({ noEcho: true });
      const loud = await client();
      const quietGot = collect(quiet, "echo.t");
      const loudGot = collect(loud, "echo.t");
      await settle(quiet, loud);
      quiet.publish("echo.t", "from-quiet");
      await quiet.flush();
      loud.publish("echo.t", "from-loud");
      await settle(loud, quiet);
      assert.deepEqual(strings(quietGot), ["from-loud"]);
      // Echo is on by default: the other connection gets its own publish too.
      assert.deepEqual(strings(loudGot), ["from-quiet", "from-loud"]);
      assert.equal(quiet.stats().inMsgs, 1);
    });
  });
}

for (const [name, start] of NATS_TARGETS) suite(name, start);
