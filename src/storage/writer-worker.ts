/**
 * The writer worker: the only code that writes to the database file.
 *
 * It receives commits (lists of named statements) from the main thread one at a time and runs
 * each as a single SQLite transaction with synchronous=FULL, so when it answers "committed" the
 * commit is fsynced. Running here, off the main thread, lets the main thread keep reading
 * sockets, validating batches and assigning offsets while the fsync is in progress: the next
 * commit accumulates everything that arrives meanwhile (group commit).
 *
 * On any error the transaction is rolled back, the error is reported, and the connection is
 * reopened: after a failed fsync the state of SQLite's page cache is not to be trusted.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { wallNowMs } from "../util/diagnostics.js";
import { applyPragmas } from "./pragmas.js";
import { WRITE_SQL, type WriteOp, type WriteSqlName } from "./sql.js";
import { isArenaBytes } from "./staging-arena.js";
import type { FromWorker, ToWorker, WriterWorkerData } from "./writer-protocol.js";

const data = workerData as WriterWorkerData;
const port = parentPort;
if (!port) throw new Error("writer-worker must run in a worker thread");

const staging = Buffer.from(data.staging);
let db: Database.Database;
let statements: Map<WriteSqlName, Database.Statement>;

function open(): void {
  db = new Database(data.path);
  applyPragmas(db, "writer");
  statements = new Map();
}

function statement(name: WriteSqlName): Database.Statement {
  let s = statements.get(name);
  if (!s) {
    s = db.prepare(WRITE_SQL[name]);
    statements.set(name, s);
  }
  return s;
}

function toSqlValue(p: unknown): unknown {
  // Bytes in the staging arena: the commit holds their region until this worker answers for it.
  if (isArenaBytes(p)) return staging.subarray(p.arenaStart, p.arenaStart + p.arenaBytes);
  // Buffers arrive as plain Uint8Arrays after a transfer; better-sqlite3 binds Buffers as BLOBs.
  if (p instanceof Uint8Array && !Buffer.isBuffer(p))
    return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return p;
}

function runCommit(ops: readonly WriteOp[]): void {
  if (data.failOn && ops.some(([name]) => name === data.failOn)) {
    throw Object.assign(new Error(`injected failure on ${data.failOn}`), { code: "SQLITE_IOERR_INJECTED" });
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const [name, params] of ops) statement(name).run(...params.map(toSqlValue));
    if (data.crashOn && ops.some(([name]) => name === data.crashOn)) process.exit(70); // mid-transaction
    db.exec("COMMIT");
  } catch (err) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

open();
post({ type: "ready" });

port.on("message", (msg: ToWorker) => {
  if (msg.type === "close") {
    db.close();
    post({ type: "closed" });
    port.close();
    return;
  }
  const started = process.hrtime.bigint();
  const startedAt = wallNowMs();
  try {
    runCommit(msg.ops);
    post({
      type: "committed",
      id: msg.id,
      commitUs: Number((process.hrtime.bigint() - started) / 1000n),
      startedAt,
      endedAt: wallNowMs(),
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    post({ type: "failed", id: msg.id, code: e.code ?? "UNKNOWN", message: e.message ?? String(err) });
    try {
      db.close();
    } catch {
      // The connection may already be unusable; reopening below is what matters.
    }
    try {
      open();
    } catch (reopenErr) {
      // Cannot reopen (e.g. the directory vanished): the next commit fails and reports it again.
      void reopenErr;
    }
  }
});
