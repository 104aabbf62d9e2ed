import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TableError } from "./errors.js";
import {
  type Condition,
  compareForSort,
  conditionValues,
  parseUrlQuery,
  QueryLimits,
  valueMatches,
} from "./query.js";

/** Asserts that `fn` throws a TableError with `code` and a message matching `re`. */
function throwsTable(fn: () => unknown, code: TableError["code"], re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TableError, `not a TableError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, re);
    return true;
  });
}

function cond(attr: string, op: Condition["op"], text: string, convert: boolean): Condition {
  return { attr, op, text, convert };
}

describe("parseUrlQuery", () => {
  it("an empty query string has no conditions, no limit, no sort, no select", () => {
    const q = parseUrlQuery("");
    assert.deepEqual(q.conditions, []);
    assert.equal(q.offset, 0);
    assert.equal(q.limit, undefined);
    assert.deepEqual(q.sort, []);
    assert.equal(q.select, undefined);
    // Empty parts (a&&b, a trailing &) are skipped.
    assert.equal(parseUrlQuery("a=1&&b=2&").conditions.length, 2);
  });

  it("reads = as strict, == as converting, === as strict, and ==abc* as a prefix", () => {
    assert.deepEqual(parseUrlQuery("a=5").conditions, [cond("a", "eq", "5", false)]);
    assert.deepEqual(parseUrlQuery("a==5").conditions, [cond("a", "eq", "5", true)]);
    assert.deepEqual(parseUrlQuery("a===5").conditions, [cond("a", "eq", "5", false)]);
    assert.deepEqual(parseUrlQuery("name==ab*").conditions, [cond("name", "sw", "ab", true)]);
    // With a single = the * is part of the value.
    assert.deepEqual(parseUrlQuery("name=ab*").conditions, [cond("name", "eq", "ab*", false)]);
  });

  it("reads != as converting not-equal and !== as strict not-equal", () => {
    assert.deepEqual(parseUrlQuery("a!=5").conditions, [cond("a", "ne", "5", true)]);
    assert.deepEqual(parseUrlQuery("a!==5").conditions, [cond("a", "ne", "5", false)]);
  });

  it("reads every FIQL operator attr=op=value, converting", () => {
    for (const op of ["eq", "ne", "lt", "le", "gt", "ge", "sw", "ew", "ct"] as const) {
      assert.deepEqual(parseUrlQuery(`price=${op}=7`).conditions, [cond("price", op, "7", true)], op);
    }
    // An unknown operator name is not an operator: the whole rest is the value.
    assert.deepEqual(parseUrlQuery("a=xx=5").conditions, [cond("a", "eq", "xx=5", false)]);
  });

  it("a bare lt/le/gt/ge after a range condition continues its attribute", () => {
    assert.deepEqual(parseUrlQuery("price=gt=1&lt=9").conditions, [
      cond("price", "gt", "1", true),
      cond("price", "lt", "9", true),
    ]);
    assert.deepEqual(parseUrlQuery("price=ge=1&le=9&name=x").conditions, [
      cond("price", "ge", "1", true),
      cond("price", "le", "9", true),
      cond("name", "eq", "x", false),
    ]);
    // After an equality (not a range) `lt` is an attribute name like any other.
    assert.deepEqual(parseUrlQuery("a=1&lt=9").conditions, [
      cond("a", "eq", "1", false),
      cond("lt", "eq", "9", false),
    ]);
    // With nothing before it too.
    assert.deepEqual(parseUrlQuery("lt=9").conditions, [cond("lt", "eq", "9", false)]);
  });

  it("percent-decodes names and values; + stays a literal plus", () => {
    assert.deepEqual(parseUrlQuery("na%20me=a%2Fb%26c").conditions, [cond("na me", "eq", "a/b&c", false)]);
    assert.deepEqual(parseUrlQuery("a=b+c").conditions, [cond("a", "eq", "b+c", false)]);
    assert.deepEqual(parseUrlQuery("a=%7C").conditions, [cond("a", "eq", "|", false)]);
    throwsTable(() => parseUrlQuery("a=%ZZ"), "INVALID", /percent-encoding/);
    throwsTable(() => parseUrlQuery("%E0%A4%A=1"), "INVALID", /percent-encoding/);
  });

  it("limit(n) and limit(start,end)", () => {
    assert.deepEqual((({ offset, limit }) => ({ offset, limit }))(parseUrlQuery("limit(5)")), {
      offset: 0,
      limit: 5,
    });
    const r = parseUrlQuery("limit(2,5)");
    assert.equal(r.offset, 2);
    assert.equal(r.limit, 3);
    // An end before the start selects nothing rather than failing.
    assert.equal(parseUrlQuery("limit(5,2)").limit, 0);
    assert.equal(parseUrlQuery("limit( 3 )").limit, 3);
    throwsTable(() => parseUrlQuery("limit(x)"), "INVALID", /limit must be a non-negative integer/);
    throwsTable(() => parseUrlQuery("limit(-1)"), "INVALID", /non-negative integer/);
    throwsTable(() => parseUrlQuery("limit(1.5)"), "INVALID", /non-negative integer/);
    throwsTable(() => parseUrlQuery("limit(1,x)"), "INVALID", /limit end/);
    throwsTable(() => parseUrlQuery("limit()"), "INVALID", /limit takes/);
    throwsTable(() => parseUrlQuery("limit(1,2,3)"), "INVALID", /limit takes/);
  });

  it("select(a) selects a bare value; select(a,b) and select([a]) select objects", () => {
    const one = parseUrlQuery("select(a)");
    assert.deepEqual(one.select, ["a"]);
    assert.equal(one.selectValue, true);
    const two = parseUrlQuery("select(a,b)");
    assert.deepEqual(two.select, ["a", "b"]);
    assert.equal(two.selectValue, false);
    const bracket = parseUrlQuery("select([a])");
    assert.deepEqual(bracket.select, ["a"]);
    assert.equal(bracket.selectValue, false);
    const brackets = parseUrlQuery("select([a,b])");
    assert.deepEqual(brackets.select, ["a", "b"]);
    assert.equal(brackets.selectValue, false);
    assert.deepEqual(parseUrlQuery("select(a,%20b)").select, ["a", "b"]);
    throwsTable(() => parseUrlQuery("select()"), "INVALID", /select needs/);
  });

  it("sort(+a,-b,c) sorts ascending unless -", () => {
    assert.deepEqual(parseUrlQuery("sort(+a,-b,c)").sort, [
      { attr: "a", desc: false },
      { attr: "b", desc: true },
      { attr: "c", desc: false },
    ]);
    throwsTable(() => parseUrlQuery("sort()"), "INVALID", /sort needs/);
  });

  it("functions and conditions combine in any order", () => {
    const q = parseUrlQuery("sort(-n)&grp=5&limit(1,3)&select(id)&name=sw=x");
    assert.deepEqual(q.conditions, [cond("grp", "eq", "5", false), cond("name", "sw", "x", true)]);
    assert.deepEqual(q.sort, [{ attr: "n", desc: true }]);
    assert.equal(q.offset, 1);
    assert.equal(q.limit, 2);
    assert.deepEqual(q.select, ["id"]);
    assert.equal(q.selectValue, true);
  });

  it("refuses OR, grouping, unknown functions and conditions without a name or =", () => {
    throwsTable(() => parseUrlQuery("a=1|b=2"), "INVALID", /OR/);
    throwsTable(() => parseUrlQuery("a=1&b=2|c=3"), "INVALID", /OR/);
    throwsTable(() => parseUrlQuery("(a=1&b=2)"), "INVALID", /grouped/);
    throwsTable(() => parseUrlQuery("count(a)"), "INVALID", /unknown query function count\(\)/);
    throwsTable(() => parseUrlQuery("a"), "INVALID", /expected attr=value/);
    throwsTable(() => parseUrlQuery("=5"), "INVALID", /expected attr=value/);
    throwsTable(() => parseUrlQuery("!=5"), "INVALID", /has no attribute/);
  });

  it("enforces the query text and condition count limits", () => {
    const max = Array.from({ length: QueryLimits.conditionsMax }, (_, i) => `a${i}=1`).join("&");
    assert.equal(parseUrlQuery(max).conditions.length, QueryLimits.conditionsMax);
    throwsTable(() => parseUrlQuery(`${max}&z=1`), "LIMIT", /more than 32 conditions/);
    const long = `a=${"x".repeat(QueryLimits.textMax)}`;
    throwsTable(() => parseUrlQuery(long), "LIMIT", /longer than/);
    assert.equal(parseUrlQuery(long.slice(0, QueryLimits.textMax)).conditions.length, 1);
  });
});

describe("conditionValues", () => {
  it("a strict condition on an undeclared attribute is the text only", () => {
    assert.deepEqual(conditionValues(cond("a", "eq", "5", false), undefined), ["5"]);
    assert.deepEqual(conditionValues(cond("a", "eq", "true", false), "Any"), ["true"]);
  });

  it("a converting equality on an undeclared attribute reads numbers, booleans and null too", () => {
    assert.deepEqual(conditionValues(cond("a", "eq", "5", true), undefined), ["5", 5]);
    assert.deepEqual(conditionValues(cond("a", "ne", "1.5", true), undefined), ["1.5", 1.5]);
    assert.deepEqual(conditionValues(cond("a", "eq", "true", true), "Any"), ["true", true]);
    assert.deepEqual(conditionValues(cond("a", "eq", "false", true), undefined), ["false", false]);
    assert.deepEqual(conditionValues(cond("a", "eq", "null", true), undefined), ["null", null]);
    assert.deepEqual(conditionValues(cond("a", "eq", "abc", true), undefined), ["abc"]);
    // Blank text is not the number 0.
    assert.deepEqual(conditionValues(cond("a", "eq", " ", true), undefined), [" "]);
  });

  it("text operators keep the text; range operators take the number when there is one", () => {
    for (const op of ["sw", "ew", "ct"] as const)
      assert.deepEqual(conditionValues(cond("a", op, "12", true), undefined), ["12"], op);
    for (const op of ["lt", "le", "gt", "ge"] as const) {
      assert.deepEqual(conditionValues(cond("a", op, "12", true), undefined), [12], op);
      assert.deepEqual(conditionValues(cond("a", op, "m", true), undefined), ["m"], op);
    }
  });

  it("a declared type reads the text as that type, converting or not", () => {
    for (const convert of [false, true]) {
      assert.deepEqual(conditionValues(cond("n", "eq", "5", convert), "Int"), [5]);
      assert.deepEqual(conditionValues(cond("n", "eq", "5", convert), "Long"), [5]);
      assert.deepEqual(conditionValues(cond("n", "eq", "5.5", convert), "Int"), []);
      assert.deepEqual(conditionValues(cond("n", "eq", "abc", convert), "Int"), []);
      assert.deepEqual(conditionValues(cond("f", "eq", "5.5", convert), "Float"), [5.5]);
      assert.deepEqual(conditionValues(cond("s", "eq", "5", convert), "String"), ["5"]);
      assert.deepEqual(conditionValues(cond("b", "eq", "true", convert), "Boolean"), [true]);
      assert.deepEqual(conditionValues(cond("b", "eq", "false", convert), "Boolean"), [false]);
      assert.deepEqual(conditionValues(cond("b", "eq", "yes", convert), "Boolean"), []);
      assert.deepEqual(conditionValues(cond("i", "eq", "5", convert), "ID"), ["5", 5]);
      // "05" is not the integer 5's text: as an ID it is a string only.
      assert.deepEqual(conditionValues(cond("i", "eq", "05", convert), "ID"), ["05"]);
    }
  });

  it("values given as such (JSON operations) are used as they are", () => {
    const c: Condition = { attr: "a", op: "eq", text: "5", convert: false, values: [5, null] };
    assert.deepEqual(conditionValues(c, "String"), [5, null]);
    assert.deepEqual(conditionValues(c, undefined), [5, null]);
  });
});

describe("valueMatches", () => {
  it("eq is strict equality with any candidate; null matches null and absent", () => {
    assert.equal(valueMatches("eq", 5, [5]), true);
    assert.equal(valueMatches("eq", 5, ["5"]), false);
    assert.equal(valueMatches("eq", "5", ["5", 5]), true);
    assert.equal(valueMatches("eq", 5, ["5", 5]), true);
    assert.equal(valueMatches("eq", true, [1]), false);
    assert.equal(valueMatches("eq", null, [null]), true);
    assert.equal(valueMatches("eq", undefined, [null]), true);
    assert.equal(valueMatches("eq", undefined, ["x"]), false);
    assert.equal(valueMatches("eq", 5, []), false);
  });

  it("ne is the negation of eq", () => {
    assert.equal(valueMatches("ne", 5, [5]), false);
    assert.equal(valueMatches("ne", 5, ["5"]), true);
    assert.equal(valueMatches("ne", undefined, ["x"]), true);
    assert.equal(valueMatches("ne", null, [null]), false);
  });

  it("sw, ew, ct test strings only", () => {
    assert.equal(valueMatches("sw", "apple", ["ap"]), true);
    assert.equal(valueMatches("sw", "apple", ["pl"]), false);
    assert.equal(valueMatches("ew", "apple", ["le"]), true);
    assert.equal(valueMatches("ew", "apple", ["ap"]), false);
    assert.equal(valueMatches("ct", "apple", ["ppl"]), true);
    assert.equal(valueMatches("ct", "apple", ["x"]), false);
    assert.equal(valueMatches("sw", "apple", [""]), true);
    assert.equal(valueMatches("sw", 123, ["1"]), false);
    assert.equal(valueMatches("ct", null, ["n"]), false);
  });

  it("range operators compare numbers with numbers and strings with strings only", () => {
    assert.equal(valueMatches("gt", 5, [4]), true);
    assert.equal(valueMatches("gt", 5, [5]), false);
    assert.equal(valueMatches("ge", 5, [5]), true);
    assert.equal(valueMatches("lt", 5, [6]), true);
    assert.equal(valueMatches("lt", 5, [5]), false);
    assert.equal(valueMatches("le", 5, [5]), true);
    assert.equal(valueMatches("gt", "b", ["a"]), true);
    assert.equal(valueMatches("lt", "B", ["a"]), true, "code point order");
    // Mixed kinds never match, in either direction.
    assert.equal(valueMatches("gt", "5", [4]), false);
    assert.equal(valueMatches("lt", 5, ["6"]), false);
    assert.equal(valueMatches("ge", null, [0]), false);
    assert.equal(valueMatches("le", undefined, [0]), false);
    assert.equal(valueMatches("gt", true, [0]), false);
    assert.equal(valueMatches("lt", 1, []), false);
  });

  it("an array value matches when any element does; ne when no element equals", () => {
    assert.equal(valueMatches("eq", ["red", "fruit"], ["fruit"]), true);
    assert.equal(valueMatches("eq", ["red", "fruit"], ["blue"]), false);
    assert.equal(valueMatches("ne", ["red", "fruit"], ["fruit"]), false);
    assert.equal(valueMatches("ne", ["red", "fruit"], ["blue"]), true);
    assert.equal(valueMatches("gt", [1, 10], [5]), true);
    assert.equal(valueMatches("gt", [1, 2], [5]), false);
    assert.equal(valueMatches("sw", ["xa", "ab"], ["a"]), true);
    assert.equal(valueMatches("eq", [], ["a"]), false);
    assert.equal(valueMatches("ne", [], ["a"]), true);
  });
});

describe("compareForSort", () => {
  it("orders null/absent, then booleans, numbers, strings, then anything else", () => {
    // (Array.prototype.sort moves undefined to the end itself, so it is compared directly.)
    const values: unknown[] = ["b", { x: 1 }, 10, null, true, "a", -1, false, 2.5, "B", [1]];
    const sorted = [...values].sort(compareForSort);
    assert.deepEqual(sorted, [null, false, true, -1, 2.5, 10, "B", "a", "b", { x: 1 }, [1]]);
    assert.equal(compareForSort(undefined, null), 0);
    assert.ok(compareForSort(undefined, false) < 0);
    assert.ok(compareForSort("a", undefined) > 0);
  });

  it("is antisymmetric and zero for equal values", () => {
    const samples: unknown[] = [null, undefined, false, true, -3, 0, 7, "", "a", "b", {}, []];
    for (const a of samples) {
      assert.equal(compareForSort(a, a), 0, String(a));
      for (const b of samples) {
        const ab = Math.sign(compareForSort(a, b));
        const ba = Math.sign(compareForSort(b, a));
        assert.equal(ab, -ba || 0, `${String(a)} vs ${String(b)}`);
      }
    }
    assert.ok(compareForSort(2, 10) < 0, "numbers compare numerically, not as text");
    assert.ok(compareForSort("10", "2") < 0, "strings compare as text");
  });
});
