/**
 * A read worker: reads stored batches on its own SQLite connection and copies each answer into
 * one region of the shared arena (allocated by util/region-allocator.ts), which the main thread only slices.
 *
 * Why a thread: better-sqlite3 copies each BLOB into a fresh Buffer on the thread that runs
 * the query. Reading a 16-50 MB fetch on the main thread held it for tens of milliseconds
 * (page reads, copies, then the garbage collector reclaiming the Buffers), and produce
 * acknowledgements waited behind it. Here the reading, the copying and the garbage happen off
 * the main thread.
 *
 * Consistency: each request reads in its own implicit read transaction, started after the
 * request was posted, so it sees every commit the main thread knew of when it planned the read
 * (WAL readers see all commits made before their transaction starts). Callers bound each read
 * by the high watermark, so commits not yet acknowledged are never exposed.
 */
import fs from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { applyPragmas } from "../storage/pragmas.js";
import { RegionAllocator } from "../util/region-allocator.js";
import { LogReader, type StoredBatch } from "./log-reader.js";
import {
  type FromReadWorker,
  INDEX_STRIDE,
  type ReadWorkerData,
  type ToReadWorker,
} from "./read-protocol.js";

const data = workerData as ReadWorkerData;
const port = parentPort;
if (!port) throw new Error("read-worker must run in a worker thread");

/**
 * Reads are catch-up work; produce acknowledgements are what clients wait on. On a machine
 * with more runnable threads than cores (2 cores here: main, writer, readers, clients), a
 * reader thread at the same priority took CPU from the main thread and the writer while a
 * consumer caught up. Niceness 10 lets them win (the scheduler still gives readers the idle
 * CPU, so catch-up reads stay fast on an idle machine). Linux only: elsewhere, and when not
 * permitted, readers keep the default priority.
 */
export const READ_THREAD_NICENESS = 10;

function lowerPriority(): void {
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isSafeInteger(tid) && tid > 0) os.setPriority(tid, READ_THREAD_NICENESS);
  } catch {
    // Not Linux, or not allowed: run at the default priority.
  }
}

lowerPriority();
const db = new Database(data.path);
applyPragmas(db, "reader");
const reader = new LogReader(db);
const arenaBytes = Buffer.from(data.arena);
const arena = new RegionAllocator(arenaBytes.length);

/**
 * An answer too big for the arena's free space goes to the main thread in the Buffers
 * better-sqlite3 made for it: their ArrayBuffers are transferred, not copied. A Buffer that
 * does not own its whole ArrayBuffer (none today: better-sqlite3 makes each with
 * node::Buffer::Copy; Node's pool only serves small Buffers made from JS), or one already in
 * this answer, is copied instead: transferring a shared pool would take memory others use, and
 * an ArrayBuffer listed twice fails the transfer.
 */
function transferable(data: Buffer, taken: Set<ArrayBufferLike>): ArrayBuffer {
  if (
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength &&
    data.buffer instanceof ArrayBuffer &&
    !taken.has(data.buffer)
  ) {
    taken.add(data.buffer);
    return data.buffer;
  }
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}

function post(msg: FromReadWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function read(msg: Extract<ToReadWorker, { type: "read" }>): void {
  const found: { item: number; batch: StoredBatch }[] = [];
  let budget = msg.budgetBytes;
  // One read transaction for the whole request: every item sees the same snapshot.
  db.exec("BEGIN");
  try {
    msg.items.forEach((item, i) => {
      const limit = Math.min(item.maxBytes, budget);
      if (limit <= 0) return;
      for (const batch of reader.fetch(item.partitionId, item.from, item.end, limit)) {
        found.push({ item: i, batch });
        budget -= batch.data.length;
      }
    });
  } finally {
    db.exec("COMMIT");
  }
  const index = new Float64Array(found.length * INDEX_STRIDE);
  let total = 0;
  for (const { batch } of found) total += batch.data.length;
  const region = total > 0 ? arena.alloc(total) : null;
  if (region) {
    let at = region.start;
    found.forEach(({ item, batch }, k) => {
      // fill() with a Buffer of the range's length is one memcpy. Why not set() or copy(): into
      // shared memory V8 copies with its race-safe relaxed_memmove, which perf showed as 20%
      // of the server's CPU during a catch-up read (fill ran 20-25% faster in isolation).
      if (batch.data.length > 0) arenaBytes.fill(batch.data, at, at + batch.data.length);
      index.set([item, batch.baseOffset, batch.lastOffset, at, batch.data.length], k * INDEX_STRIDE);
      at += batch.data.length;
    });
    post({ type: "read", id: msg.id, region: region.id, buffers: [], index }, [index.buffer as ArrayBuffer]);
    return;
  }
  const buffers: ArrayBuffer[] = [];
  const taken = new Set<ArrayBufferLike>();
  found.forEach(({ item, batch }, k) => {
    buffers.push(transferable(batch.data, taken));
    index.set([item, batch.baseOffset, batch.lastOffset, k, batch.data.length], k * INDEX_STRIDE);
  });
  post({ type: "read", id: msg.id, region: 0, buffers, index }, [...buffers, index.buffer as ArrayBuffer]);
}

post({ type: "ready" });

port.on("message", (msg: ToReadWorker) => {
  if (msg.type === "release") return; // the buffers are garbage here now (see ToReadWorker)
  if (msg.type === "free") {
    arena.free(msg.region);
    return;
  }
  if (msg.type === "close") {
    db.close();
    post({ type: "closed" });
    port.close();
    return;
  }
  try {
    read(msg);
  } catch (err) {
    post({ type: "failed", id: msg.id, message: (err as Error).message ?? String(err) });
  }
});
