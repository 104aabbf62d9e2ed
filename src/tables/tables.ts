/**
 * Database tables on the engine (the engine's `tables`): records as JSON documents keyed by a
 * primary key, secondary indexes, queries, and change subscriptions. Every protocol reaches
 * tables through this class; it knows no wire format.
 *
 * Write path: a call's writes are planned on this thread against the latest state (the database
 * plus writes still in a commit, `overlay`), encoded as one Kafka record batch for the table's
 * change topic (key = primary key, value = the record's JSON, null for a delete, header `op`),
 * and handed to the engine with the row and index writes they describe: the batch, the rows and
 * the index entries are committed together, so a row change and its change event are durable
 * together or not at all. The record's `version` is the offset of its change record.
 *
 * Invariants
 * 1. Readers (get, query, subscription snapshots) read the database, so they see only durable
 *    writes. Only write planning reads the overlay.
 * 2. Change events are delivered in offset order, right after the high watermark of the change
 *    topic passes them (same microtask run). So at any point between two I/O callbacks, the
 *    records whose version < high watermark are exactly those whose events were delivered: a
 *    subscription takes its snapshot and registers in one turn and sees each change once.
 */
import { randomUUID } from "node:crypto";
import type BetterSqlite3 from "better-sqlite3";
import type { Engine, OffsetCommitEntry, TableDefinition } from "../engine/engine.js";
import { EngineError } from "../engine/errors.js";
import { decodeRecords, encodeBatch, type RecordInput } from "../log/records.js";
import { encodeHeaders } from "../messaging/headers.js";
import { isValidPublishSubject } from "../messaging/subject.js";
import type { SqlParam, WriteOp } from "../storage/sql.js";
import { assert } from "../util/assert.js";
import {
  type AttributeDefinition,
  parseTableConfig,
  type TableConfig,
  type TableConfigInput,
  tableNameProblem,
  valueTypeProblem,
} from "./definition.js";
import { TableError } from "./errors.js";
import {
  type Condition,
  compareForSort,
  conditionValues,
  type Query,
  type Scalar,
  valueMatches,
} from "./query.js";

/** Named limits. Each bounds memory or work a client could otherwise make unbounded. */
export const TableLimits = {
  tablesMax: 10_000,
  /** A primary key, in UTF-8 bytes (it is the change record's Kafka key). */
  keyBytesMax: 1024,
  /** One record's JSON, in UTF-8 bytes. */
  recordBytesMax: 1024 * 1024,
  /** Writes in one call (one commit, one change batch). */
  writesPerCallMax: 10_000,
  /** JSON bytes written by one call; the change topic's max.message.bytes is set above it. */
  writeBytesPerCallMax: 16 * 1024 * 1024,
  /** Records a query may return, and their JSON characters; more needs limit(). */
  queryRowsMax: 100_000,
  queryBytesMax: 64 * 1024 * 1024,
  /** Records a query may examine on this thread (conditions on unindexed attributes scan). */
  scanRowsMax: 1_000_000,
  /** Records a table subscription replays before its live changes, and their JSON bytes. */
  replayRowsMax: 100_000,
  replayBytesMax: 64 * 1024 * 1024,
  /** Live subscriptions, all tables together. */
  subscriptionsMax: 100_000,
} as const;

/** Bytes of change batches read per step when a subscription resumes. */
const RESUME_READ_BYTES = 1024 * 1024;

/** Row changes are published on the bus under `$DB.<table>.<id>`. */
export const DB_SUBJECT_PREFIX = "$DB";
const EMPTY = new Uint8Array(0);

/** A change record's framing beyond key and value: length, attributes, deltas, the op header. */
const CHANGE_RECORD_OVERHEAD_BYTES = 32;

/** Headroom of the change topic's max.message.bytes over a call's JSON (batch and record framing). */
const CHANGE_BATCH_OVERHEAD_BYTES = 1024 * 1024;

export type ChangeType = "put" | "patch" | "delete";

/** A committed change of one record, as delivered to subscribers. */
export interface ChangeEvent {
  readonly table: string;
  readonly type: ChangeType;
  /** The primary key, as text. */
  readonly id: string;
  /** The record's JSON after the change; null when deleted. */
  readonly value: string | null;
  /** Offset of the change record in the table's topic. */
  readonly version: number;
  readonly timestampMs: number;
}

export type RecordInputValue = Record<string, unknown>;

export type RowWrite =
  /** Replaces (or creates) a whole record. `id` defaults to the record's primary key attribute. */
  | { readonly kind: "put"; readonly id?: unknown; readonly record: RecordInputValue }
  /**
   * Creates a record; one with its key exists already: EXISTS, or with `skipExisting` the write
   * is skipped (reported as existed). A missing key is generated (a uuid).
   */
  | { readonly kind: "insert"; readonly record: RecordInputValue; readonly skipExisting?: boolean }
  /**
   * Merges attributes into an existing record (null is stored as null); no such record:
   * RECORD_NOT_FOUND, or with `skipMissing` the write is skipped (reported as not existed).
   */
  | {
      readonly kind: "patch";
      readonly id: unknown;
      readonly changes: RecordInputValue;
      readonly skipMissing?: boolean;
    }
  /** Deletes a record; a missing one is reported, not an error. */
  | { readonly kind: "delete"; readonly id: unknown };

