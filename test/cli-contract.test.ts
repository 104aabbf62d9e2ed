/**
 * The `oncedb serve` contract tools and tests rely on, checked by spawning the CLI directly:
 * one JSON ready line with the bound Kafka address, env vars instead of flags, disabled
 * listeners, ignored NATS/HTTP flags, the advertised address, clean exits on SIGTERM and
 * SIGINT, data that survives a restart, and a non-zero exit for a bad listen address.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { after, describe, it } from "node:test";
import { kafkaClient } from "./helpers/kafka.js";
import { CLI_PATH } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 15_000;

/** The environment without any ONCEDB_* variable, so defaults and flags are what is tested. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ONCEDB_")) env[k] = v;
  return { ...env, ...extra };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

class Serve {
  readonly proc: ChildProcess;
  /** stdout lines (pino writes its JSON log there). */
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<Exit>;

  constructor(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
    this.proc = spawn(process.execPath, [CLI_PATH, ...args], {
      env: cleanEnv(opts.env),
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc = this.proc;
    this.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: proc.stdout! }).on("line", (l) => this.lines.push(l));
    running.push(this);
  }

  get output(): string {
    return `${this.lines.join("\n")}\n${this.stderr}`;
  }

  /** JSON log lines (anything else on stdout is kept as a string). */
  records(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  async ready(): Promise<Record<string, unknown>> {
    let exited: Exit | null = null;
    void this.exited.then((e) => (exited = e));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const r = this.records().find((x) => x.msg === "ready");
      if (r) return r;
      if (exited) throw new Error(`exited ${JSON.stringify(exited)} before ready:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms:\n${this.output}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  async exit(): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no exit within ${EXIT_TIMEOUT_MS} ms:\n${this.output}`)),
        EXIT_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(signal: NodeJS.Signals): Promise<Exit> {
    this.proc.kill(signal);
    return this.exit();
  }
}

const running: Serve[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-cli-"));
  dirs.push(d);
  return d;
}

/** `serve` with a data directory and Kafka listener, NATS and HTTP off, then `extra`. */
function serveArgs(data: string, kafka: string, ...extra: string[]): string[] {
  return ["serve", "--data", data, "--kafka", kafka, "--nats", "off", "--http", "off", ...extra];
}

function kafkaAddressOf(ready: Record<string, unknown>): string {
  const k = ready.kafka;
  assert.equal(typeof k, "string", `ready line kafka: ${JSON.stringify(ready)}`);
  const m = /^127\.0\.0\.1:(\d+)$/.exec(k as string);
  assert.ok(m, `kafka address ${k}`);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < 65536);
  return k as string;
}

