/**
 * SQL on tables: the subset HarperDB users write through the Operations API's `sql` operation,
 * parsed by hand into the same queries and writes the REST layer uses (so SQL gets the same
 * indexes, limits and atomic change records):
 *
 *   SELECT * | a, b FROM [data.]t [WHERE cond [AND cond]...] [ORDER BY a [ASC|DESC], ...]
 *          [LIMIT n [OFFSET m]]
 *   INSERT INTO [data.]t (a, b) VALUES (1, 'x'), (2, 'y')      (existing keys are skipped)
 *   UPDATE [data.]t SET a = 1, b = 'x' [WHERE cond [AND cond]...]
 *   DELETE FROM [data.]t [WHERE cond [AND cond]...]
 *
 * cond: a = v, a != v, a <> v, a < v, a <= v, a > v, a >= v, a LIKE 'x%' | '%x' | '%x%',
 * a IN (v, ...), a BETWEEN v AND w, a IS [NOT] NULL. Values: 'text' ('' escapes a quote),
 * numbers, TRUE, FALSE, NULL. Keywords are case-insensitive; identifiers may be "quoted" or
 * `quoted`. OR, joins, grouping, aggregates and functions are refused with an error naming them.
 */
import { TableError } from "./errors.js";
import {
  type Condition,
  EMPTY_QUERY,
  type Op,
  type Query,
  QueryLimits,
  type Scalar,
  type SortKey,
} from "./query.js";
import type { RecordInputValue, RowWrite, Tables } from "./tables.js";

/** Longest statement accepted, in characters. */
export const SQL_TEXT_MAX = 1024 * 1024;
/** Values in one IN (...) list (each is checked against every candidate record). */
export const SQL_IN_VALUES_MAX = 1000;

type Token =
  | { kind: "word"; text: string; upper: string }
  | { kind: "ident"; text: string }
  | { kind: "string"; text: string }
  | { kind: "number"; value: number }
  | { kind: "punct"; text: string };

function tokenize(sql: string): Token[] {
  if (sql.length > SQL_TEXT_MAX) throw new TableError("LIMIT", `SQL longer than ${SQL_TEXT_MAX} characters`);
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let text = "";
      i++;
      for (;;) {
        if (i >= sql.length) throw new TableError("INVALID", "unterminated string literal");
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += sql[i++];
      }
      out.push({ kind: "string", text });
    } else if (c === '"' || c === "`") {
      const end = sql.indexOf(c, i + 1);
      if (end < 0) throw new TableError("INVALID", "unterminated quoted identifier");
      out.push({ kind: "ident", text: sql.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === "-" && /^-(\d|\.\d)/.test(sql.slice(i, i + 3)) && !endsValue(out))) {
      const m = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(sql.slice(i));
      if (!m) throw new TableError("INVALID", `malformed number at ${JSON.stringify(sql.slice(i, i + 10))}`);
      out.push({ kind: "number", value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))!;
      out.push({ kind: "word", text: m[0], upper: m[0].toUpperCase() });
      i += m[0].length;
    } else {
      const two = sql.slice(i, i + 2);
      if (["<=", ">=", "<>", "!="].includes(two)) {
        out.push({ kind: "punct", text: two });
        i += 2;
      } else if ("(),.*=<>;".includes(c)) {
        out.push({ kind: "punct", text: c });
        i++;
      } else throw new TableError("INVALID", `unexpected character ${JSON.stringify(c)} in SQL`);
    }
  }
  while (out.length > 0 && isPunct(out[out.length - 1], ";")) out.pop();
  return out;
}

function endsValue(out: Token[]): boolean {
  const t = out[out.length - 1];
  return (
    t !== undefined && (t.kind === "number" || t.kind === "ident" || (t.kind === "punct" && t.text === ")"))
  );
}

function isPunct(t: Token | undefined, p: string): boolean {
  return t?.kind === "punct" && t.text === p;
}

function isWord(t: Token | undefined, w: string): boolean {
  return t?.kind === "word" && t.upper === w;
}

const REFUSED = ["OR", "JOIN", "GROUP", "HAVING", "UNION", "COUNT", "SUM", "AVG", "MIN", "MAX", "DISTINCT"];

class Parser {
  private i = 0;
  constructor(private readonly t: Token[]) {}

  peek(): Token | undefined {
    return this.t[this.i];
  }

  next(): Token {
    const tok = this.t[this.i++];
    if (!tok) throw new TableError("INVALID", "unexpected end of SQL");
    return tok;
  }

  done(): boolean {
    return this.i >= this.t.length;
  }

  expectWord(w: string): void {
    const tok = this.next();
    if (!isWord(tok, w)) throw new TableError("INVALID", `expected ${w} in SQL, got ${describe(tok)}`);
  }

  acceptWord(w: string): boolean {
    if (isWord(this.peek(), w)) {
      this.i++;
      return true;
    }
    return false;
  }

  expectPunct(p: string): void {
    const tok = this.next();
    if (!isPunct(tok, p)) throw new TableError("INVALID", `expected ${p} in SQL, got ${describe(tok)}`);
  }

