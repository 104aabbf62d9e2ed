/**
 * Queries on a table: HarperDB's URL query language (FIQL comparisons, `limit()`, `select()`,
 * `sort()`) parsed into a `Query`, and the per-record test that a query's conditions apply.
 *
 * Syntax accepted (every condition must hold; OR and grouping are refused with an error):
 *   attr=value       strict equality: the value is read as the attribute's declared type, and as
 *                    a string when the attribute is undeclared (HarperDB's `=`)
 *   attr==value      equality with conversion: an undeclared attribute matches null, numbers and
 *                    booleans written as text ("5" matches 5); `attr==abc*` is "starts with"
 *   attr===value, attr!==value, attr!=value
 *   attr=op=value    op: eq, ne, lt, le, gt, ge, sw (starts with), ew (ends with), ct (contains)
 *   attr=gt=1&lt=9   a range: a bare lt/le/gt/ge continues the previous attribute
 *   limit(n), limit(start,end) (records start..end-1), select(a,b) (objects), select(a) (bare
 *   values), select([a]) (objects), sort(+a,-b)
 * Values are percent-decoded; `+` is a literal plus (RFC 3986), not a space.
 */
import { type AttributeType, urlValueCandidates } from "./definition.js";
import { TableError } from "./errors.js";

export type Op = "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "sw" | "ew" | "ct";
const FIQL_OPS: readonly Op[] = ["eq", "ne", "lt", "le", "gt", "ge", "sw", "ew", "ct"];
const RANGE_OPS: readonly Op[] = ["lt", "le", "gt", "ge"];

export interface Condition {
  readonly attr: string;
  readonly op: Op;
  /** The value as written (decoded). */
  readonly text: string;
  /** Whether an undeclared attribute reads the text as null/number/boolean too (FIQL). */
  readonly convert: boolean;
  /** Values given as such (JSON operations), used instead of reading `text`. */
  readonly values?: readonly Scalar[];
}

export interface SortKey {
  readonly attr: string;
  readonly desc: boolean;
}

export interface Query {
  readonly conditions: readonly Condition[];
  readonly offset: number;
  readonly limit: number | undefined;
  readonly sort: readonly SortKey[];
  readonly select: readonly string[] | undefined;
  /** select(a) with one attribute and no brackets: each result is the bare value (HarperDB). */
  readonly selectValue?: boolean;
}

export type Scalar = string | number | boolean | null;

/** Named limits of a query. */
export const QueryLimits = {
  conditionsMax: 32,
  /** Longest query string accepted, in characters. */
  textMax: 8192,
} as const;

export const EMPTY_QUERY: Query = {
  conditions: [],
  offset: 0,
  limit: undefined,
  sort: [],
  select: undefined,
};

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new TableError("INVALID", `malformed percent-encoding in ${JSON.stringify(s)}`);
  }
}

function nonNegativeInt(s: string, what: string): number {
  const t = s.trim();
  if (!/^\d+$/.test(t))
    throw new TableError("INVALID", `${what} must be a non-negative integer, got ${JSON.stringify(s)}`);
  return Number(t);
}

/** Parses the part of a URL after `?`. */
export function parseUrlQuery(qs: string): Query {
  if (qs.length > QueryLimits.textMax)
    throw new TableError("LIMIT", `query string longer than ${QueryLimits.textMax} characters`);
  const conditions: Condition[] = [];
  let offset = 0;
  let limit: number | undefined;
  let sort: SortKey[] = [];
  let select: string[] | undefined;
  let selectValue = false;
  for (const part of qs.split("&")) {
    if (part === "") continue;
    if (part.includes("|") || part.startsWith("("))
      throw new TableError(
        "INVALID",
        "OR (|) and grouped conditions are not supported; every condition must hold",
      );
    const call = /^([a-z]+)\((.*)\)$/.exec(part);
    if (call) {
      const [, fn, rawArgs] = call as unknown as [string, string, string];
      const args = rawArgs === "" ? [] : rawArgs.split(",").map(decode);
      switch (fn) {
        case "limit":
          if (args.length === 1) limit = nonNegativeInt(args[0]!, "limit");
          else if (args.length === 2) {
            offset = nonNegativeInt(args[0]!, "limit start");
            const end = nonNegativeInt(args[1]!, "limit end");
            limit = Math.max(0, end - offset);
          } else throw new TableError("INVALID", "limit takes (count) or (start,end)");
          continue;
        case "select":
          if (args.length === 0) throw new TableError("INVALID", "select needs at least one attribute");
          selectValue = args.length === 1 && !args[0]!.trim().startsWith("[");
          select = args.map((a) => a.trim().replace(/^\[|\]$/g, "")).filter((a) => a !== "");
          continue;
        case "sort":
          if (args.length === 0) throw new TableError("INVALID", "sort needs at least one attribute");
          sort = args.map((a) => {
            const t = a.trim();
            if (t.startsWith("-")) return { attr: t.slice(1), desc: true };
            return { attr: t.startsWith("+") ? t.slice(1) : t, desc: false };
          });
          continue;
        default:
          throw new TableError("INVALID", `unknown query function ${fn}(); known: limit, select, sort`);
      }
    }
    conditions.push(parseCondition(part, conditions[conditions.length - 1]));
    if (conditions.length > QueryLimits.conditionsMax)
      throw new TableError("LIMIT", `more than ${QueryLimits.conditionsMax} conditions`);
  }
  return { conditions, offset, limit, sort, select, selectValue };
}

