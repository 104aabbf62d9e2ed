/**
 * Running one case against the server and judging what came back.
 *
 * The sent bytes are split into frames the way the server delimits them (mutators.splitStream),
 * which says what the server owes us:
 * - a length prefix outside [8, frame max] was reached: it must close the connection;
 * - the bytes end inside a frame: it may say nothing (it is waiting for the rest);
 * - the bytes are whole frames: a probe (ApiVersions v0) is appended, and the server must
 *   answer it or close the connection within the stuck timeout; unless one of the frames is an
 *   API that may park (Fetch long poll, JoinGroup, SyncGroup), when silence is allowed.
 * A server that does neither of what it owes has a stuck connection: a failure.
 */
import { decodeMessage } from "../protocol/kafka/codec/codec.js";
import { responseHeaderVersion } from "../protocol/kafka/codec/header.js";
import { Reader } from "../protocol/kafka/codec/reader.js";
import { inRange } from "../protocol/kafka/codec/schema.js";
import { API_BY_KEY } from "../protocol/kafka/generated/messages.js";
import { type CasePlan, PARKING_API_KEYS } from "./cases.js";
import { FuzzConnection } from "./conn.js";
import { framed, splitStream } from "./mutators.js";

export type Outcome =
  /** The server closed the connection (and owed nothing else). */
  | "closed"
  /** Every frame owed an answer got one (the probe included). */
  | "answered"
  /** The bytes ended inside a frame; nothing was owed. */
  | "incomplete"
  /** A parking API was among the frames and the server was still waiting. */
  | "parked"
  /** It answered, but only after the stuck timeout (within 6 times it). */
  | "slow"
  /** The server owed a close or an answer and gave neither within 6 times the stuck timeout. */
  | "stuck"
  /** Responses were deliberately left unread ("unread" cases). */
  | "unread"
  /** Could not connect. */
  | "connect-failed";

export interface CaseResult {
  outcome: Outcome;
  responses: number;
  okResponses: number;
  errorResponses: number;
  /** Responses we could not decode against the request they answer (a protocol bug, or ours). */
  malformedResponses: number;
  malformedSample?: string;
  ms: number;
}

export interface ExecOptions {
  host: string;
  port: number;
  frameMax: number;
  stuckMs: number;
  parkMs: number;
  incompleteMs: number;
}

const PROBE_CORRELATION_BASE = 0x7f000000;
/** Responses larger than this are not decoded (see judgeResponse). */
const JUDGED_RESPONSE_BYTES_MAX = 256 * 1024;
/** A connection not answered within this many stuck timeouts is stuck; in between, slow. */
const SLOW_FACTOR = 6;
/** In sequential cases, how long a write waits for the previous one's response (acks=0 has none). */
const SEQUENTIAL_WAIT_MS = 2000;

function probeFrame(index: number): { bytes: Buffer; correlationId: number } {
  const correlationId = PROBE_CORRELATION_BASE | (index & 0xffffff);
  const body = Buffer.alloc(8 + 2 + 5);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(5, 8);
  body.write("probe", 10);
  return { bytes: framed(body), correlationId };
}

interface Sent {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  matched: boolean;
}

function hasErrorCode(v: unknown, depth = 0): boolean {
  if (depth > 8 || v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some((x) => hasErrorCode(x, depth + 1));
  if (Buffer.isBuffer(v)) return false;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === "errorCode" && typeof x === "number" && x !== 0) return true;
    if (typeof x === "object" && hasErrorCode(x, depth + 1)) return true;
  }
  return false;
}

/** Decodes a response against its request; returns "ok", "error" or a problem description. */
export function judgeResponse(frame: Buffer, sent: Sent[]): "ok" | "error" | string {
  if (frame.length < 4) return `response of ${frame.length} bytes`;
  const correlationId = frame.readInt32BE(0);
  const req = sent.find((s) => !s.matched && s.correlationId === correlationId);
  if (!req) return `response with unknown correlation id ${correlationId}`;
  req.matched = true;
  // Decoding a huge response (Metadata of a 65,536-partition topic) would stall the fuzzer's
  // own event loop for what is only a statistic; big responses count as answered.
  if (frame.length > JUDGED_RESPONSE_BYTES_MAX) return "ok";
  const api = API_BY_KEY.get(req.apiKey);
  if (!api) return `response to unknown API ${req.apiKey}`;
  let version = req.apiVersion;
  // An unsupported ApiVersions version is answered in v0 (the negotiation rule).
  if (req.apiKey === 18 && (version > 3 || version < 0)) version = 0;
  if (!inRange(api.response.validVersions, version)) return `response to ${api.name} v${version}`;
  try {
    const r = new Reader(frame);
    r.int32();
    if (responseHeaderVersion(req.apiKey, version) >= 1) r.skipTaggedFields();
    const body = decodeMessage(api.response, version, r);
    if (r.remaining() !== 0) return `${api.name} v${version} response has ${r.remaining()} trailing bytes`;
    return hasErrorCode(body) ? "error" : "ok";
  } catch (err) {
    return `${api.name} v${version} response does not decode: ${(err as Error).message}`;
  }
}

/**
 * Whether a request may legitimately go unanswered for a long time: JoinGroup and SyncGroup
 * wait for the group; a Fetch waits up to its max_wait_ms (read from the frame; a Fetch we
 * cannot read is assumed to wait).
 */
export function mayPark(frame: Buffer): boolean {
  const apiKey = frame.readInt16BE(0);
  if (!PARKING_API_KEYS.has(apiKey)) return false;
  if (apiKey !== 1 || frame.length < 10) return true;
  const clientIdLength = frame.readInt16BE(8);
  const at = 10 + Math.max(0, clientIdLength) + 4; // header, then replica_id, then max_wait_ms
  if (frame.readInt16BE(2) >= 12 || at + 4 > frame.length) return true; // flexible header: not parsed here
  return frame.readInt32BE(at) > 0;
}