  acceptPunct(p: string): boolean {
    if (isPunct(this.peek(), p)) {
      this.i++;
      return true;
    }
    return false;
  }

  identifier(): string {
    const tok = this.next();
    if (tok.kind === "ident") return tok.text;
    if (tok.kind === "word") {
      if (REFUSED.includes(tok.upper)) throw refused(tok.upper);
      return tok.text;
    }
    throw new TableError("INVALID", `expected a name in SQL, got ${describe(tok)}`);
  }

  /** [database.]table; the database, if named, must be `data`. */
  tableName(): string {
    const first = this.identifier();
    if (!this.acceptPunct(".")) return first;
    if (first !== "data")
      throw new TableError("INVALID", `OnceDB has one database, "data"; got ${JSON.stringify(first)}`);
    return this.identifier();
  }

  value(): Scalar {
    const tok = this.next();
    if (tok.kind === "string") return tok.text;
    if (tok.kind === "number") return tok.value;
    if (isWord(tok, "TRUE")) return true;
    if (isWord(tok, "FALSE")) return false;
    if (isWord(tok, "NULL")) return null;
    throw new TableError("INVALID", `expected a value in SQL, got ${describe(tok)}`);
  }

  where(): Condition[] {
    if (!this.acceptWord("WHERE")) return [];
    const conds: Condition[] = [];
    do {
      conds.push(...this.condition());
      if (conds.length > QueryLimits.conditionsMax)
        throw new TableError("LIMIT", `more than ${QueryLimits.conditionsMax} conditions`);
      if (isWord(this.peek(), "OR")) throw refused("OR");
    } while (this.acceptWord("AND"));
    return conds;
  }

  condition(): Condition[] {
    if (this.acceptPunct("(")) throw refused("parenthesized conditions");
    const attr = this.identifier();
    const tok = this.next();
    const cond = (op: Op, values: Scalar[]): Condition => ({
      attr,
      op,
      text: String(values[0]),
      convert: false,
      values,
    });
    if (tok.kind === "punct") {
      const ops: Record<string, Op> = {
        "=": "eq",
        "!=": "ne",
        "<>": "ne",
        "<": "lt",
        "<=": "le",
        ">": "gt",
        ">=": "ge",
      };
      const op = ops[tok.text];
      if (!op) throw new TableError("INVALID", `unexpected ${tok.text} after ${attr}`);
      return [cond(op, [this.value()])];
    }
    if (isWord(tok, "IS")) {
      const not = this.acceptWord("NOT");
      this.expectWord("NULL");
      return [cond(not ? "ne" : "eq", [null])];
    }
    if (isWord(tok, "IN")) {
      this.expectPunct("(");
      const values: Scalar[] = [this.value()];
      while (this.acceptPunct(",")) {
        values.push(this.value());
        if (values.length > SQL_IN_VALUES_MAX)
          throw new TableError("LIMIT", `more than ${SQL_IN_VALUES_MAX} values in one IN list`);
      }
      this.expectPunct(")");
      return [cond("eq", values)];
    }
    if (isWord(tok, "BETWEEN")) {
      const low = this.value();
      this.expectWord("AND");
      return [cond("ge", [low]), cond("le", [this.value()])];
    }
    if (isWord(tok, "LIKE")) {
      const pattern = this.value();
      if (typeof pattern !== "string") throw new TableError("INVALID", "LIKE takes a string pattern");
      const inner = pattern.replace(/^%/, "").replace(/%$/, "");
      if (/[%_]/.test(inner))
        throw new TableError("INVALID", `LIKE supports 'x%', '%x' and '%x%' patterns; got '${pattern}'`);
      const starts = pattern.startsWith("%");
      const ends = pattern.length > 1 && pattern.endsWith("%");
      const op: Op = starts && ends ? "ct" : starts ? "ew" : ends ? "sw" : "eq";
      return [cond(op, [inner])];
    }
    throw new TableError("INVALID", `unexpected ${describe(tok)} after ${attr}`);
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case "word":
    case "ident":
    case "punct":
      return JSON.stringify(tok.text);
    case "string":
      return `'${tok.text}'`;
    case "number":
      return String(tok.value);
  }
}

function refused(what: string): TableError {
  return new TableError(
    "INVALID",
    `SQL ${what} is not supported; see the supported forms in the docs (one table, AND-ed conditions)`,
  );
}

export type SqlStatement =
  | { kind: "select"; table: string; query: Query; star: boolean }
  | { kind: "insert"; table: string; rows: RecordInputValue[] }
  | { kind: "update"; table: string; set: RecordInputValue; where: Condition[] }
  | { kind: "delete"; table: string; where: Condition[] };