function parseCondition(part: string, prev: Condition | undefined): Condition {
  const eq = part.indexOf("=");
  if (eq <= 0) {
    // "!=" right after the name: attr!=value
    throw new TableError("INVALID", `cannot read condition ${JSON.stringify(part)}: expected attr=value`);
  }
  let name = part.slice(0, eq);
  let rest = part.slice(eq + 1);
  let op: Op = "eq";
  let convert = false;
  if (name.endsWith("!")) {
    name = name.slice(0, -1);
    op = "ne";
    convert = true;
    if (rest.startsWith("=")) {
      rest = rest.slice(1);
      convert = false;
    }
  } else if (rest.startsWith("==")) {
    rest = rest.slice(2);
  } else if (rest.startsWith("=")) {
    rest = rest.slice(1);
    convert = true;
    if (rest.endsWith("*")) {
      op = "sw";
      rest = rest.slice(0, -1);
    }
  } else {
    const fiql = /^([a-z]+)=(.*)$/s.exec(rest);
    if (fiql && FIQL_OPS.includes(fiql[1] as Op)) {
      op = fiql[1] as Op;
      rest = fiql[2]!;
      convert = true;
    }
  }
  const decodedName = decode(name);
  // A bare range operator continues the previous condition's attribute: price=gt=1&lt=9
  if (
    op === "eq" &&
    !convert &&
    RANGE_OPS.includes(decodedName as Op) &&
    prev &&
    RANGE_OPS.includes(prev.op)
  ) {
    return { attr: prev.attr, op: decodedName as Op, text: decode(rest), convert: true };
  }
  if (decodedName === "")
    throw new TableError("INVALID", `condition ${JSON.stringify(part)} has no attribute`);
  return { attr: decodedName, op, text: decode(rest), convert };
}

/** The values a condition's text stands for, given its attribute's declared type. */
export function conditionValues(c: Condition, type: AttributeType | undefined): Scalar[] {
  if (c.values) return [...c.values];
  if (type !== undefined && type !== "Any") return urlValueCandidates(type, c.text);
  if (!c.convert || c.op === "sw" || c.op === "ew" || c.op === "ct") return [c.text];
  const out = urlValueCandidates(undefined, c.text);
  // Range comparisons take one reading: the number when the text is one.
  if (RANGE_OPS.includes(c.op)) return [out.find((v) => typeof v === "number") ?? c.text];
  return out;
}

/**
 * Compares strings in code point order, the order of their UTF-8 bytes, which is how SQLite
 * orders text (so index ranges and these checks agree). JS's `<` compares UTF-16 units, which
 * puts U+E000..U+FFFF after the astral characters; this fixes up the first differing unit.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF in code point order.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Orders two values of one kind (numbers with numbers, strings with strings); else undefined. */
function order(a: unknown, b: Scalar): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  return undefined;
}

function scalarTest(op: Op, v: unknown, values: readonly Scalar[]): boolean {
  switch (op) {
    case "eq":
      return values.some((x) => (x === null ? v === null || v === undefined : v === x));
    case "ne":
      return !scalarTest("eq", v, values);
    case "sw":
    case "ew":
    case "ct": {
      if (typeof v !== "string") return false;
      const t = String(values[0] ?? "");
      return op === "sw" ? v.startsWith(t) : op === "ew" ? v.endsWith(t) : v.includes(t);
    }
    default: {
      const d = order(v, values[0] ?? null);
      if (d === undefined) return false;
      return op === "lt" ? d < 0 : op === "le" ? d <= 0 : op === "gt" ? d > 0 : d >= 0;
    }
  }
}

/** Whether a record's attribute value satisfies a condition (any element of an array value). */
export function valueMatches(op: Op, v: unknown, values: readonly Scalar[]): boolean {
  if (Array.isArray(v)) {
    if (op === "ne") return !v.some((e) => scalarTest("eq", e, values));
    return v.some((e) => scalarTest(op, e, values));
  }
  return scalarTest(op, v, values);
}

/** Compares two records' values for sort(): undefined/null first, then numbers, then strings. */
export function compareForSort(a: unknown, b: unknown): number {
  const rank = (v: unknown) =>
    v === undefined || v === null
      ? 0
      : typeof v === "boolean"
        ? 1
        : typeof v === "number"
          ? 2
          : typeof v === "string"
            ? 3
            : 4;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 2) return (a as number) - (b as number);
  if (ra === 3) return compareStrings(a as string, b as string);
  if (ra === 1) return Number(a) - Number(b);
  return 0;
}
