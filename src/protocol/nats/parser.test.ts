/**
 * The NATS parser: a stream of operations parses to the same operations however it is cut into
 * reads (property), and each limit and malformed line ends in the protocol's error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NatsErr, type NatsProtocolError } from "./errors.js";
import { MAX_CONTROL_LINE_BYTES, type NatsOps, NatsParser } from "./parser.js";

type Op = (string | number | null)[];

function recorder(): { ops: NatsOps; seen: Op[]; errors: NatsProtocolError[] } {
  const seen: Op[] = [];
  const errors: NatsProtocolError[] = [];
  const ops: NatsOps = {
    connect: (json) => seen.push(["CONNECT", json]),
    pub: (subject, reply, headers, payload) =>
      seen.push([
        "PUB",
        subject,
        reply ?? null,
        headers ? headers.toString("latin1") : null,
        payload.toString("latin1"),
      ]),
    sub: (subject, queue, sid) => seen.push(["SUB", subject, queue ?? null, sid]),
    unsub: (sid, max) => seen.push(["UNSUB", sid, max ?? null]),
    ping: () => seen.push(["PING"]),
    pong: () => seen.push(["PONG"]),
    error: (e) => errors.push(e),
  };
  return { ops, seen, errors };
}

function parseAll(input: Buffer, cuts: number[] = [], max = 1 << 20) {
  const r = recorder();
  const p = new NatsParser(r.ops, max);
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < input.length)].sort((a, b) => a - b)) {
    p.feed(input.subarray(at, c));
    at = c;
  }
  p.feed(input.subarray(at));
  return r;
}

const payloadArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString("latin1"));
const opArb: fc.Arbitrary<{ wire: string; expect: Op }> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("a", "a.b", "x.y.z"),
      fc.option(fc.constantFrom("_INBOX.1", "r"), { nil: null }),
      payloadArb,
    )
    .map(([s, r, p]) => ({
      wire: `PUB ${s}${r ? ` ${r}` : ""} ${Buffer.byteLength(p, "latin1")}\r\n${p}\r\n`,
      expect: ["PUB", s, r, null, p],
    })),
  fc.tuple(fc.constantFrom("h", "h.i"), payloadArb).map(([s, p]) => {
    const h = "NATS/1.0\r\nk: v\r\n\r\n";
    return {
      wire: `HPUB ${s} ${h.length} ${h.length + Buffer.byteLength(p, "latin1")}\r\n${h}${p}\r\n`,
      expect: ["PUB", s, null, h, p],
    };
  }),
  fc.constantFrom<{ wire: string; expect: Op }>(
    { wire: "SUB a.* 1\r\n", expect: ["SUB", "a.*", null, "1"] },
    { wire: "sub\ta.>\tq\t22\r\n", expect: ["SUB", "a.>", "q", "22"] },
    { wire: "UNSUB 1 5\r\n", expect: ["UNSUB", "1", 5] },
    { wire: "UNSUB 1\n", expect: ["UNSUB", "1", null] },
    { wire: "PING\r\n", expect: ["PING"] },
    { wire: "pong\r\n", expect: ["PONG"] },
    { wire: 'CONNECT {"verbose":false}\r\n', expect: ["CONNECT", '{"verbose":false}'] },
    { wire: "PUB  a   3\r\nxyz\r\n", expect: ["PUB", "a", null, null, "xyz"] },
  ),
);

describe("NATS parser", () => {
  it("parses the same operations however the stream is cut (property)", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 12 }),
        fc.array(fc.nat(4000), { maxLength: 20 }),
        (ops, cuts) => {
          const wire = Buffer.from(ops.map((o) => o.wire).join(""), "latin1");
          const r = parseAll(wire, cuts);
          assert.deepEqual(r.errors, []);
          assert.deepEqual(
            r.seen,
            ops.map((o) => o.expect),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a 1 MiB payload arriving in 64 KiB reads is delivered once, intact", () => {
    const payload = Buffer.alloc(1 << 20, 7);
    payload[12345] = 1;
    const wire = Buffer.concat([
      Buffer.from(`PUB big ${payload.length}\r\n`),
      payload,
      Buffer.from("\r\nPING\r\n"),
    ]);
    const cuts = Array.from({ length: Math.ceil(wire.length / 65536) }, (_, i) => i * 65536);
    const r = parseAll(wire, cuts);
    assert.equal(r.seen.length, 2);
    assert.equal(r.seen[0]![4], payload.toString("latin1"));
  });

  const fatal: [string, string, string][] = [
    ["unknown operation", "FOO bar\r\n", NatsErr.unknownOp],
    ["PUB without a size", "PUB a\r\n", NatsErr.invalidArguments],
    ["PUB with a non-numeric size", "PUB a x\r\n", NatsErr.invalidArguments],
    ["PUB with a negative size", "PUB a -1\r\n", NatsErr.invalidArguments],
    ["HPUB with headers larger than the total", "HPUB a 10 5\r\n", NatsErr.invalidArguments],
    ["a payload not followed by CRLF", "PUB a 3\r\nabcdPING\r\n", NatsErr.unknownOp],
    ["a payload over max_payload", "PUB a 2000\r\n", NatsErr.maxPayload],
    ["SUB with too many arguments", "SUB a b c d\r\n", NatsErr.invalidArguments],
    ["UNSUB with a bad max", "UNSUB 1 x\r\n", NatsErr.invalidArguments],
    [
      "a control line over the limit",
      `PUB ${"a".repeat(MAX_CONTROL_LINE_BYTES + 10)} 1\r\n`,
      NatsErr.controlLine,
    ],
    [
      "a control line over the limit with no end",
      `SUB ${"a".repeat(MAX_CONTROL_LINE_BYTES + 10)}`,
      NatsErr.controlLine,
    ],
  ];
  for (const [what, wire, text] of fatal) {
    it(`${what}: a fatal '${text}', and nothing after it is parsed`, () => {
      for (const cuts of [[], [1], [3, 7, 4000]]) {
        const r = parseAll(
          Buffer.from(`PING\r\n${wire}PING\r\n`),
          cuts.map((c) => c + 6),
          1000,
        );
        assert.deepEqual(r.seen, [["PING"]], what);
        assert.deepEqual(
          r.errors.map((e) => [e.text, e.fatal]),
          [[text, true]],
          what,
        );
      }
    });
  }

  it("a payload shorter than announced fails as soon as its CRLF is wrong, across reads", () => {
    const r = parseAll(Buffer.from("PUB a 10\r\nabc\r\nPING\r\nPING\r\n"), [15, 16, 17]);
    assert.deepEqual(r.seen, []);
    assert.deepEqual(
      r.errors.map((e) => e.text),
      [NatsErr.unknownOp],
    );
  });

  it("carries an unfinished control line between reads without limit errors below the limit", () => {
    const line = `SUB ${"a".repeat(MAX_CONTROL_LINE_BYTES - 10)} 1\r\n`;
    const r = parseAll(Buffer.from(line), [100, 200, 3000]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.seen.length, 1);
  });
});
