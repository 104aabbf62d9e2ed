/**
 * Runs a fault schedule against the server, the workers and the proxy, one fault at a time:
 * wait for the step's planned time (later if the previous fault took longer), apply, hold,
 * heal. Records each fault in the history and counts them by kind. `healAll` undoes whatever
 * could still be in force.
 */
import type { HistoryLog } from "../history.js";
import type { NetProxy } from "../net-proxy.js";
import type { Worker } from "../workers.js";
import { FIU_POINTS, fillDisk, fiuDisable, fiuEnable, freeDisk } from "./disk.js";
import type { FaultKind, FaultStep } from "./schedule.js";

export interface ServerControl {
  pid(): number | null;
  kill(): Promise<void>;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface NemesisTargets {
  server: ServerControl | null;
  proxy: NetProxy | null;
  workers: Map<string, Worker>;
  /** fiu-ctrl base path when the server runs under fiu-run. */
  fiuBase: string | null;
  /** The data directory's filesystem, when it is a tmpfs of our own. */
  tmpfsDir: string | null;
  history: HistoryLog;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Sleeps are cut into slices this long so a stop request is honoured quickly. */
const SLICE_MS = 100;

export class Nemesis {
  readonly counts: Record<FaultKind, number> = { kill: 0, pause: 0, net: 0, disk: 0 };
  readonly byAction: Record<string, number> = {};
  /** True while a disk fault is in force (and a little after), for crash classification. */
  diskFaultUntil = 0;
  private stopping = false;
  private filler: string | null = null;
  private readonly fiuEnabled = new Set<string>();

  constructor(private readonly t: NemesisTargets) {}

  stop(): void {
    this.stopping = true;
  }

  get total(): number {
    return this.counts.kill + this.counts.pause + this.counts.net + this.counts.disk;
  }

  async run(steps: FaultStep[], startMs: number): Promise<void> {
    for (const s of steps) {
      while (!this.stopping && Date.now() < startMs + s.atMs)
        await sleep(Math.min(SLICE_MS, startMs + s.atMs - Date.now()));
      if (this.stopping) return;
      this.record("invoke", s);
      try {
        await this.apply(s);
        this.counts[s.kind]++;
        this.byAction[s.action] = (this.byAction[s.action] ?? 0) + 1;
        this.record("ok", s);
      } catch (err) {
        this.record("info", s, (err as Error).message);
      }
    }
  }

  private record(type: "invoke" | "ok" | "info", s: FaultStep, error?: string): void {
    this.t.history.append({
      time: Date.now(),
      process: "nemesis",
      type,
      f: "fault",
      kind: s.kind,
      action: s.action,
      target: s.target,
      holdMs: s.holdMs,
      param: s.param,
      ...(error ? { error } : {}),
    });
  }

  private async hold(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !this.stopping) await sleep(Math.min(SLICE_MS, until - Date.now()));
  }

  private worker(name: string): Worker {
    const w = this.t.workers.get(name);
    if (!w) throw new Error(`no worker ${name}`);
    return w;
  }

  private async apply(s: FaultStep): Promise<void> {
    const { server, proxy } = this.t;
    switch (s.action) {
      case "kill-server":
        if (!server) throw new Error("no server to kill");
        await server.kill();
        await this.hold(s.holdMs);
        await server.start();
        return;
      case "kill-client": {
        const w = this.worker(s.target);
        await w.kill();
        await this.hold(s.holdMs);
        w.start();
        return;
      }
      case "pause-server":
        if (!server) throw new Error("no server to pause");
        server.pause();
        try {
          await this.hold(s.holdMs);
        } finally {
          server.resume();
        }
        return;
      case "pause-client": {
        const w = this.worker(s.target);
        w.pause();
        try {
          await this.hold(s.holdMs);
        } finally {
          w.resume();
        }
        return;
      }
      case "net-drop-all":
        this.needProxy().dropAll();
        return;
      case "net-drop-mid":
        this.needProxy().dropMidRequest(s.param ?? 0.01);
        return this.holdThenHealProxy(s.holdMs);
      case "net-delay":
        this.needProxy().delay(s.param ?? 50);
        return this.holdThenHealProxy(s.holdMs);
      case "net-stall":
        this.needProxy().stall(s.holdMs);
        return this.holdThenHealProxy(s.holdMs);
      case "disk-fsync":
      case "disk-write":
        return this.fiuFault(FIU_POINTS[s.action], s.param ?? 0.5, s.holdMs);
      case "disk-full":
        return this.fullDisk(s.holdMs);
    }
    void proxy;
  }

  private needProxy(): NetProxy {
    if (!this.t.proxy) throw new Error("no net proxy");
    return this.t.proxy;
  }

  private async holdThenHealProxy(ms: number): Promise<void> {
    try {
      await this.hold(ms);
    } finally {
      this.t.proxy?.heal();
    }
  }

  private async fiuFault(point: string, probability: number, ms: number): Promise<void> {
    const pid = this.t.server?.pid();
    if (!this.t.fiuBase || !pid) throw new Error("server not running under fiu-run");
    this.diskFaultUntil = Number.POSITIVE_INFINITY;
    fiuEnable(this.t.fiuBase, pid, point, probability);
    this.fiuEnabled.add(point);
    try {
      await this.hold(ms);
    } finally {
      this.fiuOff(point);
      this.diskFaultUntil = Date.now() + 2000;
    }
  }

  private fiuOff(point: string): void {
    const pid = this.t.server?.pid();
    this.fiuEnabled.delete(point);
    if (this.t.fiuBase && pid) {
      try {
        fiuDisable(this.t.fiuBase, pid, point);
      } catch {
        // The server died meanwhile; its successor starts with no failure point enabled.
      }
    }
  }

  private async fullDisk(ms: number): Promise<void> {
    if (!this.t.tmpfsDir) throw new Error("data directory is not a tmpfs of ours");
    this.diskFaultUntil = Number.POSITIVE_INFINITY;
    const { file } = fillDisk(this.t.tmpfsDir);
    this.filler = file;
    try {
      await this.hold(ms);
    } finally {
      freeDisk(file);
      this.filler = null;
      this.diskFaultUntil = Date.now() + 2000;
    }
  }

  /** Undoes every fault that could still be in force. */
  healAll(): void {
    this.t.proxy?.heal();
    for (const w of this.t.workers.values()) w.resume();
    this.t.server?.resume();
    for (const p of [...this.fiuEnabled]) this.fiuOff(p);
    if (this.filler) {
      freeDisk(this.filler);
      this.filler = null;
    }
  }
}
