/**
 * A stream's configuration in JetStream's JSON form (what `jsm.streams.add()` sends), checked and
 * completed with nats-server's defaults, and the topic configs that carry its limits on the log:
 * max_age is the topic's retention.ms, max_bytes its retention.bytes.
 *
 * What a log cannot do is refused with a clear error rather than accepted and ignored: memory
 * storage (every stream is on the log, fsynced), discard "new", retention other than "limits",
 * per-message or per-count limits (max_msgs, max_msgs_per_subject), mirrors and sources, and
 * more than one replica on this single node.
 */
import { subjectProblem } from "../messaging/subject.js";

/** nats-server's default duplicate_window: 2 minutes, in nanoseconds as the API has it. */
export const DUPLICATE_WINDOW_NS_DEFAULT = 120e9;
/** Stream names: nats-server's rules within what a Kafka topic name allows (no '.'). */
export const STREAM_NAME_LENGTH_MAX = 249;
/** Subjects per stream: bounds the capture subscriptions one stream can add to the bus. */
export const STREAM_SUBJECTS_MAX = 256;
/** nats-server's floor for max_age. */
export const MAX_AGE_NS_MIN = 100e6;

export interface StreamConfig {
  name: string;
  subjects: string[];
  retention: "limits";
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  max_age: number;
  max_msgs_per_subject: number;
  max_msg_size: number;
  discard: "old";
  storage: "file";
  num_replicas: number;
  duplicate_window: number;
  no_ack: boolean;
  sealed: boolean;
  deny_delete: boolean;
  deny_purge: boolean;
  allow_rollup_hdrs: boolean;
  allow_direct: boolean;
  mirror_direct: boolean;
  description?: string;
}

