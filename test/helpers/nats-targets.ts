/**
 * The NATS implementations the shared core-NATS suites run against: the reference nats-server
 * (Debian's 2.9.10, /usr/sbin/nats-server) and OnceDB's NATS listener. Every expectation in
 * test/nats-*.test.ts must hold for both, so each one is NATS's own behaviour.
 *
 * Also `RawNats`, a plain TCP connection for the cases no well-behaved client produces: it
 * records every byte the server sends and tells an open connection (PING answered by PONG)
 * from a closed one (the socket's close event).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { startServer } from "./server.js";

export interface NatsTarget {
  readonly host: string;
  readonly port: number;
  /** "host:port", as the nats.js client's `servers` takes it. */
  readonly address: string;
  /** Server-side log lines so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export type StartTarget = () => Promise<NatsTarget>;

export const NATS_SERVER_BIN = "/usr/sbin/nats-server";
/** The version whose behaviour the suites record. */
export const NATS_SERVER_VERSION = "2.9.10";
const START_TIMEOUT_MS = 15_000;

function target(address: string, log: () => string, stop: () => Promise<void>): NatsTarget {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)), address, log, stop };
}

/** Starts `nats-server -a 127.0.0.1 -p -1` (a port the OS picks) in a temporary directory. */
export function startNatsServer(): Promise<NatsTarget> {
  return spawnNatsServer(() => []);
}

/**
 * Starts nats-server as startNatsServer does, with JetStream on (`-js`) and its file store in
 * the temporary directory (`-sd`), for suites that compare JetStream behaviour.
 */
export function startNatsServerJs(): Promise<NatsTarget> {
  return spawnNatsServer((dir) => ["-js", "-sd", path.join(dir, "jetstream")], /Starting JetStream/);
}

/**
 * Runs nats-server with `extraArgs(dir)` after the listen arguments, in a temporary directory
 * `dir` removed on stop; `mustLog`, when given, must appear in its log before it is ready.
 */
