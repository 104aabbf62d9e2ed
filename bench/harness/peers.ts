/**
 * Peers installed on demand into a cache dir outside the repo, started on loopback with their own data
 * dirs and stopped by PID. Used by the nats-* and rest-* scenarios; a scenario whose peer cannot be
 * installed reports why and still reports OnceDB. A peer shared by several scenarios of one bench run
 * (HarperDB, whose start-up costs ~15 s) is registered with `shareable` and stopped by
 * `stopSharedPeers` when the run ends (bench/main.ts), or by PID on process exit at the latest.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { PeerName } from "./types.js";

export const HARPERDB_VERSION = "4.7.29";
export const NATS_SERVER_VERSION = "2.9.10";

export function defaultPeerCache(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "oncedb-bench");
}

export interface PeerInstall {
  peer: PeerName;
  ok: boolean;
  /** Executable or entry script. */
  path?: string;
  version?: string;
  /** Why it is not available. */
  reason?: string;
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 16 << 20, env: env ?? process.env, cwd },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

async function which(bin: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/bin", "/usr/bin"])) {
    const p = path.join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** nats-server from the Debian package (`apt-get install -y nats-server`) when missing. */
export async function ensureNatsServer(log: (s: string) => void): Promise<PeerInstall> {
  let bin = await which("nats-server");
  if (!bin) {
    log("installing nats-server with apt-get (one time)...");
    let r = await run("apt-get", ["install", "-y", "nats-server"], 300_000, {
      ...process.env,
      DEBIAN_FRONTEND: "noninteractive",
    });
    if (r.code !== 0) {
      await run("apt-get", ["update"], 300_000);
      r = await run("apt-get", ["install", "-y", "nats-server"], 300_000, {
        ...process.env,
        DEBIAN_FRONTEND: "noninteractive",
      });
    }
    bin = await which("nats-server");
    if (!bin)
      return {
        peer: "nats-server",
        ok: false,
        reason: `apt-get install nats-server failed: ${r.out.trim().slice(-300)}`,
      };
  }
  const v = await run(bin, ["--version"], 10_000);
  // "nats-server: v2.9.10"
  const version = /v?(\d+\.\d+\.\d+)/.exec(v.out)?.[1] ?? v.out.trim();
  return { peer: "nats-server", ok: true, path: bin, version };
}

/** HarperDB from npm into `<cache>/harperdb-<version>` (never into the project). */
export async function ensureHarperdb(cache: string, log: (s: string) => void): Promise<PeerInstall> {
  const prefix = path.join(cache, `harperdb-${HARPERDB_VERSION}`);
  const entry = path.join(prefix, "node_modules", "harperdb", "bin", "harperdb.js");
  if (!existsSync(entry)) {
    mkdirSync(prefix, { recursive: true });
    log(`installing harperdb@${HARPERDB_VERSION} into ${prefix} (about a minute, one time)...`);
    // cwd = the prefix, so no .npmrc or package.json of the project is involved
    const r = await run(
      "npm",
      ["install", `harperdb@${HARPERDB_VERSION}`, "--prefix", prefix, "--no-audit", "--no-fund", "--no-save"],
      600_000,
      undefined,
      prefix,
    );
    if (!existsSync(entry))
      return { peer: "harperdb", ok: false, reason: `npm install failed: ${r.out.trim().slice(-300)}` };
  }
  let version = HARPERDB_VERSION;
  try {
    version = (
      JSON.parse(readFileSync(path.join(prefix, "node_modules", "harperdb", "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    // keep the requested version
  }
  return { peer: "harperdb", ok: true, path: entry, version };
}

export async function ensurePeer(
  peer: PeerName,
  cache: string,
  log: (s: string) => void,
): Promise<PeerInstall> {
  try {
    return peer === "nats-server" ? await ensureNatsServer(log) : await ensureHarperdb(cache, log);
  } catch (e) {
    return { peer, ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** A free loopback TCP port (there is a small race until the peer binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Peers started by this process and not stopped yet: killed by PID if the bench exits without stopping them. */
const live = new Set<PeerProcess>();
let exitHook = false;

function watch(p: PeerProcess): void {
  live.add(p);
  p.child.once("exit", () => live.delete(p));
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => {
      for (const q of live) {
        try {
          process.kill(q.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    });
  }
}

/** A started peer process, stopped by PID. */
export class PeerProcess {
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly ports: Record<string, number>,
  ) {
    watch(this);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // gone
      }
    }, graceMs);
    await exited;
    clearTimeout(t);
  }
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = "";
    const onData = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-8000);
      if (pattern.test(tail)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code}) before ready: ${tail.slice(-500)}`));
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready after ${timeoutMs} ms: ${tail.slice(-500)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(t);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", onExit);
  });
}

/** `nats-server -a 127.0.0.1 -p PORT -js -sd DIR`; JetStream acks before fsync (say so in results). */
export async function startNatsServer(bin: string, storeDir: string): Promise<PeerProcess> {
  const port = await freePort();
  const child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const p = new PeerProcess("nats-server", child, { nats: port });
  try {
    await waitForOutput(child, /Server is ready/, 20_000, "nats-server");
  } catch (e) {
    await p.stop(1000);
    throw e;
  }
  // keep draining its output so it never blocks on a full pipe
  child.stdout?.resume();
  child.stderr?.resume();
  return p;
}

/** Peers shared by several scenarios in one bench run, keyed by what they were started for. */
const shared = new Map<string, { peer: PeerProcess; state: unknown }>();

/** The shared peer for `key` if it was started earlier in this run and is still running. */
export function sharedPeer<S>(key: string): { peer: PeerProcess; state: S } | undefined {
  const e = shared.get(key);
  if (e && !e.peer.running) {
    shared.delete(key);
    return undefined;
  }
  return e as { peer: PeerProcess; state: S } | undefined;
}

export function shareable<S>(key: string, peer: PeerProcess, state: S): void {
  shared.set(key, { peer, state });
}

/** Stops every shared peer by PID (bench/main.ts calls this when the run ends). */
export async function stopSharedPeers(): Promise<string[]> {
  const stopped: string[] = [];
  for (const [key, e] of shared) {
    shared.delete(key);
    await e.peer.stop();
    stopped.push(`${e.peer.name} (pid ${e.peer.pid})`);
  }
  return stopped;
}

export interface HarperCredentials {
  user: string;
  password: string;
}

/**
 * Installs a HarperDB instance into `rootDir` (HOME pointed at a scratch dir) and starts it in the
 * foreground, detached into its own session; waits for "successfully started". Ports: http (REST and
 * WebSocket), operations (Operations API), mqtt; all on 127.0.0.1.
 */
export async function startHarperdb(
  entry: string,
  rootDir: string,
  creds: HarperCredentials,
): Promise<PeerProcess> {
  const [http, ops, mqtt] = [await freePort(), await freePort(), await freePort()];
  const home = path.join(rootDir, "home");
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    TC_AGREEMENT: "yes",
    ROOTPATH: path.join(rootDir, "hdb"),
    HDB_ADMIN_USERNAME: creds.user,
    HDB_ADMIN_PASSWORD: creds.password,
    DEFAULTS_MODE: "dev",
    REPLICATION_HOSTNAME: "localhost",
    HTTP_PORT: `127.0.0.1:${http}`,
    HTTP_SECUREPORT: "null",
    OPERATIONSAPI_NETWORK_PORT: `127.0.0.1:${ops}`,
    OPERATIONSAPI_NETWORK_SECUREPORT: "null",
    MQTT_NETWORK_PORT: `127.0.0.1:${mqtt}`,
    MQTT_NETWORK_SECUREPORT: "null",
    REPLICATION_SECUREPORT: "null",
    THREADS_COUNT: "2",
    LOGGING_LEVEL: "warn",
    LOCALSTUDIO_ENABLED: "false",
  };
  const install = await run(process.execPath, [entry, "install"], 300_000, env, rootDir);
  if (install.code !== 0) throw new Error(`harperdb install failed: ${install.out.slice(-500)}`);
  const child = spawn(process.execPath, [entry], {
    env,
    cwd: rootDir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const p = new PeerProcess("harperdb", child, { http, operations: ops, mqtt });
  try {
    await waitForOutput(child, /successfully started/i, 120_000, "harperdb");
  } catch (e) {
    await p.stop(2000);
    throw e;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return p;
}

/** One Operations API call (POST JSON with Basic auth); throws on a non-2xx answer. */
export async function harperOperation(
  p: PeerProcess,
  creds: HarperCredentials,
  body: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${p.ports.operations}/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: basicAuth(creds),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`harperdb ${String(body.operation)}: HTTP ${res.status} ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function basicAuth(creds: HarperCredentials): string {
  return `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString("base64")}`;
}
