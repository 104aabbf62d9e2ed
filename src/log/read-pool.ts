/**
 * Main-thread side of the read workers (read-worker.ts): dispatches each read to the least
 * busy worker and turns its answer back into Buffers over the worker's arena (util/region-allocator.ts),
 * or over transferred ArrayBuffers for an answer that did not fit (no copy on the main thread
 * either way); release() gives the memory back to the worker.
 *
 * Invariants:
 *  1. Every read() settles: with the worker's answer, with its error, or, if the worker dies,
 *     with a rejection (the worker is then replaced).
 *  2. At most READ_QUEUE_MAX reads are outstanding; beyond it read() rejects at once. (Kafka
 *     connections have one Fetch in flight each, so CONNECTIONS_MAX bounds this in practice.)
 *  3. close() lets every outstanding read finish, then closes the workers' connections; it
 *     must run before the last connection of the database closes.
 */
import { Worker } from "node:worker_threads";
import { assert } from "../util/assert.js";
import type { StoredBatch } from "./log-reader.js";
import {
  type FromReadWorker,
  INDEX_STRIDE,
  type ReadItem,
  type ReadWorkerData,
  type ToReadWorker,
} from "./read-protocol.js";

/** Two readers: one long read (a consumer catching up) does not hold back a tailing consumer's. */
export const READ_WORKERS_DEFAULT = 2;
/** Outstanding reads across all workers. */
export const READ_QUEUE_MAX = 16_384;
/**
 * Each worker's arena: two answers of the Kafka adapter's default maximum (16 MiB, which the
 * first batch may exceed) at once, and room for small ones beside them. Pages are committed as
 * answers first reach them, so an idle server does not pay for it.
 */
export const READ_ARENA_BYTES = 40 * 1024 * 1024;

export class ReadError extends Error {
  override name = "ReadError";
}

/** The batches of one read, one list per item, and how to hand their memory back. */
export interface ReadAnswer {
  readonly batches: StoredBatch[][];
  /**
   * Gives the answer's memory back to its worker. Call it exactly once nothing will touch the
   * batches again (for a socket: after the write callback, or once the socket closed without
   * writing them): afterwards their bytes are overwritten by later answers. An answer never
   * released keeps its part of the arena, and later answers that do not fit fall back to
   * transferred buffers: slower, never wrong.
   */
  readonly release: () => void;
}

/** How answers travelled, since the pool opened. */
export interface ReadStats {
  /** Answers copied into a worker's arena (the usual way). */
  readonly arenaAnswers: number;
  /** Answers that did not fit the arena's free space and came as transferred buffers (empty answers count in neither). */
  readonly transferredAnswers: number;
  /** Bytes of arena answers not yet released. */
  readonly unreleasedArenaBytes: number;
}

type Counters = { -readonly [K in keyof ReadStats]: ReadStats[K] };

interface Pending {
  readonly items: number;
  readonly resolve: (answer: ReadAnswer) => void;
  readonly reject: (e: Error) => void;
}

class ReadWorker {
  readonly pending = new Map<number, Pending>();
  dead = false;
  private idleWaiters: (() => void)[] = [];
  private closedResolve: (() => void) | null = null;

  private constructor(
    readonly worker: Worker,
    private readonly arena: SharedArrayBuffer,
    private readonly counters: Counters,
    private readonly onDeath: (w: ReadWorker) => void,
  ) {
    worker.on("message", (msg: FromReadWorker) => this.onMessage(msg));
    worker.on("error", (err) => this.die(err));
    worker.on("exit", () => this.die(new ReadError("read worker exited")));
  }

  static async start(
    path: string,
    arenaBytes: number,
    counters: Counters,
    onDeath: (w: ReadWorker) => void,
  ): Promise<ReadWorker> {
    const arena = new SharedArrayBuffer(arenaBytes);
    const workerData: ReadWorkerData = { path, arena };
    const worker = new Worker(new URL("./read-worker.js", import.meta.url), { workerData });
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("message", () => {
        worker.off("error", reject);
        resolve();
      });
    });
    return new ReadWorker(worker, arena, counters, onDeath);
  }

  send(id: number, items: readonly ReadItem[], budgetBytes: number, p: Pending): void {
    if (this.dead) {
      p.reject(new ReadError("read worker is gone"));
      return;
    }
    this.pending.set(id, p);
    this.worker.postMessage({ type: "read", id, items, budgetBytes } satisfies ToReadWorker);
  }

  private take(id: number): Pending {
    const p = this.pending.get(id);
    assert(p, "read answer for an unknown request");
    this.pending.delete(id);
    if (this.pending.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    return p;
  }

  private onMessage(msg: FromReadWorker): void {
    switch (msg.type) {
      case "read": {
        const p = this.take(msg.id);
        const { region, buffers } = msg;
        let bytes = 0;
        for (let k = INDEX_STRIDE - 1; k < msg.index.length; k += INDEX_STRIDE) bytes += msg.index[k]!;
        if (region > 0) {
          this.counters.arenaAnswers++;
          this.counters.unreleasedArenaBytes += bytes;
        } else if (buffers.length > 0) this.counters.transferredAnswers++;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          if (region > 0) this.counters.unreleasedArenaBytes -= bytes;
          if (this.dead || this.closedResolve) return;
          if (region > 0) this.worker.postMessage({ type: "free", region } satisfies ToReadWorker);
          else if (buffers.length > 0)
            this.worker.postMessage({ type: "release", buffers } satisfies ToReadWorker, [...buffers]);
        };
        const batches =
          region > 0 ? unpackArena(this.arena, msg.index, p.items) : unpack(buffers, msg.index, p.items);
        p.resolve({ batches, release });
        return;
      }
      case "failed":
        this.take(msg.id).reject(new ReadError(msg.message));
        return;
      case "closed":
        this.closedResolve?.();
        return;
      case "ready":
        return;
    }
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const w of this.idleWaiters.splice(0)) w();
    for (const p of pending) p.reject(new ReadError(err.message));
    this.closedResolve?.();
    if (!this.closedResolve) this.onDeath(this);
  }

  async close(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.dead) return;
    const closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
    this.worker.postMessage({ type: "close" } satisfies ToReadWorker);
    await closed;
    await this.worker.terminate();
  }
}

