/**
 * Group commit on the main thread's side of the writer worker.
 *
 * Invariants:
 *  1. At most one commit is in flight; everything submitted meanwhile joins the next one.
 *  2. Commits are applied in submission order, so offsets assigned on the main thread reach
 *     the file in order.
 *  3. A submit() promise resolves only after the worker reported the commit holding its ops
 *     as durable (synchronous=FULL). If that commit fails, it and every commit queued after it
 *     reject (they may depend on it), and `onFailure` runs synchronously before any of those
 *     rejections are observed, so the owner can reload its in-memory state from disk first.
 *  4. A commit holds one reference to each staging region its ops name (staging-arena.ts) from
 *     submit() until the worker answered for it, committed or failed: the worker reads those
 *     regions only in between.
 */
import { Worker } from "node:worker_threads";
import { assert } from "../util/assert.js";
import { type CommitEvent, commitChannel, wallNowMs } from "../util/diagnostics.js";
import type { WriteOp } from "./sql.js";
import { type CommitHold, STAGING_ARENA_BYTES, type Staged, StagingArena } from "./staging-arena.js";
import type { FromWorker, ToWorker, WriterWorkerData } from "./writer-protocol.js";

export class StorageError extends Error {
  override name = "StorageError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Group {
  id: number;
  ops: WriteOp[];
  transfer: ArrayBuffer[];
  staged: Staged[];
  bytes: number;
  waiters: { resolve: () => void; reject: (e: Error) => void }[];
  /** Wall-clock ms of the first submit and of the hand-over to the worker (diagnostics only). */
  submittedAt: number;
  sentAt: number;
}

export interface WriterStats {
  commits: number;
  opsCommitted: number;
  lastCommitUs: number;
}

/** Test-only fault injection (storage/README.md): statements whose commits fail, or kill the thread. */
export interface WriterFaults {
  readonly failOn?: string;
  readonly crashOn?: string;
}

/** A replacement writer thread that dies sooner than this after starting makes the next one wait. */
const WORKER_YOUNG_MS = 1000;
const RESPAWN_DELAY_MAX_MS = 5000;

export class Writer {
  /** Null once a worker died and none took over (closing, or broken). */
  private worker: Worker | null;
  /** The current worker said "ready": commits may be handed to it. */
  private ready = false;
  private readonly readiness: Promise<void>;
  private readyResolve: () => void = () => {};
  private readyReject: (e: Error) => void = () => {};
  /** The first worker died before it was ready: nothing can be written, every submit fails with this. */
  private broken: StorageError | null = null;
  /** Some worker got ready once: later deaths start a replacement instead of breaking the writer. */
  private started = false;
  private spawnedAt = 0;
  /** Wait before the next replacement; grows while replacements die young (see onWorkerDeath). */
  private respawnDelayMs = 0;
  private respawnTimer: NodeJS.Timeout | null = null;
  private nextGroupId = 1;
  private pending: Group | null = null;
  private inFlight: Group | null = null;
  private flushScheduled = false;
  private closing: Promise<void> | null = null;
  private closedResolve: (() => void) | null = null;
  readonly stats: WriterStats = { commits: 0, opsCommitted: 0, lastCommitUs: 0 };
  /** Called synchronously when a commit fails, before the affected promises reject. */
  onFailure: (err: StorageError) => void = () => {};

  private constructor(
    private readonly workerData: WriterWorkerData,
    readonly staging: StagingArena,
  ) {
    this.readiness = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.worker = this.spawn();
  }

  static async open(
    path: string,
    faults: WriterFaults = {},
    stagingBytes = STAGING_ARENA_BYTES,
  ): Promise<Writer> {
    const staging = new StagingArena(stagingBytes);
    const writer = new Writer({ path, ...faults, staging: staging.memory }, staging);
    await writer.readiness;
    return writer;
  }

  /** Starts a worker; what it says counts only while it is the current one. */
  private spawn(): Worker {
    this.spawnedAt = performance.now();
    const worker = new Worker(new URL("./writer-worker.js", import.meta.url), {
      workerData: this.workerData,
    });
    worker.on("message", (msg: FromWorker) => {
      if (worker === this.worker) this.onMessage(msg);
    });
    worker.on("error", (err) => this.onWorkerDeath(worker, err.message));
    worker.on("exit", (code) => this.onWorkerDeath(worker, `the writer thread exited (code ${code})`));
    return worker;
  }

