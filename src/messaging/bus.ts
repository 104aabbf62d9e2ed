/**
 * The message bus: subject-addressed publish/subscribe with wildcards, queue groups and
 * request/reply, in memory and at most once, like core NATS. Every protocol adapter publishes
 * and subscribes through it, so a message published over NATS reaches any subscriber, whatever
 * protocol it came from.
 *
 * Delivery is synchronous: publish() calls each subscriber's deliver(), which queues the
 * message on its connection and returns. Durable messaging (streams on the log) will sit in
 * front of this, not inside it.
 *
 * Invariants:
 * 1. A message reaches each matching plain subscription once, and one member of each matching
 *    queue group, never a closed subscription.
 * 2. With echo off, a subscriber never receives what it published itself; a queue group then
 *    picks among its other members (and skips the message if there are none).
 * 3. A subscription with a maximum receives at most that many messages, then leaves the index.
 */
import { assert } from "../util/assert.js";
import { queueProblem, subjectProblem } from "./subject.js";
import { type MatchResult, SubjectIndex } from "./subject-index.js";
import type { Subscriber, Subscription } from "./types.js";

/** Subscriptions on one bus (all subscribers together): bounds the index's memory. */
export const BUS_SUBSCRIPTIONS_MAX = 1_000_000;

export class BusError extends Error {
  override name = "BusError";
  constructor(
    readonly code: "INVALID_SUBJECT" | "INVALID_QUEUE" | "TOO_MANY_SUBSCRIPTIONS",
    message: string,
  ) {
    super(message);
  }
}

export interface MessageBusOptions {
  /** Picks queue group members; injected so tests can replay a choice. Default Math.random. */
  random?: () => number;
  subscriptionsMax?: number;
}

export class MessageBus {
  private readonly index = new SubjectIndex();
  private readonly random: () => number;
  private readonly subscriptionsMax: number;
  private published = 0;
  private delivered = 0;

  constructor(opts: MessageBusOptions = {}) {
    this.random = opts.random ?? Math.random;
    this.subscriptionsMax = opts.subscriptionsMax ?? BUS_SUBSCRIPTIONS_MAX;
  }

  get stats(): { subscriptions: number; published: number; delivered: number } {
    return { subscriptions: this.index.size, published: this.published, delivered: this.delivered };
  }

  /** Adds a subscription; throws BusError for an invalid subject or queue, or past the limit. */
  subscribe(owner: Subscriber, tag: string, subject: string, queue?: string): Subscription {
    const bad = subjectProblem(subject, "subscribe");
    if (bad) throw new BusError("INVALID_SUBJECT", `invalid subject '${subject}': ${bad}`);
    if (queue !== undefined) {
      const q = queueProblem(queue);
      if (q) throw new BusError("INVALID_QUEUE", `invalid queue group '${queue}': ${q}`);
    }
    if (this.index.size >= this.subscriptionsMax)
      throw new BusError("TOO_MANY_SUBSCRIPTIONS", `the bus holds ${this.subscriptionsMax} subscriptions`);
    const sub: Subscription = { subject, queue, owner, tag, delivered: 0, max: 0, closed: false };
    this.index.insert(sub);
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    const removed = this.index.remove(sub);
    assert(removed, `open subscription '${sub.subject}' was not in the index`);
  }

  /**
   * Sets a subscription's total maximum (NATS `UNSUB <sid> <max>`); removes it now if it has
   * already had that many.
   */
  limit(sub: Subscription, max: number): void {
    assert(Number.isSafeInteger(max) && max > 0, "subscription max must be a positive integer");
    sub.max = max;
    if (sub.delivered >= max) this.unsubscribe(sub);
  }

  /** Whether anything is subscribed to `subject` now (a valid publish subject). */
  hasInterest(subject: string): boolean {
    const m = this.index.match(subject);
    return m.plain.length > 0 || m.queues.length > 0;
  }

  /** The subscriptions `subject` reaches now; may include ones closed since (check `closed`). */
  match(subject: string): MatchResult {
    return this.index.match(subject);
  }

  /**
   * Delivers a message to every subscription `subject` reaches (invariant 1). Adapters check
   * `subject`, since each protocol reports the error its own way: it must be valid for a
   * subscription at least. A wildcard token in it is matched as a token, so only subscriptions
   * with a wildcard at that place receive it (what nats-server does with such publishes).
   * Returns how many subscriptions received it.
   */
  publish(
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
    origin?: Subscriber,
    /**
     * The subject the receivers see, when it is not the one routed on: JetStream delivers a
     * stream message to a client's inbox under the message's own subject, as nats-server does.
     */
    shownAs: string = subject,
  ): number {
    this.published++;
    const m = this.index.match(subject);
    const noEcho = origin !== undefined && !origin.echo ? origin : undefined;
    let n = 0;
    for (const sub of m.plain) {
      if (sub.closed || sub.owner === noEcho) continue;
      this.deliverTo(sub, shownAs, reply, headers, payload);
      n++;
    }
    for (const group of m.queues) {
      const sub = this.pick(group, noEcho);
      if (!sub) continue;
      this.deliverTo(sub, shownAs, reply, headers, payload);
      n++;
    }
    this.delivered += n;
    return n;
  }

  private deliverTo(
    sub: Subscription,
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
  ): void {
    sub.delivered++;
    sub.owner.deliver(sub, subject, reply, headers, payload);
    if (sub.max > 0 && sub.delivered >= sub.max && !sub.closed) {
      this.unsubscribe(sub);
      sub.owner.expired(sub);
    }
  }

  /** A random open member of `group`, other than `skip`'s (invariant 2). */
  private pick(group: readonly Subscription[], skip: Subscriber | undefined): Subscription | undefined {
    const n = group.length;
    const start = Math.floor(this.random() * n) % n;
    for (let i = 0; i < n; i++) {
      const sub = group[(start + i) % n]!;
      if (!sub.closed && sub.owner !== skip) return sub;
    }
    return undefined;
  }
}
