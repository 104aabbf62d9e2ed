/**
 * The message bus against a reference: random subscription sets (wildcards, queue groups) and
 * random subjects, where every delivery must be exactly what subjectMatches() over all open
 * subscriptions says. Plus the behaviours a reference cannot express: echo, maxima, limits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BusError, MessageBus } from "./bus.js";
import { isValidPublishSubject, subjectMatches, subjectProblem } from "./subject.js";
import type { Subscriber, Subscription } from "./types.js";

class Recorder implements Subscriber {
  readonly got: { tag: string; subject: string; reply?: string; payload: string }[] = [];
  readonly expiredTags: string[] = [];
  constructor(public echo = true) {}
  deliver(
    sub: Subscription,
    subject: string,
    reply: string | undefined,
    _h: unknown,
    payload: Uint8Array,
  ): void {
    this.got.push({ tag: sub.tag, subject, reply, payload: Buffer.from(payload).toString() });
  }
  expired(sub: Subscription): void {
    this.expiredTags.push(sub.tag);
  }
}

const token = fc.constantFrom("a", "b", "c", "dd");
const filterToken = fc.constantFrom("a", "b", "c", "dd", "*");
const subjectArb = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join("."));
const filterArb = fc
  .tuple(fc.array(filterToken, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([t, rest]) => (rest ? [...t.slice(0, -1), ">"] : t).join("."));

describe("message bus", () => {
  it("delivers to exactly the matching subscriptions, one member per queue group (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ filter: filterArb, queue: fc.option(fc.constantFrom("q1", "q2"), { nil: undefined }) }),
          { maxLength: 12 },
        ),
        fc.array(fc.nat(11), { maxLength: 4 }),
        fc.array(subjectArb, { minLength: 1, maxLength: 6 }),
        (specs, removals, subjects) => {
          const bus = new MessageBus();
          const r = new Recorder();
          const subs = specs.map((s, i) => bus.subscribe(r, `s${i}`, s.filter, s.queue));
          for (const i of removals) if (subs[i]) bus.unsubscribe(subs[i]);
          for (const subject of subjects) {
            r.got.length = 0;
            const n = bus.publish(subject, undefined, undefined, Buffer.from("x"));
            const open = subs.filter((s) => !s.closed && subjectMatches(s.subject, subject));
            const plain = open
              .filter((s) => s.queue === undefined)
              .map((s) => s.tag)
              .sort();
            const groups = new Set(open.filter((s) => s.queue !== undefined).map((s) => s.queue));
            const gotTags = r.got.map((g) => g.tag);
            const gotPlain = gotTags.filter((t) => subs.find((s) => s.tag === t)!.queue === undefined).sort();
            assert.deepEqual(gotPlain, plain, `plain deliveries for ${subject}`);
            const gotGroups = gotTags
              .map((t) => subs.find((s) => s.tag === t)!)
              .filter((s) => s.queue !== undefined)
              .map((s) => s.queue);
            assert.deepEqual(gotGroups.sort(), [...groups].sort(), `one member per group for ${subject}`);
            for (const t of gotTags)
              assert.ok(
                open.some((s) => s.tag === t),
                `closed or unmatched ${t}`,
              );
            assert.equal(n, r.got.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the trie prunes: after every unsubscribe the bus matches nothing and holds nothing", () => {
    fc.assert(
      fc.property(fc.array(filterArb, { minLength: 1, maxLength: 20 }), subjectArb, (filters, subject) => {
        const bus = new MessageBus();
        const r = new Recorder();
        const subs = filters.map((f, i) => bus.subscribe(r, `s${i}`, f));
        assert.equal(bus.stats.subscriptions, filters.length);
        for (const s of subs) bus.unsubscribe(s);
        assert.equal(bus.stats.subscriptions, 0);
        assert.equal(bus.publish(subject, undefined, undefined, Buffer.alloc(0)), 0);
        // Subscribing again after pruning still works.
        bus.subscribe(r, "again", ">");
        assert.equal(bus.publish(subject, undefined, undefined, Buffer.alloc(0)), 1);
      }),
    );
  });

  it("spreads a queue group's messages over its members, each message to one", () => {
    let seed = 1;
    const bus = new MessageBus({ random: () => (seed = (seed * 16807) % 2147483647) / 2147483647 });
    const members = [new Recorder(), new Recorder(), new Recorder()];
    for (const [i, m] of members.entries()) bus.subscribe(m, `m${i}`, "work.*", "workers");
    for (let i = 0; i < 300; i++) bus.publish(`work.${i}`, undefined, undefined, Buffer.from(String(i)));
    const all = members.flatMap((m) => m.got.map((g) => Number(g.payload))).sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 300 }, (_, i) => i),
    );
    for (const m of members) assert.ok(m.got.length > 50, `a member got only ${m.got.length}`);
  });

  it("echo off: a subscriber never gets its own messages; its queue group picks another member", () => {
    const bus = new MessageBus({ random: () => 0 });
    const self = new Recorder(false);
    const other = new Recorder();
    bus.subscribe(self, "plain", "x");
    bus.subscribe(self, "q-self", "x", "q");
    bus.subscribe(other, "q-other", "x", "q");
    assert.equal(bus.publish("x", undefined, undefined, Buffer.from("1"), self), 1);
    assert.equal(self.got.length, 0);
    assert.deepEqual(
      other.got.map((g) => g.tag),
      ["q-other"],
    );
    // From someone else, self's subscriptions receive it.
    bus.publish("x", "inbox.1", undefined, Buffer.from("2"), other);
    assert.deepEqual(
      self.got.map((g) => [g.tag, g.reply]),
      [
        ["plain", "inbox.1"],
        ["q-self", "inbox.1"],
      ],
    );
  });

  it("a maximum removes the subscription after that many messages and tells its owner", () => {
    const bus = new MessageBus();
    const r = new Recorder();
    const sub = bus.subscribe(r, "s", "m");
    bus.limit(sub, 3);
    for (let i = 0; i < 5; i++) bus.publish("m", undefined, undefined, Buffer.from(String(i)));
    assert.deepEqual(
      r.got.map((g) => g.payload),
      ["0", "1", "2"],
    );
    assert.deepEqual(r.expiredTags, ["s"]);
    assert.equal(bus.stats.subscriptions, 0);
    // A maximum already reached removes at once.
    const again = bus.subscribe(r, "t", "m");
    bus.publish("m", undefined, undefined, Buffer.from("x"));
    bus.limit(again, 1);
    assert.ok(again.closed);
  });

  it("refuses invalid subjects and queue names, and subscriptions past its limit", () => {
    const bus = new MessageBus({ subscriptionsMax: 2 });
    const r = new Recorder();
    for (const bad of ["", "a..b", ".a", "a.", "a.>.b", "a b", "a\tb"])
      assert.throws(
        () => bus.subscribe(r, "s", bad),
        (e: unknown) => e instanceof BusError && e.code === "INVALID_SUBJECT",
        bad,
      );
    assert.throws(
      () => bus.subscribe(r, "s", "a", "q q"),
      (e: unknown) => e instanceof BusError && e.code === "INVALID_QUEUE",
    );
    bus.subscribe(r, "1", "a");
    bus.subscribe(r, "2", "a");
    assert.throws(
      () => bus.subscribe(r, "3", "a"),
      (e: unknown) => e instanceof BusError && e.code === "TOO_MANY_SUBSCRIPTIONS",
    );
  });
});

describe("subjects", () => {
  it("the fast publish-subject check agrees with subjectProblem (property)", () => {
    const chars = fc.constantFrom("a", "b", ".", "*", ">", " ", "\t", "\r", "\n", "é", "-");
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 12 }).map((c) => c.join("")),
        (s) => {
          assert.equal(isValidPublishSubject(s), subjectProblem(s, "publish") === null, JSON.stringify(s));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("wildcards: '*' is one token, '>' one or more, both only as whole tokens", () => {
    assert.ok(subjectMatches("a.*", "a.b"));
    assert.ok(!subjectMatches("a.*", "a.b.c"));
    assert.ok(subjectMatches("a.>", "a.b.c"));
    assert.ok(!subjectMatches("a.>", "a"));
    assert.ok(subjectMatches("*.b.>", "x.b.y"));
    assert.equal(subjectProblem("a*.b", "subscribe"), null, "a* is a literal token");
    assert.equal(subjectProblem("a*.b", "publish"), null);
    assert.notEqual(subjectProblem("a.*", "publish"), null);
  });
});