export interface WriteOutcome {
  readonly id: string;
  /** Whether the record existed before this write. */
  readonly existed: boolean;
  /** The change record's offset; null when the write changed nothing (delete of a missing record). */
  readonly version: number | null;
}

export interface TableInfo {
  readonly name: string;
  readonly primaryKey: string;
  readonly attributes: readonly AttributeDefinition[];
  readonly createdMs: number;
  /** The Kafka topic holding the table's change records. */
  readonly topic: string;
}

interface TableState {
  readonly def: TableDefinition;
  readonly config: TableConfig;
  readonly attrs: ReadonlyMap<string, AttributeDefinition>;
  readonly indexed: readonly AttributeDefinition[];
}

export interface Subscription {
  /**
   * Records current at subscription time, in primary key order (JSON text); empty when the
   * subscription resumed.
   */
  readonly snapshot: readonly { readonly id: string; readonly value: string; readonly version: number }[];
  /** When resuming (`afterVersion`): every change after that version up to now, in order. */
  readonly backlog: readonly ChangeEvent[];
  /** Whether it resumed from `afterVersion` (false: it started from the snapshot instead). */
  readonly resumed: boolean;
  /** Changes below this version are in the snapshot or the backlog; live events start here. */
  readonly highWatermark: number;
  /**
   * Which table this is, across drops and databases: its change topic's uuid. A table created
   * again under the same name, or one in another data directory, has another.
   */
  readonly epoch: string;
  close(): void;
}

type Listener = (ev: ChangeEvent) => void;

/** A registered subscription: its listener, and how to end it from this side (drop_table). */
interface Sub {
  readonly listener: Listener;
  end(reason: string): void;
}

interface OverlayEntry {
  doc: string | null;
  pending: number;
}

/** The text form of a primary key value, or a problem. */
function keyText(v: unknown): string {
  if (typeof v === "string") {
    if (v.length === 0) throw new TableError("INVALID", "a primary key is a non-empty string or an integer");
    if (Buffer.byteLength(v) > TableLimits.keyBytesMax)
      throw new TableError("LIMIT", `primary key longer than ${TableLimits.keyBytesMax} bytes`);
    return v;
  }
  if (Number.isSafeInteger(v)) return String(v);
  throw new TableError(
    "INVALID",
    `a primary key is a non-empty string or an integer, got ${JSON.stringify(v)}`,
  );
}

function isPlainObject(v: unknown): v is RecordInputValue {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An attribute value as stored in db_index (SQLite has no booleans), or undefined if not indexed. */
function indexValue(v: unknown): number | string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "boolean") return v ? 1 : 0;
  return undefined;
}

function indexValues(v: unknown): (number | string)[] {
  const out: (number | string)[] = [];
  for (const e of Array.isArray(v) ? v : [v]) {
    const x = indexValue(e);
    if (x !== undefined && !out.includes(x)) out.push(x);
  }
  return out;
}

export class Tables {
  private states = new Map<string, TableState>();
  private readonly overlay = new Map<string, OverlayEntry>();
  /** Bumped when a failed commit resets the overlay, so writes of that era release nothing. */
  private overlayGeneration = 0;
  private readonly tableListeners = new Map<string, Set<Sub>>();
  private readonly recordListeners = new Map<string, Set<Sub>>();
  private subscriptions = 0;
  private readonly statements = new Map<string, BetterSqlite3.Statement<unknown[]>>();

  constructor(private readonly engine: Engine) {
    engine.on("tables-changed", () => this.reload());
    // A failed commit fails every write queued behind it (storage/writer.ts), synchronously after
    // this event: none of the overlay's pending writes will land, so later planning must not see them.
    engine.on("storage-error", () => {
      this.overlay.clear();
      this.overlayGeneration++;
    });
    this.reload();
  }

  private reload(): void {
    const next = new Map<string, TableState>();
    for (const def of this.engine.tableDefinitions()) {
      const prev = this.states.get(def.name);
      if (prev && prev.def === def) {
        next.set(def.name, prev);
        continue;
      }
      const config = JSON.parse(def.config) as TableConfig;
      next.set(def.name, {
        def,
        config,
        attrs: new Map(config.attributes.map((a) => [a.name, a])),
        indexed: config.attributes.filter((a) => a.indexed),
      });
    }
    this.states = next;
  }

  private sql(text: string): BetterSqlite3.Statement<unknown[]> {
    let s = this.statements.get(text);
    if (!s) {
      s = this.engine.store.reader.prepare<unknown[]>(text);
      this.statements.set(text, s);
    }
    return s;
  }

  private state(table: string): TableState {
    const st = this.states.get(table);
    if (!st) throw new TableError("TABLE_NOT_FOUND", `table ${table} does not exist`);
    return st;
  }

  // ---------------------------------------------------------------- definitions

