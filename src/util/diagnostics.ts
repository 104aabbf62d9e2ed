/**
 * Named `node:diagnostics_channel` channels through which OnceDB reports what it did and when.
 *
 * Why channels: anything in the process (a metrics exporter, a benchmark's preloaded probe, a
 * test) can subscribe by name without the engine knowing about it, and publishing costs one
 * `hasSubscribers` check when nobody listens. Payloads are plain objects; times are wall-clock
 * milliseconds with sub-millisecond precision (`wallNowMs`), comparable across threads.
 *
 * The channel names and payload fields below are a contract: tools rely on them.
 */
import diagnostics from "node:diagnostics_channel";

/** Wall-clock ms, sub-ms precision; the same clock in every thread of the process. */
export function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One storage commit (group commit) became durable. Published on the main thread. */
export interface CommitEvent {
  readonly id: number;
  /** Statements in the commit. */
  readonly ops: number;
  /** First submit() that joined this commit. */
  readonly submittedAt: number;
  /** Handed to the writer thread. */
  readonly sentAt: number;
  /** The writer thread began the SQLite transaction. */
  readonly startedAt: number;
  /** COMMIT (with its fsync) returned in the writer thread. */
  readonly endedAt: number;
  /** The main thread learned of it and resolved the waiters. */
  readonly doneAt: number;
}

/** One Kafka request answered and its response handed to the socket. Published on the main thread. */
export interface KafkaRequestEvent {
  readonly apiKey: number;
  readonly apiVersion: number;
  /** The whole request frame was read and is about to be decoded. */
  readonly receivedAt: number;
  /** The handler's answer was ready (for Produce with acks != 0: after the commit). */
  readonly answeredAt: number;
  /** The socket accepted the response's last byte. */
  readonly writtenAt: number;
  /** The request frame, its length prefix excluded. */
  readonly requestBytes: number;
  readonly responseBytes: number;
}

/** One HTTP request answered (REST, Operations API, a subscription's start). Published on the main thread. */
export interface HttpRequestEvent {
  readonly method: string;
  /** The route's pattern (e.g. "/:table/*"), or "unmatched": a fixed set of values. */
  readonly route: string;
  readonly status: number;
  /** Wall-clock ms: the request arrived, the response was sent. */
  readonly receivedAt: number;
  readonly answeredAt: number;
}

export const commitChannel = diagnostics.channel("oncedb:storage:commit");
export const httpRequestChannel = diagnostics.channel("oncedb:http:request");
export const kafkaRequestChannel = diagnostics.channel("oncedb:kafka:request");
