/**
 * A read worker: reads stored batches on its own SQLite connection and hands them to the main
 * thread as one transferred ArrayBuffer per request.
 *
 * Why a thread: better-sqlite3 copies each BLOB into a fresh Buffer on the thread that runs
 * the query. Reading a 16-50 MB fetch on the main thread held it for tens of milliseconds
 * (page reads, copies, then the garbage collector reclaiming the Buffers), and produce
 * acknowledgements waited behind it. Here the reading and copying happen off the main
 * thread; the main thread receives one buffer it only slices.
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

/**
 * Buffers sent back by the main thread once their answer was written to the socket. Why:
 * every new ArrayBuffer that reaches the main thread counts as external memory there, and V8
 * answered a stream of 16 MiB answers with a full mark-compact every 20-90 ms (about 9 ms of
 * main-thread pause each, 13% of its time during a catch-up read). Reusing the same buffers
 * keeps that memory constant. Sizes are powers of two from 64 KiB, so any answer finds a fit.
 */
export const RECYCLED_BYTES_MAX = 64 * 1024 * 1024;
const BUFFER_BYTES_MIN = 64 * 1024;
const spare: ArrayBuffer[] = [];
let spareBytes = 0;

function bufferFor(bytes: number): ArrayBuffer {
  let best = -1;
  for (let i = 0; i < spare.length; i++) {
    const len = spare[i]!.byteLength;
    if (len >= bytes && (best < 0 || len < spare[best]!.byteLength)) best = i;
  }
  if (best >= 0) {
    const [b] = spare.splice(best, 1);
    spareBytes -= b!.byteLength;
    return b!;
  }
  let size = BUFFER_BYTES_MIN;
  while (size < bytes) size *= 2;
  return new ArrayBuffer(size);
}

function recycle(b: ArrayBuffer): void {
  if (b.byteLength < BUFFER_BYTES_MIN || b.byteLength & (b.byteLength - 1)) return; // not one of ours
  // Keep the smallest set under the cap: drop the largest spare ones first.
  spare.push(b);
  spareBytes += b.byteLength;
  spare.sort((x, y) => x.byteLength - y.byteLength);
  while (spareBytes > RECYCLED_BYTES_MAX) spareBytes -= spare.pop()!.byteLength;
}

function post(msg: FromReadWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function read(msg: Extract<ToReadWorker, { type: "read" }>): void {
  const found: { item: number; batch: StoredBatch }[] = [];
  let budget = msg.budgetBytes;
  let total = 0;
  // One read transaction for the whole request: every item sees the same snapshot.
  db.exec("BEGIN");
  try {
    msg.items.forEach((item, i) => {
      const limit = Math.min(item.maxBytes, budget);
      if (limit <= 0) return;
      for (const batch of reader.fetch(item.partitionId, item.from, item.end, limit)) {
        found.push({ item: i, batch });
        budget -= batch.data.length;
        total += batch.data.length;
      }
    });
  } finally {
    db.exec("COMMIT");
  }
  const buffer = total === 0 ? new ArrayBuffer(0) : bufferFor(total);
  const bytes = new Uint8Array(buffer);
  const index = new Float64Array(found.length * INDEX_STRIDE);
  let pos = 0;
  found.forEach(({ item, batch }, k) => {
    bytes.set(batch.data, pos);
    index.set([item, batch.baseOffset, batch.lastOffset, pos, batch.data.length], k * INDEX_STRIDE);
    pos += batch.data.length;
  });
  post({ type: "read", id: msg.id, buffer, index }, [buffer, index.buffer as ArrayBuffer]);
}

post({ type: "ready" });

port.on("message", (msg: ToReadWorker) => {
  if (msg.type === "recycle") {
    recycle(msg.buffer);
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
