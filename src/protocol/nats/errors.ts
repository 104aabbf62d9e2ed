/**
 * The `-ERR '<text>'` messages, worded (and capitalised) exactly as nats-server 2.9 words them:
 * clients match on the text (nats.js turns "Stale Connection", "Maximum Payload Violation",
 * "Authorization Violation" and "Permissions Violation" into typed errors), so the words are
 * part of the protocol. test/nats-protocol.test.ts checks them against nats-server itself.
 */
export const NatsErr = {
  unknownOp: "Unknown Protocol Operation",
  controlLine: "maximum control line exceeded",
  maxPayload: "Maximum Payload Violation",
  invalidPublishSubject: "Invalid Publish Subject",
  invalidSubject: "Invalid Subject",
  maxSubscriptions: "Maximum Subscriptions Exceeded",
  maxConnections: "maximum connections exceeded",
  staleConnection: "Stale Connection",
  slowConsumer: "Slow Consumer",
  headersNotSupported: "Message Headers Not Supported",
  noRespondersNeedsHeaders: "no responders requires headers support",
  badProtocolVersion: "invalid client protocol",
  // nats-server closes the connection without a word in the cases below; we say why (a client
  // that gets an -ERR closes the same way, and its user sees the reason).
  invalidConnect: "Invalid CONNECT JSON",
  invalidArguments: "Invalid Arguments",
} as const;

/** A protocol error; `fatal` ones close the connection after the -ERR is written. */
export class NatsProtocolError extends Error {
  override name = "NatsProtocolError";
  constructor(
    readonly text: string,
    readonly fatal: boolean,
    /** More detail for the log (never sent: clients match on `text`). */
    readonly detail?: string,
  ) {
    super(detail ? `${text}: ${detail}` : text);
  }
}
