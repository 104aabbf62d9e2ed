/**
 * The one SQLite database file of a OnceDB data directory.
 *
 * Two connections: the writer (in a worker thread, see writer-worker.ts) and a reader on the
 * main thread. WAL mode lets the reader see each commit as soon as it is durable without ever
 * blocking the writer. Migrations run once at open, before the writer starts.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Checkpointer } from "./checkpointer.js";
import { MIGRATIONS } from "./migrations.js";
import { applyPragmas } from "./pragmas.js";
import { Writer } from "./writer.js";

export const DATABASE_FILE_NAME = "oncedb.sqlite";

export interface StoreOptions {
  dataDir: string;
  /** Test-only fault injection: every commit containing this statement fails. */
  failWritesOn?: string;
  /** Test-only fault injection: the writer thread dies in every commit containing this statement. */
  crashWriterOn?: string;
  /** The writer's staging arena (staging-arena.ts); default STAGING_ARENA_BYTES. */
  stagingArenaBytes?: number;
}

export class Store {
  private constructor(
    readonly path: string,
    readonly reader: Database.Database,
    readonly writer: Writer,
    private readonly checkpointer: Checkpointer,
  ) {}

  static async open(opts: StoreOptions): Promise<Store> {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const file = path.join(opts.dataDir, DATABASE_FILE_NAME);
    const setup = new Database(file);
    try {
      applyPragmas(setup, "writer");
      migrate(setup);
    } finally {
      setup.close();
    }
    const writer = await Writer.open(
      file,
      { failOn: opts.failWritesOn, crashOn: opts.crashWriterOn },
      opts.stagingArenaBytes,
    );
    const checkpointer = await Checkpointer.start(file);
    const reader = new Database(file);
    applyPragmas(reader, "reader");
    return new Store(file, reader, writer, checkpointer);
  }

  async close(): Promise<void> {
    await this.writer.close();
    await this.checkpointer.close();
    this.reader.close(); // the last connection: SQLite checkpoints and removes the WAL
  }
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

function migrate(db: Database.Database): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new Error(
      `database schema version ${current} is newer than this OnceDB (knows ${MIGRATIONS.length}); upgrade OnceDB`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