  async create(name: string, input: TableConfigInput = {}): Promise<TableInfo> {
    const problem = tableNameProblem(name);
    if (problem) throw new TableError("INVALID", problem);
    if (this.states.has(name)) throw new TableError("EXISTS", `table ${name} already exists`);
    if (this.engine.topic(name))
      throw new TableError(
        "EXISTS",
        `a topic named ${name} exists; a table's changes go to a topic of its name`,
      );
    if (this.states.size >= TableLimits.tablesMax)
      throw new TableError("LIMIT", `more than ${TableLimits.tablesMax} tables`);
    const config = parseTableConfig(input);
    const def = await this.engine.createTableDefinition(name, JSON.stringify(config), {
      "max.message.bytes": String(TableLimits.writeBytesPerCallMax + CHANGE_BATCH_OVERHEAD_BYTES),
    });
    return this.info(this.state(def.name));
  }

  async drop(name: string): Promise<void> {
    this.state(name);
    // Its subscribers learn that it is gone (the HTTP adapter closes their connections).
    const subs = [...(this.tableListeners.get(name) ?? [])];
    for (const [key, set] of this.recordListeners) if (key.startsWith(`${name}\u0000`)) subs.push(...set);
    for (const sub of subs) sub.end(`table ${name} was dropped`);
    await this.engine.dropTableDefinition(name);
  }

  describe(name: string): TableInfo & { readonly records: number } {
    const st = this.state(name);
    const records = this.sql("SELECT COUNT(*) FROM db_rows WHERE tbl = ?")
      .pluck(true)
      .get(st.def.tbl) as number;
    return { ...this.info(st), records };
  }