function sentFrames(frames: readonly Buffer[]): Sent[] {
  return frames.map((f) => ({
    apiKey: f.readInt16BE(0),
    apiVersion: f.readInt16BE(2),
    correlationId: f.readInt32BE(4),
    matched: false,
  }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs one single-connection case. */
export async function executeCase(plan: CasePlan, o: ExecOptions): Promise<CaseResult> {
  if (plan.connections) return executeConnections(plan, o);
  const t0 = Date.now();
  const result: CaseResult = {
    outcome: "answered",
    responses: 0,
    okResponses: 0,
    errorResponses: 0,
    malformedResponses: 0,
    ms: 0,
  };
  let conn: FuzzConnection;
  try {
    conn = await FuzzConnection.connect(o.host, o.port);
  } catch {
    result.outcome = "connect-failed";
    result.ms = Date.now() - t0;
    return result;
  }
  try {
    if (plan.unreadMs !== undefined) {
      conn.socket.pause();
      for (const w of plan.writes) conn.write(w);
      await sleep(plan.unreadMs);
      result.outcome = conn.closed ? "closed" : "unread";
      result.ms = Date.now() - t0;
      return result;
    }
    const all = Buffer.concat(plan.writes);
    const shape = splitStream(all, o.frameMax);
    const owesAnswer = !shape.badLength && shape.leftover === 0;
    const probe = probeFrame(plan.index);
    for (const w of plan.writes) {
      if (plan.sequential && w !== plan.writes[0]) {
        const seen = conn.frames.length;
        await conn.until(() => conn.closed || conn.frames.length > seen, SEQUENTIAL_WAIT_MS);
      }
      conn.write(w);
      if (plan.dribbleMs !== undefined) await sleep(plan.dribbleMs);
      if (conn.closed) break;
    }
    if (owesAnswer) conn.write(probe.bytes);
    const frames = owesAnswer ? [...shape.frames, probe.bytes.subarray(4)] : shape.frames;
    const sent = sentFrames(frames);
    const probeAnswered = () =>
      conn.frames.some((f) => f.length >= 4 && f.readInt32BE(0) === probe.correlationId);
    if (shape.badLength) {
      const closed = await conn.until(() => conn.closed, o.stuckMs);
      const late = closed || (await conn.until(() => conn.closed, o.stuckMs * (SLOW_FACTOR - 1)));
      result.outcome = closed ? "closed" : late ? "slow" : "stuck";
    } else if (!owesAnswer) {
      await conn.until(() => conn.closed, o.incompleteMs);
      result.outcome = conn.closed ? "closed" : "incomplete";
    } else {
      const parking = shape.frames.some(mayPark);
      const answered = () => conn.closed || probeAnswered();
      const done = await conn.until(answered, parking ? o.parkMs : o.stuckMs);
      if (done) result.outcome = probeAnswered() ? "answered" : "closed";
      else if (parking) result.outcome = "parked";
      else {
        // Slow is not stuck: give it more time before calling the connection stuck.
        const late = await conn.until(answered, o.stuckMs * (SLOW_FACTOR - 1));
        result.outcome = late ? "slow" : "stuck";
      }
    }
    if (conn.badResponseLength !== null) {
      result.malformedResponses++;
      result.malformedSample = `response length prefix ${conn.badResponseLength}`;
    }
    for (const f of conn.frames) {
      result.responses++;
      const verdict = judgeResponse(f, sent);
      if (verdict === "ok") result.okResponses++;
      else if (verdict === "error") result.errorResponses++;
      else {
        result.malformedResponses++;
        result.malformedSample ??= verdict;
      }
    }
  } finally {
    conn.destroy();
  }
  result.ms = Date.now() - t0;
  return result;
}

/** Many connections at once, each with a partial or whole frame; whole ones must be answered. */
async function executeConnections(plan: CasePlan, o: ExecOptions): Promise<CaseResult> {
  const t0 = Date.now();
  const result: CaseResult = {
    outcome: "answered",
    responses: 0,
    okResponses: 0,
    errorResponses: 0,
    malformedResponses: 0,
    ms: 0,
  };
  const n = plan.connections ?? 0;
  const conns = await Promise.all(
    Array.from({ length: n }, () => FuzzConnection.connect(o.host, o.port).catch(() => null)),
  );
  try {
    if (conns.some((c) => c === null)) result.outcome = "connect-failed";
    const waits: Promise<boolean>[] = [];
    conns.forEach((c, i) => {
      if (!c) return;
      const bytes = plan.writes[i % plan.writes.length]!;
      c.write(bytes);
      const shape = splitStream(bytes, o.frameMax);
      if (!shape.badLength && shape.leftover === 0 && shape.frames.length > 0) {
        const probe = probeFrame(plan.index * 1000 + i);
        c.write(probe.bytes);
        const answered = () =>
          c.frames.some((f) => f.length >= 4 && f.readInt32BE(0) === probe.correlationId);
        waits.push(c.until(() => c.closed || answered(), o.stuckMs));
      }
    });
    const done = await Promise.all(waits);
    if (result.outcome !== "connect-failed" && done.some((d) => !d)) result.outcome = "slow";
    for (const c of conns) {
      if (!c) continue;
      result.responses += c.frames.length;
      result.okResponses += c.frames.length;
    }
  } finally {
    for (const c of conns) c?.destroy();
  }
  result.ms = Date.now() - t0;
  return result;
}
