/**
 * The messaging subsystem's vocabulary. Subjects are strings (subject.ts); headers travel as
 * one encoded block (headers.ts) so that a message passes through the bus without being
 * re-encoded; payloads are bytes the bus never looks into.
 */

/** Whoever owns subscriptions: a NATS connection today; an HTTP subscriber or an app later. */
export interface Subscriber {
  /**
   * false: what this subscriber publishes is not delivered to its own subscriptions (NATS's
   * CONNECT `echo: false`).
   */
  readonly echo: boolean;
  /**
   * One message for `sub`. Must not throw and must not block: queue it and return. `headers` and
   * `payload` may be views into a read buffer that is reused after the call: copy to keep them.
   */
  deliver(
    sub: Subscription,
    subject: string,
    reply: string | undefined,
    headers: Uint8Array | undefined,
    payload: Uint8Array,
  ): void;
  /** The bus removed `sub` by itself: it reached its maximum (an auto-unsubscribe). */
  expired(sub: Subscription): void;
}

export interface Subscription {
  readonly subject: string;
  /** Queue group: each message goes to one member of the group. */
  readonly queue: string | undefined;
  readonly owner: Subscriber;
  /** The owner's name for it (a NATS sid); the bus only hands it back. */
  readonly tag: string;
  /** Messages delivered so far. */
  delivered: number;
  /** Remove after this many deliveries in all; 0 = no limit. */
  max: number;
  /** Removed from the bus: deliveries stop even from a match taken before the removal. */
  closed: boolean;
}