  /**
   * The worker thread died (an uncaught error, or it exited). A commit it held, and everything
   * queued behind it, fail as a failed commit does (invariant 3): SQLite rolls back what the
   * thread left uncommitted, and the owner reloads its state from disk. With nothing in flight
   * or queued there is nothing to fail. A replacement starts at once, or after a delay that
   * doubles (to 5 s) while replacements die within a second, so a thread that cannot live does
   * not spin; if the very first worker dies before it is ready, the writer is broken and open()
   * fails.
   */
  private onWorkerDeath(worker: Worker, why: string): void {
    if (worker !== this.worker) return; // its "error" and then its "exit": handled once
    this.worker = null; // nothing more from the dead one counts
    this.ready = false;
    const err = new StorageError("WRITER_CRASHED", why);
    if (this.closing) this.closedResolve?.();
    else if (!this.started) {
      this.broken = err;
      this.readyReject(err);
    } else {
      const young = performance.now() - this.spawnedAt < WORKER_YOUNG_MS;
      this.respawnDelayMs = young
        ? Math.min(Math.max(100, this.respawnDelayMs * 2), RESPAWN_DELAY_MAX_MS)
        : 0;
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        if (!this.closing) this.worker = this.spawn();
      }, this.respawnDelayMs);
    }
    if (this.inFlight || this.pending) this.failAll(err);
  }

  /** Bytes queued for the next commit plus the one in flight: the owner applies backpressure on it. */
  get queuedBytes(): number {
    return (this.pending?.bytes ?? 0) + (this.inFlight?.bytes ?? 0);
  }

  get idle(): boolean {
    return this.pending === null && this.inFlight === null;
  }

  /**
   * Queues ops for the next commit. `holds` carries the memory the ops' bytes live in:
   * ArrayBuffers move to the worker without a copy (they must not be used afterwards); staging
   * regions pass one reference each to the commit, released once the worker answered for it.
   * `bytes` counts toward queuedBytes.
   */
  submit(ops: readonly WriteOp[], holds: readonly CommitHold[] = [], bytes = 0): Promise<void> {
    const refused = this.closing ? new StorageError("CLOSED", "storage is closed") : this.broken;
    if (refused) {
      for (const h of holds) if (!(h instanceof ArrayBuffer)) h.unref();
      return Promise.reject(refused);
    }
    let group = this.pending;
    if (!group) {
      group = {
        id: this.nextGroupId++,
        ops: [],
        transfer: [],
        staged: [],
        bytes: 0,
        waiters: [],
        submittedAt: commitChannel.hasSubscribers ? wallNowMs() : 0,
        sentAt: 0,
      };
      this.pending = group;
    }
    for (const op of ops) group.ops.push(op);
    for (const h of holds) {
      if (h instanceof ArrayBuffer) group.transfer.push(h);
      else group.staged.push(h);
    }
    group.bytes += bytes;
    const g = group;
    const promise = new Promise<void>((resolve, reject) => g.waiters.push({ resolve, reject }));
    this.scheduleFlush();
    return promise;
  }

  private scheduleFlush(): void {
    if (this.inFlight || this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate runs after the I/O callbacks of this loop turn: requests that are already
    // readable on other sockets join this commit instead of waiting for the next one.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    // Not ready: a new worker is starting; its "ready" flushes what waits.
    if (this.inFlight || !this.pending || !this.ready) return;
    const group = this.pending;
    this.pending = null;
    this.inFlight = group;
    if (commitChannel.hasSubscribers) group.sentAt = wallNowMs();
    const msg: ToWorker = { type: "commit", id: group.id, ops: group.ops };
    assert(this.worker, "a ready writer has a worker");
    this.worker.postMessage(msg, group.transfer);
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case "committed": {
        const group = this.inFlight;
        assert(group && group.id === msg.id, "commit acknowledgement out of order");
        this.inFlight = null;
        this.stats.commits++;
        this.stats.opsCommitted += group.ops.length;
        this.stats.lastCommitUs = msg.commitUs;
        for (const s of group.staged) s.unref();
        const doneAt = group.submittedAt > 0 && group.sentAt > 0 ? wallNowMs() : 0;
        for (const w of group.waiters) w.resolve();
        if (this.pending) this.flush();
        if (doneAt > 0 && commitChannel.hasSubscribers) {
          commitChannel.publish({
            id: group.id,
            ops: group.ops.length,
            submittedAt: group.submittedAt,
            sentAt: group.sentAt,
            startedAt: msg.startedAt,
            endedAt: msg.endedAt,
            doneAt,
          } satisfies CommitEvent);
        }
        return;
      }
      case "failed":
        this.failAll(new StorageError(msg.code, msg.message));
        return;
      case "closed":
        // It exits next: that is the end of a close, not a death.
        this.worker = null;
        this.closedResolve?.();
        return;
      case "ready":
        this.ready = true;
        this.started = true;
        this.readyResolve();
        this.flush();
        return;
    }
  }

  private failAll(err: StorageError): void {
    const groups = [this.inFlight, this.pending].filter((g): g is Group => g !== null);
    this.inFlight = null;
    this.pending = null;
    // The worker is done with the failed commit, and never saw the pending one.
    for (const g of groups) for (const s of g.staged) s.unref();
    try {
      this.onFailure(err);
    } finally {
      for (const g of groups) for (const w of g.waiters) w.reject(err);
    }
  }

  /** Waits for every submitted commit, then closes the database (checkpointing the WAL). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.respawnTimer) {
        // Between a dead worker and its replacement: nothing will run what waits.
        clearTimeout(this.respawnTimer);
        this.respawnTimer = null;
        this.failAll(new StorageError("CLOSED", "storage is closed"));
      }
      while (!this.idle) {
        const tail = this.pending ?? this.inFlight;
        if (!tail) break;
        await new Promise<void>((resolve) => tail.waiters.push({ resolve, reject: () => resolve() }));
      }
      const worker = this.worker;
      if (!worker) return; // died: SQLite closed its connection with the thread
      const closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
      worker.postMessage({ type: "close" } satisfies ToWorker);
      await closed;
      await worker.terminate();
    })();
    return this.closing;
  }
}
