/**
 * Byte-rate quotas per client, as Kafka's `consumer_byte_rate` (quota.consumer.default): a
 * client may take `bytesPerSec` on average, with bursts of up to one second's worth.
 *
 * Why: on a small machine a consumer catching up on a big backlog can take most of the CPU
 * (reading, copying to the socket) and the produce acknowledgements of everyone else wait for
 * it (measured by the bench's responsiveness scenario). A quota caps such a reader; it is off
 * unless the operator sets one, as in Kafka.
 *
 * Accounting is a token bucket per client id, charged after an answer is built (the answer is
 * never cut short, so a consumer always makes progress): when the bucket is in debt the client
 * is told how long to stay quiet, the time the debt takes to refill. The adapter reports that
 * as throttle_time_ms and stops reading the connection for as long (KIP-219), which enforces
 * the rate even with clients that ignore the field.
 */
import { assert } from "../util/assert.js";

/** Client ids tracked at once; past it the least recently charged is forgotten (it starts full again). */
export const QUOTA_CLIENTS_MAX = 10_000;
/** Longest throttle, and so the largest debt a client can owe. */
export const QUOTA_THROTTLE_MS_MAX = 30_000;
/** Burst allowance, in seconds of the rate. */
const BURST_SECONDS = 1;

interface Bucket {
  tokens: number;
  atMs: number;
}

export interface ByteRateQuotaConfig {
  /** Bytes/s for every client id not listed in `perClient`; unset = no limit for them. */
  readonly defaultBytesPerSec?: number;
  /** Bytes/s for particular client ids (Kafka's per-client-id quota entities). */
  readonly perClient?: Readonly<Record<string, number>>;
}

export class ByteRateQuota {
  /** Insertion order = least recently charged first (entries are re-inserted on charge). */
  private readonly buckets = new Map<string, Bucket>();
  private readonly defaultRate: number | undefined;
  private readonly perClient: ReadonlyMap<string, number>;

  constructor(config: ByteRateQuotaConfig) {
    const ok = (r: number) => Number.isFinite(r) && r > 0;
    assert(
      config.defaultBytesPerSec === undefined || ok(config.defaultBytesPerSec),
      "a quota's rate must be positive",
    );
    this.defaultRate = config.defaultBytesPerSec;
    this.perClient = new Map(Object.entries(config.perClient ?? {}));
    for (const r of this.perClient.values()) assert(ok(r), "a quota's rate must be positive");
  }

  /** The client's rate in bytes/s, or undefined when it is not limited. */
  rateFor(clientId: string): number | undefined {
    return this.perClient.get(clientId) ?? this.defaultRate;
  }

  /** Records `bytes` sent to `clientId` at `nowMs`; returns how long it must now wait, in ms. */
  charge(clientId: string, bytes: number, nowMs: number): number {
    const rate = this.rateFor(clientId);
    if (rate === undefined) return 0;
    const burst = rate * BURST_SECONDS;
    const b = this.buckets.get(clientId) ?? { tokens: burst, atMs: nowMs };
    this.buckets.delete(clientId);
    const elapsedMs = Math.max(0, nowMs - b.atMs);
    // Debt is capped at the longest wait: one huge answer under a tiny quota costs at most
    // QUOTA_THROTTLE_MS_MAX, not hours (Kafka's windowed rate forgets old usage likewise).
    const debtMax = (rate * QUOTA_THROTTLE_MS_MAX) / 1000;
    b.tokens = Math.max(-debtMax, Math.min(burst, b.tokens + (rate * elapsedMs) / 1000) - bytes);
    b.atMs = nowMs;
    this.buckets.set(clientId, b);
    if (this.buckets.size > QUOTA_CLIENTS_MAX) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    if (b.tokens >= 0) return 0;
    return Math.min(QUOTA_THROTTLE_MS_MAX, Math.ceil((-b.tokens * 1000) / rate));
  }

  get trackedClients(): number {
    return this.buckets.size;
  }
}