async function spawnNatsServer(extraArgs: (dir: string) => string[], mustLog?: RegExp): Promise<NatsTarget> {
  if (!fs.existsSync(NATS_SERVER_BIN)) {
    throw new Error(
      `${NATS_SERVER_BIN} is missing: the core NATS suites compare OnceDB with the reference ` +
        `nats-server ${NATS_SERVER_VERSION}. Install it with \`apt-get install -y nats-server\` (.ci/run does).`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nats-server-test-"));
  const proc = spawn(NATS_SERVER_BIN, ["-a", "127.0.0.1", "-p", "-1", ...extraArgs(dir)], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const stop = async () => {
    await stopProcess(proc, exited);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server not ready:\n${lines.join("\n")}`)),
        START_TIMEOUT_MS,
      );
      let address = "";
      let version = "";
      // nats-server logs to stderr.
      readline.createInterface({ input: proc.stderr! }).on("line", (line) => {
        lines.push(line);
        version ||= /Version:\s+(\S+)/.exec(line)?.[1] ?? "";
        address ||= /Listening for client connections on (\S+)/.exec(line)?.[1] ?? "";
        if (!line.includes("Server is ready")) return;
        clearTimeout(timer);
        if (version !== NATS_SERVER_VERSION) {
          reject(
            new Error(
              `${NATS_SERVER_BIN} is version ${version}; the suites record nats-server ${NATS_SERVER_VERSION}`,
            ),
          );
        } else if (!address) reject(new Error(`nats-server printed no client address:\n${lines.join("\n")}`));
        else if (mustLog && !lines.some((l) => mustLog.test(l)))
          reject(new Error(`nats-server never logged ${mustLog}:\n${lines.join("\n")}`));
        else resolve(address);
      });
      proc.once("error", reject);
      proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}:\n${lines.join("\n")}`)));
    });
    return target(address, () => lines.join("\n"), stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stops by PID: SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stopProcess(proc: ChildProcess, exited: Promise<void>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts an OnceDB server process with its NATS listener on a free port. */
export async function startOnceDB(): Promise<NatsTarget> {
  const server = await startServer({ nats: true });
  return target(
    server.natsAddress,
    () => server.logLines.join("\n"),
    () => server.dispose(),
  );
}

export const NATS_TARGETS: ReadonlyArray<readonly [name: string, start: StartTarget]> = [
  ["nats-server", startNatsServer],
  ["OnceDB", startOnceDB],
];

/** Resolves when `promise` does, or rejects with `what` after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RawMsg {
  op: "MSG" | "HMSG";
  subject: string;
  sid: string;
  reply: string | undefined;
  /** The header block, verbatim (HMSG only). */
  headers: Buffer | undefined;
  payload: Buffer;
}

const CRLF = Buffer.from("\r\n");
const PONG_LINE = Buffer.from("PONG\r\n");

/**
 * A raw NATS client connection. Everything the server sends accumulates in one buffer; the read
 * methods consume it from the front.
 */
export class RawNats {
  /** The INFO line's JSON. */
  info: Record<string, unknown> = {};
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private socketError: Error | undefined;
  private wake: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.notify();
    });
    // A reset after the server closed is part of "closed"; it is kept for failure messages.
    socket.on("error", (err) => (this.socketError = err));
    socket.once("close", () => {
      this.closed = true;
      this.notify();
    });
  }

  /**
   * Connects, reads the INFO line (which must come first), then sends `CONNECT <json>` unless
   * `connect` is null. The JSON defaults to {"verbose":false,"pedantic":false} plus `connect`.
   */
  static async connect(t: NatsTarget, connect: Record<string, unknown> | null = {}): Promise<RawNats> {
    const socket = net.connect(t.port, t.host);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new RawNats(socket);
    const first = await c.line();
    if (!first.startsWith("INFO ")) throw new Error(`first line is not INFO: ${JSON.stringify(first)}`);
    c.info = JSON.parse(first.slice(5)) as Record<string, unknown>;
    if (connect) c.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...connect })}\r\n`);
    return c;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received and not yet consumed, as text. */
  pending(): string {
    return this.buf.toString("latin1");
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Waits until `take` returns a value (it sees the unconsumed bytes), the socket closes, or the timeout. */
  private async until<T>(take: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      const state = () => `received ${JSON.stringify(this.buf.subarray(0, 500).toString("latin1"))}`;
      if (this.closed) {
        const err = this.socketError ? ` (${this.socketError.message})` : "";
        throw new Error(`connection closed${err} while waiting for ${what}; ${state()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${state()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private consume(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next CRLF-terminated line, without the CRLF. */
  line(timeoutMs = 5000): Promise<string> {
    return this.until(
      () => {
        const i = this.buf.indexOf(CRLF);
        if (i < 0) return undefined;
        const line = this.consume(i).toString("latin1");
        this.consume(2);
        return line;
      },
      "a line",
      timeoutMs,
    );
  }

  /** The next MSG or HMSG with its payload. */
  msg(timeoutMs = 5000): Promise<RawMsg> {
    return this.until(
      () => {
        const i = this.buf.indexOf(CRLF);
        if (i < 0) return undefined;
        const parts = this.buf.subarray(0, i).toString("latin1").split(" ");
        const op = parts[0];
        if (op !== "MSG" && op !== "HMSG")
          throw new Error(`expected MSG or HMSG, got ${JSON.stringify(parts)}`);
        const total = Number(parts[parts.length - 1]);
        const hdrLen = op === "HMSG" ? Number(parts[parts.length - 2]) : 0;
        const fixed = op === "HMSG" ? 5 : 4;
        if (i + 2 + total + 2 > this.buf.length) return undefined;
        this.consume(i + 2);
        const body = Buffer.from(this.consume(total));
        const end = this.consume(2).toString("latin1");
        if (end !== "\r\n") throw new Error(`message not followed by CRLF: ${JSON.stringify(end)}`);
        return {
          op,
          subject: parts[1]!,
          sid: parts[2]!,
          reply: parts.length === fixed + 1 ? parts[3] : undefined,
          headers: op === "HMSG" ? body.subarray(0, hdrLen) : undefined,
          payload: body.subarray(hdrLen),
        } satisfies RawMsg;
      },
      "MSG",
      timeoutMs,
    );
  }

  /**
   * Proves the connection open: sends PING and waits for the PONG line. Resolves with the text
   * received before the PONG (consumed together with it).
   */
  ping(timeoutMs = 5000): Promise<string> {
    this.write("PING\r\n");
    return this.until(
      () => {
        // PONG at the start of a line; the tests' payloads never contain "PONG".
        let i = this.buf.indexOf(PONG_LINE);
        while (i > 0 && this.buf[i - 1] !== 0x0a) i = this.buf.indexOf(PONG_LINE, i + 1);
        if (i < 0) return undefined;
        const before = this.consume(i).toString("latin1");
        this.consume(PONG_LINE.length);
        return before;
      },
      "PONG",
      timeoutMs,
    );
  }

  /**
   * Proves the connection closed by the server: waits for the socket's close event without
   * writing anything. Resolves with the text received that had not been consumed.
   */
  async untilClosed(timeoutMs = 5000): Promise<string> {
    await this.until(() => (this.closed ? true : undefined), "the server to close the connection", timeoutMs);
    return this.pending();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