  list(): TableInfo[] {
    return [...this.states.values()].map((st) => this.info(st)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** A table's definition (no record count: that is describe(), which scans). */
  definition(name: string): TableInfo {
    return this.info(this.state(name));
  }

  has(name: string): boolean {
    return this.states.has(name);
  }

  private info(st: TableState): TableInfo {
    return {
      name: st.def.name,
      primaryKey: st.config.primaryKey,
      attributes: st.config.attributes,
      createdMs: st.def.createdMs,
      topic: st.def.topic,
    };
  }

  // ---------------------------------------------------------------- reads

  /** A record's JSON text, or undefined. Only durable writes are visible. */
  get(table: string, id: unknown): string | undefined {
    const st = this.state(table);
    return this.readDoc(st, this.keyFor(st, id));
  }

  /** A record's JSON text and version (its change record's offset), or undefined. */
  getVersioned(table: string, id: unknown): { json: string; version: number } | undefined {
    const st = this.state(table);
    const row = this.sql("SELECT doc, version FROM db_rows WHERE tbl = ? AND id = ?")
      .raw(true)
      .get(st.def.tbl, this.keyFor(st, id)) as [string, number] | undefined;
    return row ? { json: row[0], version: row[1] } : undefined;
  }

  /** Deletes every record a query matches (its conditions; limit and sort apply), atomically. */
  async deleteMatching(table: string, q: Query): Promise<number> {
    const st = this.state(table);
    const pk = st.config.primaryKey;
    const { json } = this.query(table, { ...q, select: [pk], selectValue: false });
    const ids = (JSON.parse(json) as RecordInputValue[]).map((r) => r[pk]);
    if (ids.length > TableLimits.writesPerCallMax)
      throw new TableError(
        "LIMIT",
        `query matches more than ${TableLimits.writesPerCallMax} records to delete; page with limit()`,
      );
    const outcomes = await this.write(
      table,
      ids.map((id) => ({ kind: "delete", id }) as const),
    );
    return outcomes.filter((o) => o.existed).length;
  }

  /** The key of `id` as given in a URL or a call: an Int/Long primary key takes numbers. */
  private keyFor(st: TableState, id: unknown): string {
    if (typeof id === "string" && ["Int", "Long"].includes(st.attrs.get(st.config.primaryKey)?.type ?? "")) {
      const n = Number(id);
      if (!Number.isSafeInteger(n) || String(n) !== id)
        throw new TableError(
          "INVALID",
          `primary key ${st.config.primaryKey} is an integer, got ${JSON.stringify(id)}`,
        );
    }
    return keyText(id);
  }

  private readDoc(st: TableState, key: string): string | undefined {
    return this.sql("SELECT doc FROM db_rows WHERE tbl = ? AND id = ?").pluck(true).get(st.def.tbl, key) as
      | string
      | undefined;
  }

  /**
   * Runs a query; returns the matching records as one JSON array text. Conditions on the primary
   * key or an indexed attribute use the index; the others are checked record by record.
   */
  query(table: string, q: Query): { json: string; count: number } {
    const st = this.state(table);
    const conds = q.conditions.map((c) => {
      const type = st.attrs.get(c.attr)?.type;
      const values = conditionValues(c, type);
      if (values.length === 0)
        throw new TableError(
          "INVALID",
          `invalid value for attribute ${c.attr}: ${JSON.stringify(c.text)}, expecting ${type}`,
        );
      return { c, values };
    });
    const needParse = conds.length > 0 || q.sort.length > 0 || q.select !== undefined;
    const out: string[] = [];
    const sorted: { doc: string; rec: RecordInputValue }[] = [];
    let skip = q.sort.length > 0 ? 0 : q.offset;
    const take = q.sort.length > 0 ? Number.POSITIVE_INFINITY : (q.limit ?? Number.POSITIVE_INFINITY);
    let scanned = 0;
    let outBytes = 0;
    const seen = new Set<string>();
    const visit = (id: string, doc: string): boolean => {
      if (out.length >= take) return false;
      if (++scanned > TableLimits.scanRowsMax)
        throw new TableError(
          "LIMIT",
          `query examines more than ${TableLimits.scanRowsMax} records; add a condition on an indexed attribute`,
        );
      if (seen.has(id)) return true;
      seen.add(id);
      let rec: RecordInputValue | undefined;
      if (needParse) {
        rec = JSON.parse(doc) as RecordInputValue;
        for (const { c, values } of conds)
          if (!valueMatches(c.op, ownValue(rec, c.attr), values)) return true;
      }
      if (q.sort.length > 0) {
        sorted.push({ doc, rec: rec! });
      } else if (skip > 0) {
        skip--;
      } else {
        const text = q.select ? selected(rec!, q) : doc;
        out.push(text);
        outBytes += text.length;
        if (out.length > TableLimits.queryRowsMax || outBytes > TableLimits.queryBytesMax) tooMany();
      }
      return out.length < take;
    };
    this.scan(st, conds, visit);
    if (q.sort.length > 0) {
      if (sorted.length > TableLimits.queryRowsMax && q.limit === undefined) tooMany();
      sorted.sort((a, b) => {
        for (const k of q.sort) {
          const d = compareForSort(ownValue(a.rec, k.attr), ownValue(b.rec, k.attr));
          if (d !== 0) return k.desc ? -d : d;
        }
        return 0;
      });
      const end = q.limit === undefined ? sorted.length : q.offset + q.limit;
      for (const s of sorted.slice(q.offset, end)) {
        const text = q.select ? selected(s.rec, q) : s.doc;
        out.push(text);
        outBytes += text.length;
        if (outBytes > TableLimits.queryBytesMax) tooMany();
      }
    }
    return { json: `[${out.join(",")}]`, count: out.length };
  }

  /** Feeds candidate records to `visit` (which returns false to stop), using the best index. */
  private scan(
    st: TableState,
    conds: readonly { c: Condition; values: Scalar[] }[],
    visit: (id: string, doc: string) => boolean,
  ): void {
    const tbl = st.def.tbl;
    const pk = st.config.primaryKey;
    const byKey = conds.find(({ c }) => c.attr === pk && c.op === "eq");
    if (byKey) {
      for (const v of byKey.values) {
        if (v === null || typeof v === "boolean") continue;
        let key: string;
        try {
          key = keyText(v);
        } catch {
          continue;
        }
        const doc = this.readDoc(st, key);
        if (doc !== undefined && !visit(key, doc)) return;
      }
      return;
    }
    const indexed = conds.find(
      ({ c, values }) =>
        st.attrs.get(c.attr)?.indexed === true &&
        ["eq", "gt", "ge", "lt", "le", "sw"].includes(c.op) &&
        values.length > 0 &&
        // Every value the condition may match must be in the index (null and objects are not).
        (c.op === "eq" ? values : values.slice(0, 1)).every((v) => indexValue(v) !== undefined),
    );
    if (indexed) {
      const { c, values } = indexed;
      const candidates = c.op === "eq" ? values : values.slice(0, 1);
      for (const v of candidates) {
        const x = indexValue(v);
        if (x === undefined) continue;
        const [where, params] = indexRange(c.op, x);
        const rows = this.sql(
          `SELECT r.id, r.doc FROM db_index i JOIN db_rows r ON r.tbl = i.tbl AND r.id = i.id
           WHERE i.tbl = ? AND i.attr = ? AND ${where} ORDER BY i.value, i.id`,
        )
          .raw(true)
          .iterate(tbl, c.attr, ...params) as IterableIterator<[string, string]>;
        for (const [id, doc] of rows) {
          if (!visit(id, doc)) {
            rows.return?.();
            return;
          }
        }
      }
      return;
    }
    const rows = this.sql("SELECT id, doc FROM db_rows WHERE tbl = ? ORDER BY id")
      .raw(true)
      .iterate(tbl) as IterableIterator<[string, string]>;
    for (const [id, doc] of rows) {
      if (!visit(id, doc)) {
        rows.return?.();
        return;
      }
    }
  }

  // ---------------------------------------------------------------- writes

  put(table: string, id: unknown, record: RecordInputValue): Promise<WriteOutcome> {
    return this.write(table, [{ kind: "put", id, record }]).then((r) => r[0]!);
  }

  patch(table: string, id: unknown, changes: RecordInputValue): Promise<WriteOutcome> {
    return this.write(table, [{ kind: "patch", id, changes }]).then((r) => r[0]!);
  }

  insert(table: string, record: RecordInputValue): Promise<WriteOutcome> {
    return this.write(table, [{ kind: "insert", record }]).then((r) => r[0]!);
  }

  delete(table: string, id: unknown): Promise<WriteOutcome> {
    return this.write(table, [{ kind: "delete", id }]).then((r) => r[0]!);
  }

  /**
   * Applies writes to one table atomically: all of them are durable, with their change records,
   * when the promise resolves; none of them is if it rejects. Later writes in the list see the
   * earlier ones.
   */
  write(table: string, writes: readonly RowWrite[]): Promise<WriteOutcome[]> {
    return this.commit([{ table, writes }]).then((r) => r[0]!);
  }

  /**
   * Applies writes to several tables, and optionally commits consumer-group offsets, in one
   * commit: every row, its change record and the offsets are durable together when the promise
   * resolves, or none of them if it rejects. This is what processing a stream into tables
   * exactly once stands on: commit the input's offsets with the rows made from it, and a crash
   * can neither lose the rows nor apply the input twice. Each table appears at most once; writes
   * to one table see the earlier ones in its list. Resolves with each table's outcomes, in order.
   */
  commit(
    groups: readonly { readonly table: string; readonly writes: readonly RowWrite[] }[],
    opts: {
      readonly offsets?: { readonly groupId: string; readonly entries: readonly OffsetCommitEntry[] };
    } = {},
  ): Promise<WriteOutcome[][]> {
    const planned: ReturnType<Tables["plan"]>[] = [];
    try {
      const seen = new Set<string>();
      let total = 0;
      for (const g of groups) {
        if (seen.has(g.table))
          throw new TableError("INVALID", `table ${g.table} appears twice in one commit`);
        seen.add(g.table);
        total += g.writes.length;
        if (total > TableLimits.writesPerCallMax)
          throw new TableError("LIMIT", `more than ${TableLimits.writesPerCallMax} writes in one call`);
        planned.push(this.plan(this.state(g.table), g.writes));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const active = planned.filter((p) => p.plans.length > 0);
    const unchanged = () =>
      planned.map((p) => p.outcomes.map(({ planIndex: _, ...o }) => ({ ...o, version: null })));
    if (active.length === 0 && !opts.offsets) return Promise.resolve(unchanged());
    const nowMs = this.engine.clock.nowMs();
    const generation = this.overlayGeneration;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      // After a failed commit the overlay was reset (onStorageError): nothing of ours is left.
      if (generation !== this.overlayGeneration) return;
      for (const { st, plans } of active) for (const pl of plans) this.overlayRemove(st.def.tbl, pl.key);
    };
    const items = active.map(({ st, plans }) => {
      const records: RecordInput[] = plans.map((pl) => ({
        key: Buffer.from(pl.key, "utf8"),
        value: pl.doc === null ? null : Buffer.from(pl.doc, "utf8"),
        headers: [{ key: "op", value: Buffer.from(pl.type, "utf8") }],
        timestampMs: nowMs,
      }));
      const ops = (baseOffset: number): WriteOp[] => {
        const list: WriteOp[] = [];
        for (let i = 0; i < plans.length; i++) rowOps(st, plans[i]!, baseOffset + i, list);
        return list;
      };
      const onDurable = (baseOffset: number) => {
        release();
        for (let i = 0; i < plans.length; i++) {
          const pl = plans[i]!;
          // notify() contains its listeners' failures: the write is durable whatever they do.
          this.notify({
            table: st.def.name,
            type: pl.type,
            id: pl.key,
            value: pl.doc,
            version: baseOffset + i,
            timestampMs: nowMs,
          });
        }
      };
      return { def: st.def, batch: encodeBatch({ records, nowMs }), change: { ops, onDurable } };
    });
    for (const { st, plans } of active) for (const pl of plans) this.overlayAdd(st.def.tbl, pl.key, pl.doc);
    return this.engine.appendTableChanges(items, opts.offsets).then(
      (results) => {
        release();
        let k = 0;
        return planned.map((p) => {
          const base = p.plans.length > 0 ? results[k++]!.baseOffset : 0;
          return p.outcomes.map(({ planIndex, ...o }) => ({
            ...o,
            version: planIndex < 0 ? null : base + planIndex,
          }));
        });
      },
      (err: unknown) => {
        release();
        throw err;
      },
    );
  }

  private plan(st: TableState, writes: readonly RowWrite[]) {
    if (writes.length > TableLimits.writesPerCallMax)
      throw new TableError("LIMIT", `more than ${TableLimits.writesPerCallMax} writes in one call`);
    const pk = st.config.primaryKey;
    const local = new Map<string, string | null>();
    const current = (key: string): string | null => {
      if (local.has(key)) return local.get(key)!;
      const o = this.overlay.get(`${st.def.tbl}\u0000${key}`);
      if (o) return o.doc;
      return this.readDoc(st, key) ?? null;
    };
    const plans: Plan[] = [];
    const outcomes: (Omit<WriteOutcome, "version"> & { planIndex: number })[] = [];
    let bytes = 0;
    for (const w of writes) {
      let key: string;
      let doc: string | null;
      let type: ChangeType;
      let old: string | null;
      switch (w.kind) {
        case "put":
        case "insert": {
          if (!isPlainObject(w.record)) throw new TableError("INVALID", "a record is a JSON object");
          const record = { ...w.record };
          let idValue = w.kind === "put" && w.id !== undefined ? w.id : record[pk];
          if (idValue === undefined || idValue === null) {
            if (w.kind === "put") throw new TableError("INVALID", `the record has no primary key ${pk}`);
            idValue = randomUUID();
          }
          key = this.keyFor(st, idValue);
          if (record[pk] !== undefined && record[pk] !== null && keyText(record[pk]) !== key)
            throw new TableError(
              "INVALID",
              `the record's ${pk} (${JSON.stringify(record[pk])}) differs from the key it is written to (${key})`,
            );
          record[pk] = typedKey(st, idValue, key);
          old = current(key);
          if (w.kind === "insert" && old !== null) {
            if (w.skipExisting) {
              outcomes.push({ id: key, existed: true, planIndex: -1 });
              continue;
            }
            throw new TableError("EXISTS", `a record with ${pk} ${key} exists in ${st.def.name}`);
          }
          doc = this.checkedDoc(st, record);
          type = "put";
          break;
        }
        case "patch": {
          if (!isPlainObject(w.changes)) throw new TableError("INVALID", "changes are a JSON object");
          key = this.keyFor(st, w.id);
          old = current(key);
          if (old === null) {
            if (w.skipMissing) {
              outcomes.push({ id: key, existed: false, planIndex: -1 });
              continue;
            }
            throw new TableError("RECORD_NOT_FOUND", `no record with ${pk} ${key} in ${st.def.name}`);
          }
          const merged = JSON.parse(old) as RecordInputValue;
          for (const [k, v] of Object.entries(w.changes)) {
            if (k === pk) {
              if (v !== undefined && v !== null && keyText(v) !== key)
                throw new TableError("INVALID", `the primary key ${pk} of a record cannot change`);
              continue;
            }
            if (v !== undefined) merged[k] = v;
          }
          doc = this.checkedDoc(st, merged);
          type = "patch";
          break;
        }
        case "delete": {
          key = this.keyFor(st, w.id);
          old = current(key);
          if (old === null) {
            outcomes.push({ id: key, existed: false, planIndex: -1 });
            continue;
          }
          doc = null;
          type = "delete";
          break;
        }
        default:
          throw new TableError("INVALID", `unknown write ${(w as { kind: unknown }).kind}`);
      }
      // What the change batch will hold: key, value and the record's framing.
      bytes +=
        Buffer.byteLength(key) + (doc === null ? 0 : Buffer.byteLength(doc)) + CHANGE_RECORD_OVERHEAD_BYTES;
      if (bytes > TableLimits.writeBytesPerCallMax)
        throw new TableError(
          "LIMIT",
          `more than ${TableLimits.writeBytesPerCallMax} bytes of records in one call`,
        );
      local.set(key, doc);
      outcomes.push({ id: key, existed: old !== null, planIndex: plans.length });
      plans.push({ key, doc, old, type });
    }
    return { st, plans, outcomes };
  }

  private checkedDoc(st: TableState, record: RecordInputValue): string {
    for (const [name, v] of Object.entries(record)) {
      const attr = st.attrs.get(name);
      if (!attr) continue;
      const problem = valueTypeProblem(attr, v);
      if (problem) throw new TableError("INVALID", problem);
    }
    const doc = JSON.stringify(record);
    if (Buffer.byteLength(doc) > TableLimits.recordBytesMax)
      throw new TableError("LIMIT", `record larger than ${TableLimits.recordBytesMax} bytes of JSON`);
    return doc;
  }

  private overlayAdd(tbl: number, key: string, doc: string | null): void {
    const k = `${tbl}\u0000${key}`;
    const e = this.overlay.get(k);
    if (e) {
      e.doc = doc;
      e.pending++;
    } else this.overlay.set(k, { doc, pending: 1 });
  }

  private overlayRemove(tbl: number, key: string): void {
    const k = `${tbl}\u0000${key}`;
    const e = this.overlay.get(k);
    assert(e && e.pending > 0, "overlay entry released twice");
    if (--e.pending === 0) this.overlay.delete(k);
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribes to a table's changes (`id` undefined) or one record's. The snapshot holds the
   * records current now (the one record, or every record of the table); `listener` then gets
   * every later change, each once, in commit order.
   */
  subscribe(
    table: string,
    id: unknown,
    listener: Listener,
    opts: {
      /** Resume after this version (from the change topic) instead of starting from a snapshot. */
      afterVersion?: number;
      /**
       * The epoch `afterVersion` was seen under (Subscription.epoch): a version of a dropped
       * table of the same name, or of another database, means nothing here, so that
       * subscription starts over.
       */
      epoch?: string;
      /** Called when the subscription ends from this side (its table was dropped). */
      onEnd?: (reason: string) => void;
    } = {},
  ): Subscription {
    const st = this.state(table);
    if (this.subscriptions >= TableLimits.subscriptionsMax)
      throw new TableError("LIMIT", `more than ${TableLimits.subscriptionsMax} subscriptions`);
    const p = this.engine.partition(st.def.topic, 0);
    assert(p, `table ${table} has no change partition`);
    const hw = p.highWatermark;
    const key = id === undefined ? undefined : this.keyFor(st, id);
    const snapshot: { id: string; value: string; version: number }[] = [];
    const epoch = this.engine.topic(st.def.topic)?.uuid;
    assert(epoch, `table ${table} has no change topic`);
    const resumable = opts.afterVersion !== undefined && (opts.epoch === undefined || opts.epoch === epoch);
    const backlog = resumable ? this.changesSince(st, key, opts.afterVersion! + 1, hw) : undefined;
    let listeners: Set<Sub>;
    let mapKey: string;
    let map: Map<string, Set<Sub>>;
    if (backlog !== undefined) {
      map = key === undefined ? this.tableListeners : this.recordListeners;
      mapKey = key === undefined ? table : `${table}\u0000${key}`;
    } else if (key === undefined) {
      const count = this.sql("SELECT COUNT(*) FROM (SELECT 1 FROM db_rows WHERE tbl = ? LIMIT ?)")
        .pluck(true)
        .get(st.def.tbl, TableLimits.replayRowsMax + 1) as number;
      if (count > TableLimits.replayRowsMax)
        throw new TableError(
          "LIMIT",
          `table ${table} holds more than ${TableLimits.replayRowsMax} records to replay; subscribe to records, or read the change topic ${st.def.topic}`,
        );
      let bytes = 0;
      for (const [rid, value, version] of this.sql(
        "SELECT id, doc, version FROM db_rows WHERE tbl = ? ORDER BY id",
      )
        .raw(true)
        .iterate(st.def.tbl) as IterableIterator<[string, string, number]>) {
        if (version >= hw) continue;
        bytes += value.length;
        if (bytes > TableLimits.replayBytesMax)
          throw new TableError(
            "LIMIT",
            `table ${table} holds more than ${TableLimits.replayBytesMax} bytes to replay; subscribe to records, or read the change topic ${st.def.topic}`,
          );
        snapshot.push({ id: rid, value, version });
      }
      map = this.tableListeners;
      mapKey = table;
    } else {
      const row = this.sql("SELECT doc, version FROM db_rows WHERE tbl = ? AND id = ?")
        .raw(true)
        .get(st.def.tbl, key) as [string, number] | undefined;
      if (row && row[1] < hw) snapshot.push({ id: key, value: row[0], version: row[1] });
      map = this.recordListeners;
      mapKey = `${table}\u0000${key}`;
    }
    listeners = map.get(mapKey) ?? new Set();
    map.set(mapKey, listeners);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.subscriptions--;
      listeners.delete(sub);
      if (listeners.size === 0 && map.get(mapKey) === listeners) map.delete(mapKey);
    };
    const sub: Sub = {
      listener,
      end: (reason) => {
        close();
        opts.onEnd?.(reason);
      },
    };
    listeners.add(sub);
    this.subscriptions++;
    return {
      snapshot,
      backlog: backlog ?? [],
      resumed: backlog !== undefined,
      highWatermark: hw,
      epoch,
      close,
    };
  }

  /**
   * The changes with version in [from, to) read from the change topic (for one record, or all),
   * or undefined when they cannot all be read: retention already deleted some, or there are more
   * than a table replay's worth (the caller then starts from a snapshot instead).
   */
  private changesSince(
    st: TableState,
    key: string | undefined,
    from: number,
    to: number,
  ): ChangeEvent[] | undefined {
    const p = this.engine.partition(st.def.topic, 0);
    assert(p, `table ${st.def.name} has no change partition`);
    if (from < p.logStartOffset || from > to) return undefined;
    const out: ChangeEvent[] = [];
    let next = from;
    let examined = 0;
    let bytes = 0;
    while (next < to) {
      const batches = this.engine.readBatchesNow(st.def.topic, 0, next, RESUME_READ_BYTES);
      if (batches.length === 0) return undefined;
      for (const b of batches) {
        const records = decodeRecords(b);
        if (!records) return undefined;
        for (const r of records) {
          if (r.offset < next || r.offset >= to) continue;
          next = r.offset + 1;
          if (++examined > TableLimits.replayRowsMax) return undefined;
          bytes += r.value?.length ?? 0;
          if (bytes > TableLimits.replayBytesMax) return undefined;
          const id = r.key?.toString("utf8") ?? "";
          if (key !== undefined && id !== key) continue;
          const op = r.headers.find((h) => h.key === "op")?.value?.toString("utf8");
          out.push({
            table: st.def.name,
            type: op === "delete" ? "delete" : op === "patch" ? "patch" : "put",
            id,
            value: r.value === null ? null : r.value.toString("utf8"),
            version: r.offset,
            timestampMs: r.timestampMs,
          });
        }
      }
    }
    return out;
  }

  private notify(ev: ChangeEvent): void {
    const deliver = (set: Set<Sub> | undefined) => {
      if (!set) return;
      for (const sub of [...set]) {
        try {
          sub.listener(ev);
        } catch (err) {
          this.engine.logger?.warn(
            { err: (err as Error).message, table: ev.table },
            "change listener failed",
          );
        }
      }
    };
    deliver(this.tableListeners.get(ev.table));
    deliver(this.recordListeners.get(`${ev.table}\u0000${ev.id}`));
    try {
      this.publishOnBus(ev);
    } catch (err) {
      this.engine.logger?.warn(
        { err: (err as Error).message, table: ev.table },
        "change not published on the bus",
      );
    }
  }

  /**
   * Publishes a change on the message bus as `$DB.<table>.<id>` (as NATS KV does with
   * `$KV.<bucket>.<key>`), so NATS subscribers (and anything else on the bus) see row changes:
   * payload = the record's JSON (empty for a delete), headers Oncedb-Op and Oncedb-Version.
   * Keys that are not valid subject tokens (whitespace, a lone * or >) are not published.
   * Like core NATS this is at-most-once; the change topic is the durable record.
   */
  private publishOnBus(ev: ChangeEvent): void {
    const subject = `${DB_SUBJECT_PREFIX}.${ev.table}.${ev.id}`;
    const bus = this.engine.bus;
    if (!isValidPublishSubject(subject) || !bus.hasInterest(subject)) return;
    const headers = encodeHeaders({
      entries: [
        ["Oncedb-Op", ev.type],
        ["Oncedb-Version", String(ev.version)],
      ],
    });
    bus.publish(subject, undefined, headers, ev.value === null ? EMPTY : Buffer.from(ev.value, "utf8"));
  }
}

interface Plan {
  readonly key: string;
  readonly doc: string | null;
  readonly old: string | null;
  readonly type: ChangeType;
}

/** The primary key as stored in the record: a number for Int/Long keys, else as given. */
function typedKey(st: TableState, given: unknown, key: string): unknown {
  const type = st.attrs.get(st.config.primaryKey)?.type;
  if (type === "Int" || type === "Long") return Number(key);
  return typeof given === "number" ? given : key;
}

function rowOps(st: TableState, pl: Plan, version: number, out: WriteOp[]): void {
  const tbl = st.def.tbl;
  if (pl.doc === null) out.push(["deleteDbRow", [tbl, pl.key]]);
  else out.push(["upsertDbRow", [tbl, pl.key, pl.doc, version]]);
  if (st.indexed.length === 0) return;
  const oldRec = pl.old === null ? null : (JSON.parse(pl.old) as RecordInputValue);
  const newRec = pl.doc === null ? null : (JSON.parse(pl.doc) as RecordInputValue);
  for (const a of st.indexed) {
    const before = oldRec ? indexValues(oldRec[a.name]) : [];
    const after = newRec ? indexValues(newRec[a.name]) : [];
    for (const v of before) if (!after.includes(v)) out.push(["deleteDbIndex", [tbl, a.name, v, pl.key]]);
    for (const v of after) if (!before.includes(v)) out.push(["insertDbIndex", [tbl, a.name, v, pl.key]]);
  }
}

/** The SQL range of db_index values an indexed condition selects (numbers sort before text). */
function indexRange(op: Condition["op"], x: number | string): [string, SqlParam[]] {
  const isNum = typeof x === "number";
  // In SQLite's order numbers < text < blobs; '' is the least text and X'' the least blob.
  const upperBound = isNum ? "i.value < ''" : "i.value < X''";
  const lowerBound = isNum ? "i.value >= -9e999" : "i.value >= ''";
  switch (op) {
    case "eq":
      return ["i.value = ?", [x]];
    case "gt":
      return [`i.value > ? AND ${upperBound}`, [x]];
    case "ge":
      return [`i.value >= ? AND ${upperBound}`, [x]];
    case "lt":
      return [`i.value < ? AND ${lowerBound}`, [x]];
    case "le":
      return [`i.value <= ? AND ${lowerBound}`, [x]];
    case "sw": {
      const prefix = String(x);
      const upper = prefixUpperBound(prefix);
      return upper === null
        ? [`i.value >= ? AND ${upperBound}`, [prefix]]
        : ["i.value >= ? AND i.value < ?", [prefix, upper]];
    }
    default:
      throw new EngineError("UNKNOWN_SERVER_ERROR", `no index range for ${op}`);
  }
}

/** A result record as select() shapes it. */
function selected(rec: RecordInputValue, q: Query): string {
  const attrs = q.select ?? [];
  if (q.selectValue) return JSON.stringify(ownValue(rec, attrs[0]!) ?? null);
  return JSON.stringify(pick(rec, attrs));
}

/** A record's own attribute (never one inherited from Object.prototype, such as "constructor"). */
export function ownValue(rec: RecordInputValue, attr: string): unknown {
  return Object.hasOwn(rec, attr) ? rec[attr] : undefined;
}

/**
 * The least string greater than every string starting with `prefix` (in code point order, which
 * is SQLite's order of UTF-8 text), or null when there is none (every code point is the last).
 */
function prefixUpperBound(prefix: string): string | null {
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0)!);
  while (cps.length > 0) {
    const last = cps.pop()!;
    let next = last + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // surrogates are not code points
    if (next <= 0x10ffff) return String.fromCodePoint(...cps, next);
  }
  return null;
}

/** The record's own attributes among `attrs`, in that order. */
export function pick(rec: RecordInputValue, attrs: readonly string[]): RecordInputValue {
  const out: RecordInputValue = {};
  for (const a of attrs) if (Object.hasOwn(rec, a)) out[a] = rec[a];
  return out;
}

function tooMany(): never {
  throw new TableError(
    "LIMIT",
    `query returns more than ${TableLimits.queryRowsMax} records or ${TableLimits.queryBytesMax} characters; narrow it or page with limit(start,end)`,
  );
}