async function listTopics(address: string): Promise<string[]> {
  const admin = kafkaClient(address).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

function kcat(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn("/usr/bin/kcat", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`kcat ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    proc.once("error", reject);
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("oncedb serve: CLI contract", { timeout: 120_000 }, () => {
  after(async () => {
    for (const s of running) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) {
        s.proc.kill("SIGKILL");
        await s.exited;
      }
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("with only --kafka HOST:0 prints exactly one ready line with the bound address; SIGTERM exits 0", async () => {
    const cwd = tempDir();
    const s = new Serve(["serve", "--kafka", "127.0.0.1:0"], { cwd });
    const ready = await s.ready();
    assert.equal(ready.msg, "ready");
    const address = kafkaAddressOf(ready);
    // The raw line carries the documented substrings.
    const raw = s.lines.filter((l) => l.includes('"msg":"ready"'));
    assert.equal(raw.length, 1);
    assert.ok(raw[0].includes(`"kafka":"${address}"`), raw[0]);
    // It really is a Kafka listener, and the default data directory is ./data.
    assert.ok(Array.isArray(await listTopics(address)));
    assert.ok(fs.existsSync(path.join(cwd, "data", "oncedb.sqlite")), "no ./data/oncedb.sqlite");
    assert.deepEqual(await s.stop("SIGTERM"), { code: 0, signal: null });
    assert.equal(s.lines.filter((l) => l.includes('"msg":"ready"')).length, 1, s.output);
  });

  it("ONCEDB_DATA and ONCEDB_KAFKA replace the flags; SIGINT exits 0", async () => {
    const data = tempDir();
    const s = new Serve(["serve"], { env: { ONCEDB_DATA: data, ONCEDB_KAFKA: "127.0.0.1:0" } });
    const address = kafkaAddressOf(await s.ready());
    const admin = kafkaClient(address).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "cli-env", numPartitions: 2 }] });
    await admin.disconnect();
    assert.ok(fs.existsSync(path.join(data, "oncedb.sqlite")), `no oncedb.sqlite in ${data}`);
    assert.deepEqual(await s.stop("SIGINT"), { code: 0, signal: null });
  });

  it("--kafka off starts without a Kafka listener", async () => {
    const data = tempDir();
    const s = new Serve(serveArgs(data, "off"));
    const ready = await s.ready();
    assert.ok("kafka" in ready, JSON.stringify(ready));
    assert.equal(ready.kafka, null);
    assert.ok(fs.existsSync(path.join(data, "oncedb.sqlite")));
    assert.deepEqual(await s.stop("SIGTERM"), { code: 0, signal: null });
  });

  it("--nats and --http start their listeners (their addresses on the ready line)", async () => {
    const data = tempDir();
    const s = new Serve([
      "serve",
      "--data",
      data,
      "--kafka",
      "127.0.0.1:0",
      "--nats",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
    ]);
    const ready = await s.ready();
    const http = String(ready.http);
    assert.match(http, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(http, "127.0.0.1:0");
    // The HTTP listener answers: an unknown table is a 404 with a JSON error.
    const res = await fetch(`http://${http}/nosuch/1`);
    assert.equal(res.status, 404);
    assert.match(String(((await res.json()) as { error: unknown }).error), /nosuch/);
    const nats = String(ready.nats);
    assert.match(nats, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(nats, "127.0.0.1:0");
    // A NATS client's handshake: INFO first, then PING answered with PONG.
    const socket = net.connect(Number(nats.split(":")[1]), "127.0.0.1");
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString();
    });
    socket.write('CONNECT {"verbose":false}\r\nPING\r\n');
    await waitFor(
      () => text.includes("PONG\r\n"),
      5000,
      () => `PONG, got ${JSON.stringify(text)}`,
    );
    assert.match(text, /^INFO \{.*"max_payload":1048576.*\}\r\nPONG\r\n$/);
    socket.destroy();
    const ignored = s.records().filter((r) => /ignored/i.test(String(r.msg)));
    assert.equal(ignored.length, 0, `a flag logged as ignored:\n${s.output}`);
    assert.deepEqual(await s.stop("SIGTERM"), { code: 0, signal: null });

    // With both off the ready line says "nats":null and "http":null.
    const quiet = new Serve(serveArgs(data, "127.0.0.1:0"));
    const quietReady = await quiet.ready();
    assert.equal(quietReady.nats, null);
    assert.equal(quietReady.http, null);
    assert.equal(quiet.records().filter((r) => /ignored/i.test(String(r.msg))).length, 0, quiet.output);
    assert.deepEqual(await quiet.stop("SIGTERM"), { code: 0, signal: null });
  });

  it("--advertise is the broker address Metadata reports", async () => {
    const data = tempDir();
    const s = new Serve(serveArgs(data, "127.0.0.1:0", "--advertise", "127.0.0.2:19092"));
    const address = kafkaAddressOf(await s.ready());
    const r = await kcat(["-b", address, "-L", "-J"]);
    assert.equal(r.code, 0, r.stderr);
    // kcat prints the bootstrap broker's Metadata answer (nothing listens at the advertised address).
    const md = JSON.parse(r.stdout) as { brokers: { id: number; name: string }[]; controllerid: number };
    assert.deepEqual(md.brokers, [{ id: 0, name: "127.0.0.2:19092" }]);
    assert.equal(md.controllerid, 0);

    assert.deepEqual(await s.stop("SIGTERM"), { code: 0, signal: null });
  });

  it("data persists across a SIGTERM restart", async () => {
    const data = tempDir();
    const args = serveArgs(data, "127.0.0.1:0");
    const s1 = new Serve(args);
    const a1 = kafkaAddressOf(await s1.ready());
    const kafka = kafkaClient(a1);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "cli-persist", numPartitions: 2 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: "cli-persist",
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 })),
    });
    await producer.disconnect();
    assert.deepEqual(await s1.stop("SIGTERM"), { code: 0, signal: null });

    const s2 = new Serve(args);
    const a2 = kafkaAddressOf(await s2.ready());
    const admin2 = kafkaClient(a2).admin();
    await admin2.connect();
    try {
      const md = await admin2.fetchTopicMetadata({ topics: ["cli-persist"] });
      assert.equal(md.topics[0].partitions.length, 2);
      const wm = await admin2.fetchTopicOffsets("cli-persist");
      assert.deepEqual(Object.fromEntries(wm.map((o) => [o.partition, o.high])), { 0: "5", 1: "5" });
    } finally {
      await admin2.disconnect();
    }
    const r = await kcat(["-b", a2, "-C", "-t", "cli-persist", "-p", "1", "-e", "-f", "%k=%s@%o\\n"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "k1=v1@0\nk3=v3@1\nk5=v5@2\nk7=v7@3\nk9=v9@4\n");
    assert.deepEqual(await s2.stop("SIGTERM"), { code: 0, signal: null });
  });

  it("a bad --kafka address exits non-zero with a message", async () => {
    const data = tempDir();
    const s = new Serve(serveArgs(data, "nonsense"));
    const exit = await s.exit();
    assert.notEqual(exit.code, 0, s.output);
    assert.notEqual(exit.code, null, s.output);
    assert.match(s.output, /--kafka/);
    assert.match(s.output, /nonsense/);
    assert.equal(s.lines.filter((l) => l.includes('"msg":"ready"')).length, 0);
  });

  for (const [flag, value] of [
    ["--consumer-byte-rate", "-5"],
    ["--consumer-byte-rate", "fast"],
    ["--client-consumer-byte-rate", "no-equals-sign"],
    ["--client-consumer-byte-rate", "bulk=0"],
    ["--producer-byte-rate", "1.5"],
    ["--client-producer-byte-rate", "=100"],
  ] as const) {
    it(`${flag} ${value} exits non-zero with a message`, async () => {
      const s = new Serve([...serveArgs(tempDir(), "127.0.0.1:0"), flag, value]);
      const exit = await s.exit();
      assert.notEqual(exit.code, 0, s.output);
      assert.notEqual(exit.code, null, s.output);
      assert.ok(s.output.includes(flag) && s.output.includes(value), s.output);
      assert.equal(s.lines.filter((l) => l.includes('"msg":"ready"')).length, 0);
    });
  }
});
