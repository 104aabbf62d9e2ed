/**
 * Subjects: dot-separated tokens, as NATS defines them. A publish subject names one subject;
 * a subscription's may hold wildcards: `*` matches exactly one token, `>` (last token only)
 * one or more.
 *
 * Rules (nats-server's, without its pedantic-mode extras):
 * - no empty subject, no empty token (`a..b`, `.a`, `a.`);
 * - no whitespace anywhere (space, tab, CR, LF), since the wire protocol splits on it;
 * - a publish subject holds no wildcard token;
 * - `>` only as the last token; `*` and `>` only as whole tokens (`a*` is a literal token).
 */

/** nats-server has no fixed subject limit; ours bounds the subscription index's depth and memory. */
export const SUBJECT_BYTES_MAX = 1024;
/** Tokens per subject: bounds the matcher's recursion (each `*`/`>` branch descends one level). */
export const SUBJECT_TOKENS_MAX = 64;

/** ASCII whitespace only: what the wire protocol splits on. */
const WHITESPACE = /[ \t\r\n\f\v]/;

export type SubjectKind = "publish" | "subscribe";

/** Why `subject` is not valid as a `kind` subject, or null if it is. */
export function subjectProblem(subject: string, kind: SubjectKind): string | null {
  if (subject.length === 0) return "empty subject";
  if (subject.length > SUBJECT_BYTES_MAX) return `subject longer than ${SUBJECT_BYTES_MAX} characters`;
  if (WHITESPACE.test(subject)) return "whitespace in subject";
  const tokens = subject.split(".");
  if (tokens.length > SUBJECT_TOKENS_MAX) return `more than ${SUBJECT_TOKENS_MAX} tokens`;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 0) return "empty token";
    if (t === "*" || t === ">") {
      if (kind === "publish") return "wildcard in a publish subject";
      if (t === ">" && i !== tokens.length - 1) return "'>' before the last token";
    }
  }
  return null;
}

/**
 * subjectProblem(s, "publish") === null, without allocating: it runs for every message
 * published, so it is one scan over the characters.
 */
export function isValidPublishSubject(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > SUBJECT_BYTES_MAX) return false;
  let tokenStart = 0;
  let tokens = 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (i === tokenStart || ++tokens > SUBJECT_TOKENS_MAX) return false;
      tokenStart = i + 1;
    } else if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return false;
    else if ((c === 0x2a || c === 0x3e) && i === tokenStart && (i + 1 === n || s.charCodeAt(i + 1) === 0x2e))
      return false;
  }
  return tokenStart < n;
}

/** Whether a subscription subject (with wildcards) matches a publish subject. Reference matcher. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** A queue group name is one token without wildcards (nats-server rejects others). */
export function queueProblem(queue: string): string | null {
  if (queue.length === 0) return "empty queue group";
  if (queue.length > SUBJECT_BYTES_MAX) return `queue group longer than ${SUBJECT_BYTES_MAX} characters`;
  if (WHITESPACE.test(queue)) return "whitespace in queue group";
  return null;
}