export function parseSql(sql: string): SqlStatement {
  const p = new Parser(tokenize(sql));
  const verb = p.next();
  let stmt: SqlStatement;
  if (isWord(verb, "SELECT")) stmt = parseSelect(p);
  else if (isWord(verb, "INSERT")) {
    p.expectWord("INTO");
    const table = p.tableName();
    p.expectPunct("(");
    const cols = [p.identifier()];
    while (p.acceptPunct(",")) cols.push(p.identifier());
    p.expectPunct(")");
    p.expectWord("VALUES");
    const rows: RecordInputValue[] = [];
    do {
      p.expectPunct("(");
      const values = [p.value()];
      while (p.acceptPunct(",")) values.push(p.value());
      p.expectPunct(")");
      if (values.length !== cols.length)
        throw new TableError("INVALID", `${cols.length} columns but ${values.length} values in a row`);
      rows.push(Object.fromEntries(cols.map((c, i) => [c, values[i]])));
    } while (p.acceptPunct(","));
    stmt = { kind: "insert", table, rows };
  } else if (isWord(verb, "UPDATE")) {
    const table = p.tableName();
    p.expectWord("SET");
    const set: RecordInputValue = {};
    do {
      const col = p.identifier();
      p.expectPunct("=");
      set[col] = p.value();
    } while (p.acceptPunct(","));
    stmt = { kind: "update", table, set, where: p.where() };
  } else if (isWord(verb, "DELETE")) {
    p.expectWord("FROM");
    const table = p.tableName();
    stmt = { kind: "delete", table, where: p.where() };
  } else {
    throw new TableError(
      "INVALID",
      `SQL statement ${describe(verb)}: SELECT, INSERT, UPDATE and DELETE are supported`,
    );
  }
  if (!p.done()) throw new TableError("INVALID", `unexpected ${describe(p.peek()!)} in SQL`);
  return stmt;
}

function parseSelect(p: Parser): SqlStatement {
  let star = false;
  const cols: string[] = [];
  if (p.acceptPunct("*")) star = true;
  else {
    do cols.push(p.identifier());
    while (p.acceptPunct(","));
  }
  p.expectWord("FROM");
  const table = p.tableName();
  if (isWord(p.peek(), "JOIN") || isPunct(p.peek(), ",")) throw refused("JOIN");
  const conditions = p.where();
  const sort: SortKey[] = [];
  if (p.acceptWord("ORDER")) {
    p.expectWord("BY");
    do {
      const attr = p.identifier();
      const desc = p.acceptWord("DESC");
      if (!desc) p.acceptWord("ASC");
      sort.push({ attr, desc });
    } while (p.acceptPunct(","));
  }
  let limit: number | undefined;
  let offset = 0;
  if (p.acceptWord("LIMIT")) {
    limit = count(p.value(), "LIMIT");
    if (p.acceptWord("OFFSET")) offset = count(p.value(), "OFFSET");
  }
  return {
    kind: "select",
    table,
    star,
    query: { ...EMPTY_QUERY, conditions, sort, limit, offset, select: star ? undefined : cols },
  };
}

function count(v: Scalar, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new TableError("INVALID", `${what} takes a non-negative integer`);
  return v;
}

/**
 * Runs a statement. SELECT answers the records (absent declared attributes as null, as
 * HarperDB's SQL does); writes answer HarperDB's messages. Each write statement is one commit.
 */
export async function runSql(tables: Tables, stmt: SqlStatement): Promise<unknown> {
  switch (stmt.kind) {
    case "select": {
      const rows = JSON.parse(tables.query(stmt.table, stmt.query).json) as RecordInputValue[];
      const declared = tables.definition(stmt.table).attributes.map((a) => a.name);
      const cols = stmt.star ? declared : (stmt.query.select ?? []);
      return rows.map((r) => {
        const out: RecordInputValue = {};
        for (const c of cols) out[c] = r[c] ?? null;
        if (stmt.star) for (const [k, v] of Object.entries(r)) if (!(k in out)) out[k] = v;
        return out;
      });
    }
    case "insert": {
      const out = await tables.write(
        stmt.table,
        stmt.rows.map((record) => ({ kind: "insert", record, skipExisting: true }) as RowWrite),
      );
      const inserted = out.filter((o) => o.version !== null).map((o) => o.id);
      return {
        message: `inserted ${inserted.length} of ${stmt.rows.length} records`,
        inserted_hashes: inserted,
        skipped_hashes: out.filter((o) => o.version === null).map((o) => o.id),
      };
    }
    case "update": {
      const pk = tables.definition(stmt.table).primaryKey;
      if (pk in stmt.set) throw new TableError("INVALID", `UPDATE cannot change the primary key ${pk}`);
      const ids = matchingIds(tables, stmt.table, pk, stmt.where);
      const out = await tables.write(
        stmt.table,
        ids.map((id) => ({ kind: "patch", id, changes: stmt.set, skipMissing: true }) as RowWrite),
      );
      const updated = out.filter((o) => o.version !== null).map((o) => o.id);
      return {
        message: `updated ${updated.length} of ${ids.length} records`,
        update_hashes: updated,
        skipped_hashes: [],
      };
    }
    case "delete": {
      const n = await tables.deleteMatching(stmt.table, { ...EMPTY_QUERY, conditions: stmt.where });
      return { message: `${n} records successfully deleted`, deleted: n };
    }
  }
}

function matchingIds(tables: Tables, table: string, pk: string, where: Condition[]): unknown[] {
  const { json } = tables.query(table, {
    ...EMPTY_QUERY,
    conditions: where,
    select: [pk],
    selectValue: true,
  });
  return JSON.parse(json) as unknown[];
}
