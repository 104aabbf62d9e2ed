/**
 * The NATS client protocol, client to server: a text control line per operation, ended by
 * CRLF, and for PUB/HPUB a payload of the announced size followed by CRLF.
 *
 *     CONNECT <json>
 *     PUB <subject> [reply-to] <#bytes>\r\n<payload>\r\n
 *     HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
 *     SUB <subject> [queue group] <sid>
 *     UNSUB <sid> [max_msgs]
 *     PING | PONG
 *
 * Operation names are case-insensitive and arguments are separated by spaces or tabs, as
 * nats-server accepts them; a bare LF ends a line too. The parser is a two-state machine:
 * reading a control line, or waiting for the payload a PUB/HPUB announced. It finds line ends
 * with Buffer.indexOf (native) and keeps an incomplete tail between reads without copying it
 * more than once (`carry`), so a 1 MiB payload arriving in 64 KiB reads is joined once.
 *
 * Limits are checked before anything is allocated: a control line longer than
 * MAX_CONTROL_LINE_BYTES and an announced payload over the connection's max_payload are fatal.
 */
import { NatsErr, NatsProtocolError } from "./errors.js";

/** nats-server's max_control_line default. */
export const MAX_CONTROL_LINE_BYTES = 4096;

const LF = 0x0a;
const CR = 0x0d;

export interface NatsOps {
  connect(json: string): void;
  /** `headers` is undefined for PUB. `payload` is a view into the read buffer: copy to keep it. */
  pub(subject: string, reply: string | undefined, headers: Buffer | undefined, payload: Buffer): void;
  sub(subject: string, queue: string | undefined, sid: string): void;
  unsub(sid: string, max: number | undefined): void;
  ping(): void;
  pong(): void;
  /** A protocol error; after a fatal one the parser reads nothing more. */
  error(err: NatsProtocolError): void;
}

interface AwaitedPayload {
  subject: string;
  reply: string | undefined;
  headerBytes: number;
  totalBytes: number;
}

const SEPARATOR = /[ \t]+/;

export class NatsParser {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private awaiting: AwaitedPayload | null = null;
  private failed = false;

  constructor(
    private readonly ops: NatsOps,
    /** The payload limit told to the client in INFO (max_payload). */
    private readonly payloadBytesMax: number,
  ) {}

  get stopped(): boolean {
    return this.failed;
  }

  /** Stops parsing for good (the connection is closing): nothing more reaches `ops`. */
  halt(): void {
    this.failed = true;
    this.carry = [];
    this.carryBytes = 0;
  }

  /** Parses what `chunk` completes; keeps the rest for the next call. */
  feed(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    if (this.carryBytes > 0) {
      this.carry.push(chunk);
      this.carryBytes += chunk.length;
      // Still short of the payload: keep collecting without joining. (Once its CRLF starts to
      // arrive, parse: the CRLF is checked byte by byte.)
      if (this.awaiting) {
        if (this.carryBytes <= this.awaiting.totalBytes) return;
      } else if (chunk.indexOf(LF) < 0) {
        if (this.carryBytes > MAX_CONTROL_LINE_BYTES) this.fail(controlLineError(this.carryBytes));
        return;
      }
      buf = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
    }
    const p = this.parse(buf);
    if (!this.failed && p < buf.length) {
      this.carry.push(p === 0 ? buf : buf.subarray(p));
      this.carryBytes = buf.length - p;
    }
  }

  /** Parses complete operations from `buf`; returns where the unparsed rest starts. */
  private parse(buf: Buffer): number {
    let p = 0;
    const n = buf.length;
    while (p < n && !this.failed) {
      const a = this.awaiting;
      if (a) {
        const end = p + a.totalBytes;
        // The CRLF after the payload is checked as far as it has arrived, byte by byte as
        // nats-server does, so a payload shorter than announced fails at once instead of
        // swallowing the operations after it while waiting.
        if ((n > end && buf[end] !== CR) || (n > end + 1 && buf[end + 1] !== LF)) {
          this.fail(
            new NatsProtocolError(
              NatsErr.unknownOp,
              true,
              `payload of ${a.totalBytes} bytes not followed by CRLF`,
            ),
          );
          break;
        }
        if (n - p < a.totalBytes + 2) break;
        this.awaiting = null;
        const headers = a.headerBytes >= 0 ? buf.subarray(p, p + a.headerBytes) : undefined;
        const payload = buf.subarray(p + Math.max(0, a.headerBytes), end);
        p = end + 2;
        this.ops.pub(a.subject, a.reply, headers, payload);
        continue;
      }
      const lf = buf.indexOf(LF, p);
      if (lf < 0) {
        if (n - p > MAX_CONTROL_LINE_BYTES) this.fail(controlLineError(n - p));
        break;
      }
      if (lf - p > MAX_CONTROL_LINE_BYTES) {
        this.fail(controlLineError(lf - p));
        break;
      }
      const end = lf > p && buf[lf - 1] === CR ? lf - 1 : lf;
      const start = p;
      p = lf + 1;
      // The hot path, "PUB <subject> [reply] <size>" with single spaces, read without building
      // the line as a string; anything else takes the general path.
      if (
        buf[start] === 0x50 &&
        buf[start + 1] === 0x55 &&
        buf[start + 2] === 0x42 &&
        buf[start + 3] === 0x20
      )
        if (this.fastPub(buf, start + 4, end)) continue;
      this.line(buf.toString("utf8", start, end));
    }
    return p;
  }

