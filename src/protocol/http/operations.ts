/**
 * HarperDB's Operations API on `POST /` (HarperDB serves it on a port of its own; OnceDB on the
 * one HTTP listener): a JSON body naming an `operation`. Answers have HarperDB's shapes.
 * Supported: create_table, drop_table, describe_table, describe_all, describe_database, insert,
 * upsert, update, delete, search_by_id, search_by_value, search_by_conditions, sql (src/tables/sql.ts:
 * SELECT, INSERT, UPDATE, DELETE on one table with AND-ed conditions). Anything else is
 * answered 400 with the list. Tables live in one database, `data` (HarperDB's default); naming
 * another is refused rather than silently merged.
 */
import type { FastifyInstance } from "fastify";
import type { Engine } from "../../engine/engine.js";
import { TableError } from "../../tables/errors.js";
import {
  type Condition,
  EMPTY_QUERY,
  type Op,
  type Query,
  QueryLimits,
  type Scalar,
} from "../../tables/query.js";
import { parseSql, runSql } from "../../tables/sql.js";
import { pick, type RowWrite, type TableInfo, TableLimits, type Tables } from "../../tables/tables.js";
import { assertWritable } from "./server.js";

export const DATABASE = "data";

const OPERATIONS = [
  "create_table",
  "drop_table",
  "describe_table",
  "describe_all",
  "describe_database",
  "insert",
  "upsert",
  "update",
  "delete",
  "search_by_id",
  "search_by_value",
  "search_by_conditions",
  "sql",
] as const;

type Body = Record<string, unknown>;

function str(body: Body, key: string, ...aliases: string[]): string {
  for (const k of [key, ...aliases]) {
    const v = body[k];
    if (typeof v === "string" && v !== "") return v;
  }
  throw new TableError("INVALID", `${key} is required (a string)`);
}

function tableOf(body: Body): string {
  const db = body.database ?? body.schema;
  if (db !== undefined && db !== DATABASE)
    throw new TableError("INVALID", `OnceDB has one database, "${DATABASE}"; got ${JSON.stringify(db)}`);
  return str(body, "table");
}

function list(body: Body, key: string, ...aliases: string[]): unknown[] {
  for (const k of [key, ...aliases]) if (Array.isArray(body[k])) return body[k] as unknown[];
  throw new TableError("INVALID", `${key} is required (an array)`);
}

function records(body: Body): Record<string, unknown>[] {
  const rs = list(body, "records");
  for (const r of rs)
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw new TableError("INVALID", "every entry of records is a JSON object");
  return rs as Record<string, unknown>[];
}

function describe(tables: Tables, t: TableInfo) {
  const d = tables.describe(t.name);
  return {
    schema: DATABASE,
    name: d.name,
    hash_attribute: d.primaryKey,
    attributes: d.attributes.map((a) =>
      a.name === d.primaryKey
        ? { attribute: a.name, type: a.type, is_primary_key: true }
        : { attribute: a.name, type: a.type, indexed: a.indexed },
    ),
    record_count: d.records,
    topic: d.topic,
  };
}

/** get_attributes: ["*"] or absent means whole records. */
function selection(body: Body): Pick<Query, "select" | "selectValue"> {
  const g = body.get_attributes;
  if (g === undefined || (Array.isArray(g) && g.includes("*"))) return { select: undefined };
  if (!Array.isArray(g) || !g.every((a) => typeof a === "string"))
    throw new TableError("INVALID", "get_attributes is an array of attribute names");
  return { select: g as string[], selectValue: false };
}

const SEARCH_TYPES: Record<string, Op> = {
  equals: "eq",
  not_equal: "ne",
  contains: "ct",
  starts_with: "sw",
  ends_with: "ew",
  greater_than: "gt",
  greater_than_equal: "ge",
  less_than: "lt",
  less_than_equal: "le",
};

function scalar(v: unknown, what: string): Scalar {
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  throw new TableError("INVALID", `${what} must be a string, number, boolean or null`);
}

function condition(attr: string, op: Op, value: unknown): Condition {
  const v = scalar(value, "search_value");
  return { attr, op, text: String(v), convert: false, values: [v] };
}