function unpackWith(
  index: Float64Array,
  items: number,
  view: (where: number, length: number) => Buffer,
): StoredBatch[][] {
  const out: StoredBatch[][] = Array.from({ length: items }, () => []);
  for (let k = 0; k < index.length; k += INDEX_STRIDE) {
    const item = index[k]!;
    assert(item >= 0 && item < items, "read answer names an item that was not asked for");
    out[item]!.push({
      baseOffset: index[k + 1]!,
      lastOffset: index[k + 2]!,
      data: view(index[k + 3]!, index[k + 4]!),
    });
  }
  return out;
}

function unpack(buffers: readonly ArrayBuffer[], index: Float64Array, items: number): StoredBatch[][] {
  return unpackWith(index, items, (i, length) => Buffer.from(buffers[i]!, 0, length));
}

function unpackArena(arena: SharedArrayBuffer, index: Float64Array, items: number): StoredBatch[][] {
  return unpackWith(index, items, (at, length) => {
    assert(at >= 0 && at + length <= arena.byteLength, "read answer lies outside the arena");
    return Buffer.from(arena, at, length);
  });
}

export class ReadPool {
  private nextId = 1;
  private outstanding = 0;
  private closing: Promise<void> | null = null;
  private readonly counters: Counters = { arenaAnswers: 0, transferredAnswers: 0, unreleasedArenaBytes: 0 };

  private constructor(
    private readonly path: string,
    private readonly arenaBytes: number,
    private readonly workers: ReadWorker[],
  ) {}

  static async open(
    path: string,
    count = READ_WORKERS_DEFAULT,
    arenaBytes = READ_ARENA_BYTES,
  ): Promise<ReadPool> {
    assert(count >= 1, "at least one read worker");
    const pool = new ReadPool(path, arenaBytes, []);
    try {
      for (let i = 0; i < count; i++)
        pool.workers.push(await ReadWorker.start(path, arenaBytes, pool.counters, (w) => pool.replace(w)));
    } catch (err) {
      await pool.close(); // the ones that did start
      throw err;
    }
    return pool;
  }

  /**
   * Reads each item's batches (see ReadItem), the items sharing `budgetBytes` in order, all in
   * one snapshot. The answer has one list per item, and a release() for its memory.
   */
  read(items: readonly ReadItem[], budgetBytes: number): Promise<ReadAnswer> {
    if (this.closing) return Promise.reject(new ReadError("storage is closed"));
    if (this.outstanding >= READ_QUEUE_MAX)
      return Promise.reject(new ReadError(`more than ${READ_QUEUE_MAX} reads outstanding`));
    if (items.length === 0) return Promise.resolve({ batches: [], release: () => {} });
    const live = this.workers.filter((w) => !w.dead);
    if (live.length === 0) return Promise.reject(new ReadError("no read worker is running"));
    const worker = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    this.outstanding++;
    return new Promise<ReadAnswer>((resolve, reject) => {
      const done = () => this.outstanding--;
      worker.send(this.nextId++, items, budgetBytes, {
        items: items.length,
        resolve: (b) => {
          done();
          resolve(b);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
    });
  }

  stats(): ReadStats {
    return { ...this.counters };
  }

  /** A worker died (its reads were rejected): start another in its place. */
  private replace(dead: ReadWorker): void {
    const i = this.workers.indexOf(dead);
    if (i < 0 || this.closing) return;
    ReadWorker.start(this.path, this.arenaBytes, this.counters, (w) => this.replace(w)).then(
      (w) => {
        if (this.closing) void w.close();
        else this.workers[i] = w;
      },
      () => {
        // Could not start one (the database is gone): keep the dead one, whose reads reject.
      },
    );
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.workers.map((w) => w.close())).then(() => undefined);
    return this.closing;
  }
}