  /** PUB arguments between `s` and `end`; false (nothing consumed) if not in the simple form. */
  private fastPub(buf: Buffer, s: number, end: number): boolean {
    const tab = buf.indexOf(0x09, s);
    if (tab >= 0 && tab < end) return false;
    const sp1 = buf.indexOf(0x20, s);
    if (sp1 <= s || sp1 >= end) return false;
    let sp2 = buf.indexOf(0x20, sp1 + 1);
    if (sp2 >= end) sp2 = -1;
    if (sp2 === sp1 + 1) return false;
    const sizeAt = sp2 < 0 ? sp1 + 1 : sp2 + 1;
    let total = 0;
    if (sizeAt >= end || end - sizeAt > 15) return false;
    for (let i = sizeAt; i < end; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) return false;
      total = total * 10 + d;
    }
    if (this.overPayloadLimit(total)) return true;
    this.awaiting = {
      subject: buf.toString("utf8", s, sp1),
      reply: sp2 < 0 ? undefined : buf.toString("utf8", sp1 + 1, sp2),
      headerBytes: -1,
      totalBytes: total,
    };
    return true;
  }

  private line(line: string): void {
    const space = line.search(SEPARATOR);
    const op = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const rest = space < 0 ? "" : line.slice(space).trim();
    switch (op) {
      case "PUB":
        this.pubLine(rest, false);
        return;
      case "HPUB":
        this.pubLine(rest, true);
        return;
      case "SUB": {
        const args = split(rest);
        if (args.length !== 2 && args.length !== 3) {
          this.argError("SUB", line);
          return;
        }
        this.ops.sub(args[0]!, args.length === 3 ? args[1] : undefined, args[args.length - 1]!);
        return;
      }
      case "UNSUB": {
        const args = split(rest);
        if (args.length !== 1 && args.length !== 2) {
          this.argError("UNSUB", line);
          return;
        }
        let max: number | undefined;
        if (args.length === 2) {
          max = parseSize(args[1]!);
          if (max < 0) {
            this.argError("UNSUB", line);
            return;
          }
        }
        this.ops.unsub(args[0]!, max);
        return;
      }
      case "PING":
        this.ops.ping();
        return;
      case "PONG":
        this.ops.pong();
        return;
      case "CONNECT":
        this.ops.connect(rest);
        return;
      case "":
        // An empty line (a stray CRLF) is ignored, as nats-server does.
        return;
      default:
        this.fail(new NatsProtocolError(NatsErr.unknownOp, true, `operation '${op.slice(0, 32)}'`));
    }
  }

  private pubLine(rest: string, withHeaders: boolean): void {
    const args = split(rest);
    const sizes = withHeaders ? 2 : 1;
    if (args.length !== sizes + 1 && args.length !== sizes + 2) {
      this.argError(withHeaders ? "HPUB" : "PUB", rest);
      return;
    }
    const total = parseSize(args[args.length - 1]!);
    const headerBytes = withHeaders ? parseSize(args[args.length - 2]!) : -1;
    if (total < 0 || (withHeaders && (headerBytes < 0 || headerBytes > total))) {
      this.argError(withHeaders ? "HPUB" : "PUB", rest);
      return;
    }
    if (this.overPayloadLimit(total)) return;
    this.awaiting = {
      subject: args[0]!,
      reply: args.length === sizes + 2 ? args[1] : undefined,
      headerBytes,
      totalBytes: total,
    };
  }

  /** An announced payload over max_payload fails the connection (before anything is read). */
  private overPayloadLimit(total: number): boolean {
    if (total <= this.payloadBytesMax) return false;
    this.fail(
      new NatsProtocolError(
        NatsErr.maxPayload,
        true,
        `${total} bytes over max_payload ${this.payloadBytesMax}`,
      ),
    );
    return true;
  }

  private argError(op: string, line: string): void {
    this.fail(
      new NatsProtocolError(NatsErr.invalidArguments, true, `bad ${op} arguments '${line.slice(0, 128)}'`),
    );
  }

  private fail(err: NatsProtocolError): void {
    this.halt();
    this.ops.error(err);
  }
}

function controlLineError(bytes: number): NatsProtocolError {
  return new NatsProtocolError(
    NatsErr.controlLine,
    true,
    `control line of ${bytes}+ bytes over ${MAX_CONTROL_LINE_BYTES}`,
  );
}

function split(rest: string): string[] {
  return rest.length === 0 ? [] : rest.split(SEPARATOR);
}

/** A non-negative decimal size, or -1 (nats-server accepts digits only). */
function parseSize(s: string): number {
  if (s.length === 0 || s.length > 15 || !/^[0-9]+$/.test(s)) return -1;
  return Number(s);
}