export function registerOperations(app: FastifyInstance, engine: Engine): void {
  const tables = engine.tables;
  app.post("/", async (req, reply) => {
    const body = req.body as Body | null;
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new TableError("INVALID", "the body is a JSON object with an operation");
    const op = body.operation;
    const writable = () => assertWritable(engine);
    switch (op) {
      case "create_table": {
        const table = tableOf(body);
        await tables.create(table, {
          primaryKey: body.primary_key ?? body.hash_attribute,
          attributes: body.attributes,
        });
        return { message: `table '${DATABASE}.${table}' successfully created.` };
      }
      case "drop_table": {
        const table = tableOf(body);
        await tables.drop(table);
        return { message: `successfully deleted table '${DATABASE}.${table}'` };
      }
      case "describe_table":
        return describe(tables, tables.describe(tableOf(body)));
      case "describe_all":
        return { [DATABASE]: Object.fromEntries(tables.list().map((t) => [t.name, describe(tables, t)])) };
      case "describe_database": {
        const db = body.database ?? body.schema ?? DATABASE;
        if (db !== DATABASE) throw new TableError("INVALID", `OnceDB has one database, "${DATABASE}"`);
        return Object.fromEntries(tables.list().map((t) => [t.name, describe(tables, t)]));
      }
      case "insert": {
        const table = tableOf(body);
        const rs = records(body);
        writable();
        const out = await tables.write(
          table,
          rs.map((record) => ({ kind: "insert", record, skipExisting: true }) as RowWrite),
        );
        const inserted = out.filter((o) => o.version !== null).map((o) => o.id);
        return {
          message: `inserted ${inserted.length} of ${rs.length} records`,
          inserted_hashes: inserted,
          skipped_hashes: out.filter((o) => o.version === null).map((o) => o.id),
        };
      }
      case "upsert": {
        const table = tableOf(body);
        const pk = tables.definition(table).primaryKey;
        const rs = records(body);
        writable();
        const out = await tables.write(
          table,
          rs.map(
            (record): RowWrite =>
              record[pk] === undefined || record[pk] === null
                ? { kind: "insert", record }
                : { kind: "put", record },
          ),
        );
        return {
          message: `upserted ${out.length} of ${rs.length} records`,
          upserted_hashes: out.map((o) => o.id),
        };
      }
      case "update": {
        const table = tableOf(body);
        const pk = tables.definition(table).primaryKey;
        const rs = records(body);
        for (const r of rs)
          if (r[pk] === undefined || r[pk] === null)
            throw new TableError("INVALID", `every record to update needs its primary key ${pk}`);
        writable();
        const out = await tables.write(
          table,
          rs.map((r) => ({ kind: "patch", id: r[pk], changes: r, skipMissing: true }) as RowWrite),
        );
        const updated = out.filter((o) => o.version !== null).map((o) => o.id);
        return {
          message: `updated ${updated.length} of ${rs.length} records`,
          update_hashes: updated,
          skipped_hashes: out.filter((o) => o.version === null).map((o) => o.id),
        };
      }
      case "delete": {
        const table = tableOf(body);
        const ids = list(body, "ids", "hash_values");
        writable();
        const out = await tables.write(
          table,
          ids.map((id) => ({ kind: "delete", id }) as RowWrite),
        );
        const deleted = out.filter((o) => o.existed).map((o) => o.id);
        return {
          message: `${deleted.length} of ${ids.length} records successfully deleted`,
          deleted_hashes: deleted,
          skipped_hashes: out.filter((o) => !o.existed).map((o) => o.id),
        };
      }
      case "search_by_id": {
        const table = tableOf(body);
        const ids = list(body, "ids", "hash_values");
        if (ids.length > TableLimits.writesPerCallMax)
          throw new TableError("LIMIT", `more than ${TableLimits.writesPerCallMax} ids in one call`);
        const sel = selection(body);
        const found: unknown[] = [];
        for (const id of ids) {
          const json = tables.get(table, id);
          if (json === undefined) continue;
          const rec = JSON.parse(json) as Record<string, unknown>;
          found.push(sel.select ? pick(rec, sel.select) : rec);
        }
        return found;
      }
      case "search_by_value": {
        const table = tableOf(body);
        const attr = str(body, "search_attribute");
        const value = scalar(body.search_value, "search_value");
        // HarperDB: a string value ending in * is a prefix search; "*" alone matches everything.
        const cond =
          typeof value === "string" && value.endsWith("*")
            ? value === "*"
              ? []
              : [condition(attr, "sw", value.slice(0, -1))]
            : [condition(attr, "eq", value)];
        const { json } = tables.query(table, { ...EMPTY_QUERY, conditions: cond, ...selection(body) });
        return reply.type("application/json; charset=utf-8").send(json);
      }
      case "search_by_conditions": {
        const table = tableOf(body);
        const operator = String(body.operator ?? "and").toLowerCase();
        if (operator !== "and")
          throw new TableError("INVALID", 'search_by_conditions supports operator "and" only');
        const conds: Condition[] = [];
        const given = list(body, "conditions");
        if (given.length > QueryLimits.conditionsMax)
          throw new TableError("LIMIT", `more than ${QueryLimits.conditionsMax} conditions`);
        for (const c of given as Body[]) {
          if (typeof c !== "object" || c === null || Array.isArray(c))
            throw new TableError(
              "INVALID",
              "every condition is an object {search_attribute, search_type, search_value}",
            );
          const attr = str(c, "search_attribute", "attribute");
          const type = String(c.search_type ?? c.comparator ?? "equals");
          if (type === "between") {
            const range = c.search_value;
            if (!Array.isArray(range) || range.length !== 2)
              throw new TableError("INVALID", "between takes search_value [low, high]");
            conds.push(condition(attr, "ge", range[0]), condition(attr, "le", range[1]));
            continue;
          }
          const opName = SEARCH_TYPES[type];
          if (!opName)
            throw new TableError(
              "INVALID",
              `search_type ${type}: one of ${[...Object.keys(SEARCH_TYPES), "between"].join(", ")}`,
            );
          conds.push(condition(attr, opName, c.search_value));
        }
        const offset = body.offset === undefined ? 0 : Number(body.offset);
        const limit = body.limit === undefined ? undefined : Number(body.limit);
        if (
          !Number.isInteger(offset) ||
          offset < 0 ||
          (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
        )
          throw new TableError("INVALID", "offset and limit are non-negative integers");
        const sortBody = body.sort as { attribute?: unknown; descending?: unknown } | undefined;
        const sort =
          sortBody && typeof sortBody.attribute === "string"
            ? [{ attr: sortBody.attribute, desc: sortBody.descending === true }]
            : [];
        const { json } = tables.query(table, { conditions: conds, offset, limit, sort, ...selection(body) });
        return reply.type("application/json; charset=utf-8").send(json);
      }
      case "sql": {
        const stmt = parseSql(str(body, "sql"));
        if (stmt.kind !== "select") writable();
        return runSql(tables, stmt);
      }
      default:
        throw new TableError(
          "INVALID",
          `unknown or unsupported operation ${JSON.stringify(op)}; supported: ${OPERATIONS.join(", ")}`,
        );
    }
  });
}