/** A config the API refuses, with nats-server's error code for it. */
export class StreamConfigError extends Error {
  constructor(
    readonly errCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** JSStreamInvalidConfigF: the catch-all for a config nats-server will not take. */
const INVALID = 10052;

export function streamNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "stream name is required";
  if (name.length > STREAM_NAME_LENGTH_MAX)
    return `stream name longer than ${STREAM_NAME_LENGTH_MAX} characters`;
  if (!/^[A-Za-z0-9_-]+$/.test(name))
    return "stream name may contain only ASCII letters, digits, '_' and '-' (it names the stream's Kafka topic too)";
  return null;
}

const num = (v: unknown, dflt: number): number => (typeof v === "number" && Number.isFinite(v) ? v : dflt);

/** Checks `raw` (the request body) and fills in defaults; throws StreamConfigError. */
export function normalizeStreamConfig(raw: unknown): StreamConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new StreamConfigError(10003, "bad request: a stream config object is required");
  const r = raw as Record<string, unknown>;
  const nameProblem = streamNameProblem(r.name);
  if (nameProblem) throw new StreamConfigError(INVALID, nameProblem);
  const name = r.name as string;
  const subjects =
    r.subjects === undefined || r.subjects === null || (Array.isArray(r.subjects) && r.subjects.length === 0)
      ? [name]
      : r.subjects;
  if (!Array.isArray(subjects) || !subjects.every((s) => typeof s === "string"))
    throw new StreamConfigError(INVALID, "subjects must be a list of strings");
  if (subjects.length > STREAM_SUBJECTS_MAX)
    throw new StreamConfigError(INVALID, `more than ${STREAM_SUBJECTS_MAX} subjects`);
  for (const s of subjects as string[]) {
    const bad = subjectProblem(s, "subscribe");
    if (bad) throw new StreamConfigError(INVALID, `invalid subject '${s}': ${bad}`);
    if (subjectsOverlap(s, "$JS.>") || subjectsOverlap(s, "_INBOX.>"))
      throw new StreamConfigError(INVALID, `subject '${s}' overlaps JetStream's API or reply inboxes`);
  }
  const split = (subjects as string[]).map((s) => s.split("."));
  const dup = (subjects as string[]).find((_, i) =>
    split.some((o, j) => j !== i && tokensOverlap(split[i]!, o)),
  );
  if (dup) throw new StreamConfigError(INVALID, `subjects overlap within the stream ('${dup}')`);
  const refuse = (cond: boolean, why: string) => {
    if (cond) throw new StreamConfigError(INVALID, why);
  };
  refuse(
    r.retention !== undefined && r.retention !== "limits",
    `retention '${String(r.retention)}' is not offered: only "limits"`,
  );
  refuse(
    r.storage !== undefined && r.storage !== "file",
    "memory storage is not offered: every stream is on the log, fsynced",
  );
  refuse(
    r.discard !== undefined && r.discard !== "old",
    `discard '${String(r.discard)}' is not offered: only "old"`,
  );
  refuse(num(r.max_msgs, -1) > 0, "max_msgs is not offered: limit a stream by max_bytes or max_age");
  refuse(num(r.max_msgs_per_subject, -1) > 0, "max_msgs_per_subject is not offered");
  refuse(r.mirror !== undefined && r.mirror !== null, "mirrors are not offered");
  refuse(Array.isArray(r.sources) && r.sources.length > 0, "sources are not offered");
  refuse(r.sealed === true, "sealed streams are not offered");
  const replicas = num(r.num_replicas, 1);
  if (replicas > 1) throw new StreamConfigError(10074, "replicas > 1 not supported in non-clustered mode");
  refuse(r.republish !== undefined && r.republish !== null, "republish is not offered");
  refuse(
    r.subject_transform !== undefined && r.subject_transform !== null,
    "subject transforms are not offered",
  );
  refuse(num(r.first_seq, 0) > 1, "first_seq is not offered: sequences start at 1");
  refuse(r.allow_rollup_hdrs === true, "rollups are not offered");
  refuse(r.allow_direct === true || r.mirror_direct === true, "direct get is not offered");
  refuse(
    r.compression !== undefined && r.compression !== "none" && r.compression !== "",
    "stream compression is not offered",
  );
  const maxAge = num(r.max_age, 0);
  const maxBytes = num(r.max_bytes, -1);
  refuse(maxAge < 0, "max_age must not be negative");
  refuse(maxAge > 0 && maxAge < MAX_AGE_NS_MIN, "max age needs to be >= 100ms");
  const asked = num(r.duplicate_window, 0);
  refuse(asked < 0, "duplicates window must be zero or positive");
  // As nats-server: without a window of its own, a stream keeps ids for 2 minutes or max_age,
  // whichever is shorter.
  const window =
    asked > 0
      ? asked
      : maxAge > 0
        ? Math.min(maxAge, DUPLICATE_WINDOW_NS_DEFAULT)
        : DUPLICATE_WINDOW_NS_DEFAULT;
  refuse(maxAge > 0 && window > maxAge, "duplicates window can not be larger then max age");
  const maxMsgSize = num(r.max_msg_size, -1);
  const config: StreamConfig = {
    name,
    subjects: subjects as string[],
    retention: "limits",
    // nats.go sends 0 for "not set"; nats-server stores -1 then.
    max_consumers: num(r.max_consumers, -1) > 0 ? num(r.max_consumers, -1) : -1,
    max_msgs: -1,
    max_bytes: maxBytes > 0 ? maxBytes : -1,
    max_age: maxAge,
    max_msgs_per_subject: -1,
    max_msg_size: maxMsgSize > 0 ? maxMsgSize : -1,
    discard: "old",
    storage: "file",
    num_replicas: 1,
    duplicate_window: window,
    no_ack: r.no_ack === true,
    sealed: false,
    deny_delete: true,
    deny_purge: r.deny_purge === true,
    allow_rollup_hdrs: false,
    allow_direct: false,
    mirror_direct: false,
  };
  if (typeof r.description === "string") config.description = r.description;
  return config;
}

/**
 * A stream topic's max.message.bytes: room for a max_payload (1 MiB) message with its subject,
 * headers and batch framing, which Kafka's default (1 MB + 12) does not leave.
 */
export const STREAM_TOPIC_MESSAGE_BYTES_MAX = 2 * 1024 * 1024;

/** The stream's topic configs: its limits as Kafka retention. */
export function topicConfigsOf(c: StreamConfig): Record<string, string> {
  return {
    "max.message.bytes": String(STREAM_TOPIC_MESSAGE_BYTES_MAX),
    "retention.ms": c.max_age > 0 ? String(Math.ceil(c.max_age / 1e6)) : "-1",
    "retention.bytes": String(c.max_bytes),
  };
}

/** Whether some subject matches both filters (wildcards allowed in each). */
export function subjectsOverlap(a: string, b: string): boolean {
  return tokensOverlap(a.split("."), b.split("."));
}

/** subjectsOverlap on subjects already split into tokens (checks run over many pairs). */
export function tokensOverlap(x: readonly string[], y: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const s = x[i];
    const t = y[i];
    if (s === ">" || t === ">") return s !== undefined && t !== undefined;
    if (s === undefined || t === undefined) return s === t;
    if (s !== "*" && t !== "*" && s !== t) return false;
  }
}
