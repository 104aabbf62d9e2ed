/**
 * The core NATS wire protocol over raw sockets: INFO, CONNECT, verbose +OK, PING/PONG,
 * case-insensitive operations, split and pipelined input, UNSUB with max, duplicate sids,
 * the no-responders status message, bad input and a slow consumer. One suite, run against the
 * reference nats-server and against OnceDB; every expected byte and every open/closed outcome
 * is what nats-server 2.9.10 does.
 *
 * Open is proven by PING answered with PONG; closed by the socket's close event (nothing is
 * written after the bad input then).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NATS_TARGETS, type NatsTarget, RawNats, type StartTarget, within } from "./helpers/nats-targets.js";

const MAX_PAYLOAD = 1024 * 1024;
const ERR_UNKNOWN_OP = "-ERR 'Unknown Protocol Operation'\r\n";
const ERR_PUB_SUBJECT = "-ERR 'Invalid Publish Subject'\r\n";
const ERR_SUB_SUBJECT = "-ERR 'Invalid Subject'\r\n";

interface BadInput {
  name: string;
  /** The CONNECT JSON sent first (see RawNats.connect); null sends none. */
  connect?: Record<string, unknown> | null;
  /** Written in order, each part a separate write. */
  input: string[];
  /** nats-server's reply, exactly. */
  output: string;
  /**
   * OnceDB's reply where it deliberately differs: nats-server closes some connections without a
   * word; OnceDB says why first (bad input gets a clear error), then closes the same way.
   */
  oncedb?: string;
  closed: boolean;
}

const ERR_ARGUMENTS = "-ERR 'Invalid Arguments'\r\n";

const BAD_INPUT: BadInput[] = [
  { name: "an unknown operation", input: ["FOO bar\r\n"], output: ERR_UNKNOWN_OP, closed: true },
  {
    name: "a control line over 4096 bytes without CRLF",
    input: [`PUB foo ${"x".repeat(5000)}`],
    output: "-ERR 'maximum control line exceeded'\r\n",
    closed: true,
  },
  {
    name: "PUB with a size over max_payload",
    input: [`PUB foo ${MAX_PAYLOAD + 1}\r\n`],
    output: "-ERR 'Maximum Payload Violation'\r\n",
    closed: true,
  },
  {
    name: "PUB whose payload is not followed by CRLF (not delivered)",
    input: ["SUB foo 1\r\nPUB foo 3\r\nabcd\r\n"],
    output: ERR_UNKNOWN_OP,
    closed: true,
  },
  {
    // The following PING is read as the rest of the payload; its last byte is not CRLF.
    name: "PUB whose payload is shorter than announced, then PING",
    input: ["SUB foo 1\r\nPUB foo 10\r\nabc\r\n", "PING\r\n"],
    output: ERR_UNKNOWN_OP,
    closed: true,
  },
  {
    name: "PUB with a non-numeric size",
    input: ["PUB foo abc\r\n"],
    output: "",
    oncedb: ERR_ARGUMENTS,
    closed: true,
  },
  { name: "PUB without a size", input: ["PUB foo\r\n"], output: "", oncedb: ERR_ARGUMENTS, closed: true },
  {
    name: "HPUB with a header size over the total size",
    connect: { headers: true },
    input: ["HPUB foo 3 2\r\n"],
    output: "",
    oncedb: ERR_ARGUMENTS,
    closed: true,
  },
  {
    name: "HPUB on a connection whose CONNECT said headers:false",
    connect: { headers: false },
    input: ["HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"],
    output: "",
    oncedb: "-ERR 'Message Headers Not Supported'\r\n",
    closed: true,
  },
  { name: "SUB foo..bar", input: ["SUB foo..bar 1\r\n"], output: ERR_SUB_SUBJECT, closed: false },
  { name: "SUB foo.>.bar", input: ["SUB foo.>.bar 1\r\n"], output: ERR_SUB_SUBJECT, closed: false },
  {
    name: "CONNECT with invalid JSON",
    connect: null,
    input: ["CONNECT {bad json\r\n"],
    output: "",
    oncedb: "-ERR 'Invalid CONNECT JSON'\r\n",
    closed: true,
  },
  {
    name: "CONNECT with no_responders but not headers",
    connect: null,
    input: ['CONNECT {"no_responders":true,"headers":false}\r\n'],
    output: "-ERR 'no responders requires headers support'\r\n",
    closed: true,
  },
  {
    name: "CONNECT with protocol 2",
    connect: null,
    input: ['CONNECT {"protocol":2}\r\n'],
    output: "-ERR 'invalid client protocol'\r\n",
    closed: true,
  },
];

