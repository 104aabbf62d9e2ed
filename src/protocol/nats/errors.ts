/**
 * The `-ERR '<text>'` messages, worded as nats-server words them: clients match on the text
 * (nats.js turns "Stale Connection", "Maximum Payload Violation", "Authorization Violation" and
 * "Permissions Violation" into typed errors), so the words are part of the protocol.
 */
export const NatsErr = {
  unknownOp: "Unknown Protocol Operation",
  controlLine: "Maximum Control Line Exceeded",
  maxPayload: "Maximum Payload Violation",
  invalidPublishSubject: "Invalid Publish Subject",
  invalidSubject: "Invalid Subject",
  maxSubscriptions: "Maximum Subscriptions Exceeded",
  maxConnections: "maximum connections exceeded",
  staleConnection: "Stale Connection",
  slowConsumer: "Slow Consumer",
  headersNotSupported: "Message Headers Not Supported",
  noRespondersNeedsHeaders: "no responders requires headers support",
  badProtocolVersion: "Unknown Protocol Version",
  invalidConnect: "Invalid CONNECT",
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
