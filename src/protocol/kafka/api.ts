/**
 * What a Kafka API handler is: the versions it serves, its schemas, and the function that
 * turns a decoded request into a response through the engine. One file per API lives in
 * handlers/; api-table.ts lists them, and ApiVersions advertises exactly that list.
 */
import type { Engine } from "../../engine/engine.js";
import type { MessageSchema } from "./codec/schema.js";

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface RequestContext {
  readonly engine: Engine;
  readonly broker: BrokerAddress;
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly clientHost: string;
  /** Server-level settings handlers need. */
  readonly config: KafkaAdapterConfig;
  /**
   * Runs `cb` once the socket is done with this request's response: after it was written (the
   * kernel has it), or once the connection closed without writing it. Then the memory the
   * response referenced may be reused (a fetch's read arena region).
   */
  readonly afterWrite: (cb: () => void) => void;
  /**
   * Quota enforcement (KIP-219): this connection reads no further request for `ms` after this
   * one. The response is not held back by it (see `pace`) and carries the same time as
   * throttle_time_ms.
   */
  readonly throttle: (ms: number) => void;
  /**
   * From now on this connection's responses go to the socket no faster than `bytesPerSec` on
   * average (a quota-limited client's answers are spread out instead of sent in one burst);
   * 0 = as fast as the socket takes them.
   */
  readonly pace: (bytesPerSec: number) => void;
}

export interface KafkaAdapterConfig {
  /** Fetch long-poll cap: a client's max_wait_ms above this is clamped. */
  readonly fetchMaxWaitMsMax: number;
  /** Upper bound on a whole Fetch response, whatever the client asks (Kafka's fetch.max.bytes). */
  readonly fetchResponseBytesMax: number;
}

/** Returned by a handler when the protocol says not to answer (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol("no-response");

export interface KafkaApi<Req = unknown, Res = unknown> {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly request: MessageSchema<Req>;
  readonly response: MessageSchema<Res>;
  handle(req: Req, ctx: RequestContext): Res | typeof NO_RESPONSE | Promise<Res | typeof NO_RESPONSE>;
}

export function defineApi<Req, Res>(api: KafkaApi<Req, Res>): KafkaApi<Req, Res> {
  return api;
}