/** The bytes a subscription (sid 1 unless given) on `subject` receives for `payload`. */
const msgFrame = (subject: string, payload: string, sid = "1") =>
  `MSG ${subject} ${sid} ${payload.length}\r\n${payload}\r\n`;

function suite(targetName: string, start: StartTarget): void {
  describe(`core NATS wire protocol: ${targetName}`, { timeout: 120_000 }, () => {
    let t: NatsTarget;
    const raws: RawNats[] = [];
    const conns: NatsConnection[] = [];

    before(async () => {
      t = await start();
    });
    afterEach(async () => {
      for (const r of raws.splice(0)) r.destroy();
      await Promise.all(conns.splice(0).map((nc) => nc.close().catch(() => {})));
    });
    after(async () => {
      await t?.stop();
    });

    async function raw(connectJson: Record<string, unknown> | null = {}): Promise<RawNats> {
      const r = await RawNats.connect(t, connectJson);
      raws.push(r);
      return r;
    }

    /** A CONNECTed raw connection, proven open with nothing pending. */
    async function ready(connectJson: Record<string, unknown> = {}): Promise<RawNats> {
      const r = await raw(connectJson);
      assert.equal(await r.ping(), "");
      return r;
    }

    async function client(): Promise<NatsConnection> {
      const nc = await connect({ servers: t.address, reconnect: false });
      conns.push(nc);
      return nc;
    }

    it("sends INFO first: JSON with server_id, version, proto 1, headers, max_payload and client_id", async () => {
      const a = await raw(null);
      const b = await raw(null);
      const info = a.info;
      assert.ok(
        typeof info.server_id === "string" && info.server_id.length > 0,
        `server_id ${info.server_id}`,
      );
      assert.match(String(info.version), /^\d+\.\d+\.\d+/);
      assert.equal(typeof info.version, "string");
      assert.equal(info.proto, 1);
      assert.equal(info.headers, true);
      assert.equal(info.max_payload, MAX_PAYLOAD);
      assert.ok(
        Number.isInteger(info.client_id) && Number(info.client_id) > 0,
        `client_id ${info.client_id}`,
      );
      assert.notEqual(b.info.client_id, info.client_id, "each connection has its own client_id");
      assert.equal(b.info.server_id, info.server_id);
    });

    it("acknowledges CONNECT, SUB, PUB and UNSUB with +OK when verbose", async () => {
      const c = await raw({ verbose: true });
      assert.equal(await c.line(), "+OK", "CONNECT");
      c.write("SUB verbose.t 1\r\n");
      assert.equal(await c.line(), "+OK", "SUB");
      c.write("PUB verbose.other 2\r\nhi\r\n");
      assert.equal(await c.line(), "+OK", "PUB");
      c.write("UNSUB 1\r\n");
      assert.equal(await c.line(), "+OK", "UNSUB");
      assert.equal(await c.ping(), "", "PING gets PONG only");
    });

    it("treats a CONNECT without verbose and pedantic fields as both", async () => {
      const c = await raw(null);
      c.write("CONNECT {}\r\n");
      assert.equal(await c.ping(), "+OK\r\n");
      c.write("PUB pw.* 1\r\na\r\n");
      assert.equal(await c.ping(), `${ERR_PUB_SUBJECT}+OK\r\n`);
    });

    it("answers each PING with PONG", async () => {
      const c = await raw();
      c.write("PING\r\nPING\r\nPING\r\n");
      for (let i = 0; i < 3; i++) assert.equal(await c.line(), "PONG");
      assert.equal(await c.ping(), "");
    });

    it("accepts operations in any case", async () => {
      const c = await raw(null);
      c.write('connect {"verbose":false,"headers":true}\r\nsub lc.t 1\r\npub lc.t 2\r\nhi\r\nping\r\n');
      assert.equal(await c.line(), "MSG lc.t 1 2");
      assert.equal(await c.line(), "hi");
      assert.equal(await c.line(), "PONG");
      c.write("PiNg\r\n");
      assert.equal(await c.line(), "PONG");
      c.write("hpub lc.t 12 14\r\nNATS/1.0\r\n\r\nho\r\nUnSuB 1\r\npub lc.t 1\r\nx\r\n");
      assert.equal(await c.ping(), "HMSG lc.t 1 12 14\r\nNATS/1.0\r\n\r\nho\r\n");
    });

    it("parses PUB and HPUB sent one byte per write", async () => {
      const c = await ready({ headers: true });
      c.write("SUB split.t 1\r\n");
      const hdr = "NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n";
      const input =
        "PUB split.t reply.to 11\r\nhello world\r\n" +
        `HPUB split.t ${hdr.length} ${hdr.length + 3}\r\n${hdr}abc\r\n`;
      for (const byte of Buffer.from(input)) {
        c.write(Buffer.of(byte));
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(
        await c.ping(),
        "MSG split.t 1 reply.to 11\r\nhello world\r\n" +
          `HMSG split.t 1 ${hdr.length} ${hdr.length + 3}\r\n${hdr}abc\r\n`,
      );
    });

    it("parses 1,000 PUBs sent in one write, delivering them in order", async () => {
      const c = await ready();
      c.write("SUB bulk.t 1\r\n");
      let input = "";
      let expected = "";
      for (let i = 0; i < 1000; i++) {
        const payload = `m${i}${"z".repeat(i % 13)}`;
        input += `PUB bulk.t ${payload.length}\r\n${payload}\r\n`;
        expected += msgFrame("bulk.t", payload);
      }
      c.write(input);
      assert.equal(await c.ping(), expected);
    });

    it("delivers a max_payload message and nothing more after UNSUB <sid> <max>", async () => {
      const c = await ready();
      c.write(`SUB max.t 1\r\nUNSUB 1 2\r\nPUB max.t ${MAX_PAYLOAD}\r\n${"p".repeat(MAX_PAYLOAD)}\r\n`);
      c.write("PUB max.t 1\r\nb\r\nPUB max.t 1\r\nc\r\n");
      const big = await c.msg();
      assert.equal(big.payload.length, MAX_PAYLOAD);
      assert.ok(big.payload.equals(Buffer.alloc(MAX_PAYLOAD, "p")));
      assert.equal(await c.ping(), msgFrame("max.t", "b"));

      // A max already reached removes the subscription at once; an unknown sid is ignored.
      c.write("SUB max.u 2\r\nPUB max.u 1\r\nd\r\nPUB max.u 1\r\ne\r\n");
      assert.equal(await c.ping(), msgFrame("max.u", "d", "2") + msgFrame("max.u", "e", "2"));
      c.write("UNSUB 2 2\r\nPUB max.u 1\r\nf\r\nUNSUB 99\r\n");
      assert.equal(await c.ping(), "");
    });

    it("ignores a SUB that reuses a live sid, without an error", async () => {
      const c = await ready();
      c.write("SUB dup.a 1\r\nSUB dup.b 1\r\nSUB dup.c 2\r\nSUB dup.c 2\r\n");
      c.write("PUB dup.a 1\r\na\r\nPUB dup.b 1\r\nb\r\nPUB dup.c 1\r\nc\r\n");
      assert.equal(await c.ping(), msgFrame("dup.a", "a") + msgFrame("dup.c", "c", "2"));
    });

    it("answers a request nobody subscribes to with a 503 status when the client asked for no_responders", async () => {
      const c = await ready({ headers: true, no_responders: true });
      c.write("SUB nr.inbox 1\r\nPUB nr.nobody nr.inbox 2\r\nhi\r\nPUB nr.nobody 2\r\nhi\r\n");
      assert.equal(await c.ping(), "HMSG nr.inbox 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
      const quiet = await ready({ headers: true });
      quiet.write("SUB nr.inbox 1\r\nPUB nr.nobody nr.inbox 2\r\nhi\r\n");
      assert.equal(await quiet.ping(), "", "no 503 without no_responders");
    });

    describe("bad input", () => {
      for (const bad of BAD_INPUT) {
        const outcome = bad.closed ? "closes the connection" : "keeps the connection open";
        const output = targetName === "OnceDB" && bad.oncedb !== undefined ? bad.oncedb : bad.output;
        it(`${bad.name}: replies ${JSON.stringify(output)} and ${outcome}`, async () => {
          const c = bad.connect === null ? await raw(null) : await ready(bad.connect);
          for (const part of bad.input) c.write(part);
          if (bad.closed) {
            assert.equal(await c.untilClosed(), output);
            // The server itself carries on.
            await ready();
          } else {
            assert.equal(await c.ping(), output);
          }
        });
      }

      // nats-server checks a PUB's subject only for pedantic clients (nats.js says pedantic:false);
      // either way a wildcard subject is delivered to matching wildcard subscriptions.
      for (const pedantic of [false, true]) {
        const err = pedantic ? ERR_PUB_SUBJECT : "";
        const reply = pedantic ? "-ERR, stays open" : "no error";

        it(`PUB to a subject with a wildcard, pedantic:${pedantic}: ${reply}, delivers to wildcard subscriptions`, async () => {
          const sub = await ready();
          sub.write("SUB > 1\r\nSUB pw.x 2\r\nSUB pw.*.bar 3\r\n");
          assert.equal(await sub.ping(), "");
          const pub = await ready({ pedantic });
          for (const subject of ["pw.*", "pw.>"]) {
            pub.write(`PUB ${subject} 1\r\na\r\n`);
            assert.equal(await pub.ping(), err, subject);
            assert.equal(await sub.ping(), msgFrame(subject, "a"), subject);
          }
        });

        it(`PUB to a subject with an empty token, pedantic:${pedantic}: ${reply}, delivers nothing`, async () => {
          const sub = await ready();
          sub.write("SUB > 1\r\n");
          assert.equal(await sub.ping(), "");
          const pub = await ready({ pedantic });
          for (const subject of ["pw..bar", ".pw", "pw."]) {
            pub.write(`PUB ${subject} 1\r\na\r\n`);
            assert.equal(await pub.ping(), err, subject);
            assert.equal(await sub.ping(), "", subject);
          }
        });
      }

      it("an invalid SUB does not take its sid", async () => {
        const c = await ready();
        c.write("SUB sw..bar 1\r\nSUB sw.ok 1\r\nPUB sw.ok 1\r\nx\r\n");
        assert.equal(await c.ping(), ERR_SUB_SUBJECT + msgFrame("sw.ok", "x"));
      });
    });

    it("disconnects a subscriber that never reads while 100 MiB is published to it; other clients keep working", async (tc) => {
      const slow = await ready();
      slow.write("SUB slow.t 1\r\n");
      assert.equal(await slow.ping(), "");
      slow.socket.pause(); // never reads again until the flood is over

      const pub = await client();
      const probe = await client();
      const probeGot: string[] = [];
      probe.subscribe("slow.probe", { callback: (_e, m) => void probeGot.push(m.string()) });
      await probe.flush();

      const size = 512 * 1024;
      const count = 200;
      const payload = new Uint8Array(size).fill(0x61);
      let flooding = true;
      let probes = 0;
      let worstProbeMs = 0;
      // Round trips on another connection, every 50 ms while the flood lasts.
      const prober = (async () => {
        while (flooding) {
          const t0 = performance.now();
          probe.publish("slow.probe", `p${probes}`);
          await probe.flush();
          worstProbeMs = Math.max(worstProbeMs, performance.now() - t0);
          probes++;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const t0 = performance.now();
      try {
        await within(
          30_000,
          "publishing 100 MiB to a subscriber that does not read",
          (async () => {
            for (let i = 0; i < count; i++) {
              pub.publish("slow.t", payload);
              if (i % 8 === 7) await pub.flush();
            }
            await pub.flush();
          })(),
        );
      } finally {
        flooding = false;
        await prober;
      }
      const floodMs = performance.now() - t0;

      slow.socket.resume();
      const received = Buffer.from(await slow.untilClosed(15_000), "latin1");
      const closedMs = performance.now() - t0;
      // What arrived is whole MSG frames and at most the start of one more: no -ERR, nothing else.
      const frame = Buffer.concat([
        Buffer.from(`MSG slow.t 1 ${size}\r\n`),
        Buffer.from(payload),
        Buffer.from("\r\n"),
      ]);
      const frames = Math.floor(received.length / frame.length);
      for (let i = 0; i < frames; i++) {
        assert.ok(received.subarray(i * frame.length, (i + 1) * frame.length).equals(frame), `frame ${i}`);
      }
      const rest = received.subarray(frames * frame.length);
      assert.ok(frame.subarray(0, rest.length).equals(rest), "the stream ends inside a MSG frame");
      assert.ok(frames < count, `the slow subscriber got all ${count} messages`);

      assert.equal(probeGot.length, probes, "every probe round trip delivered its message");
      assert.ok(probes > 0);
      assert.ok(worstProbeMs < 2_000, `a probe round trip took ${Math.round(worstProbeMs)} ms`);
      assert.ok(!pub.isClosed(), "the publisher was disconnected");
      await pub.flush();
      tc.diagnostic(
        `published ${count} x ${size} B in ${Math.round(floodMs)} ms; slow subscriber closed after ` +
          `${frames} whole messages (${received.length} B), ${Math.round(closedMs)} ms; ` +
          `${probes} probe round trips, worst ${Math.round(worstProbeMs)} ms`,
      );
    });
  });
}

for (const [name, start] of NATS_TARGETS) suite(name, start);
