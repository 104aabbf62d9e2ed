/**
 * The SQL subset: what each statement parses into, the errors for what is not supported, and the
 * statements run against a real engine (indexes, null-filled SELECT *, one commit per write).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../engine/engine.js";
import type { TableError } from "./errors.js";
import { parseSql, runSql } from "./sql.js";

describe("SQL parsing", () => {
  it("reads SELECT with AND-ed conditions, ORDER BY, LIMIT and OFFSET", () => {
    const s = parseSql(
      "select name, \"age\" FROM data.dog WHERE age >= 2 AND name LIKE 'Ha%' AND owner IS NULL AND id IN (1, 'x') ORDER BY age DESC, name LIMIT 10 OFFSET 5;",
    );
    assert.equal(s.kind, "select");
    if (s.kind !== "select") return;
    assert.equal(s.table, "dog");
    assert.deepEqual(s.query.select, ["name", "age"]);
    assert.deepEqual(
      s.query.conditions.map((c) => [c.attr, c.op, c.values]),
      [
        ["age", "ge", [2]],
        ["name", "sw", ["Ha"]],
        ["owner", "eq", [null]],
        ["id", "eq", [1, "x"]],
      ],
    );
    assert.deepEqual(s.query.sort, [
      { attr: "age", desc: true },
      { attr: "name", desc: false },
    ]);
    assert.equal(s.query.limit, 10);
    assert.equal(s.query.offset, 5);
  });

  it("reads BETWEEN, LIKE forms, negative numbers, escaped quotes, booleans", () => {
    const s = parseSql(
      "SELECT * FROM t WHERE a BETWEEN -1.5 AND 3 AND b LIKE '%x' AND c LIKE '%y%' AND d = 'it''s' AND e <> TRUE",
    );
    assert.equal(s.kind, "select");
    if (s.kind !== "select") return;
    assert.deepEqual(
      s.query.conditions.map((c) => [c.attr, c.op, c.values]),
      [
        ["a", "ge", [-1.5]],
        ["a", "le", [3]],
        ["b", "ew", ["x"]],
        ["c", "ct", ["y"]],
        ["d", "eq", ["it's"]],
        ["e", "ne", [true]],
      ],
    );
  });

  it("reads INSERT, UPDATE and DELETE", () => {
    assert.deepEqual(parseSql("INSERT INTO t (id, n) VALUES ('a', 1), ('b', NULL)"), {
      kind: "insert",
      table: "t",
      rows: [
        { id: "a", n: 1 },
        { id: "b", n: null },
      ],
    });
    const u = parseSql("UPDATE t SET n = 2, s = 'x' WHERE id = 'a'");
    assert.equal(u.kind, "update");
    if (u.kind === "update") assert.deepEqual(u.set, { n: 2, s: "x" });
    const d = parseSql("DELETE FROM t");
    assert.deepEqual(d, { kind: "delete", table: "t", where: [] });
  });

  it("refuses what it does not support, with a reason", () => {
    const refused = (sql: string, re: RegExp) =>
      assert.throws(
        () => parseSql(sql),
        (err: TableError) => err.code === "INVALID" && re.test(err.message),
        sql,
      );
    refused("SELECT * FROM t WHERE a = 1 OR b = 2", /OR/);
    refused("SELECT COUNT(*) FROM t", /COUNT/);
    refused("SELECT * FROM a JOIN b", /JOIN/);
    refused("SELECT * FROM other.t", /one database/);
    refused("DROP TABLE t", /SELECT, INSERT, UPDATE and DELETE/);
    refused("SELECT * FROM t WHERE a LIKE 'x%y'", /LIKE supports/);
    refused("SELECT * FROM t WHERE a = 'open", /unterminated/);
    refused("INSERT INTO t (a, b) VALUES (1)", /2 columns but 1 values/);
    refused("SELECT * FROM t LIMIT -1", /non-negative/);
    refused("SELECT * FROM t garbage", /unexpected/);
  });
});

describe("SQL on a table", () => {
  let dir: string;
  let e: Engine;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-sql-"));
    e = await Engine.open({ dataDir: dir });
    await e.tables.create("dog", {
      attributes: [
        { name: "age", type: "Int", indexed: true },
        { name: "name", type: "String" },
        { name: "owner", type: "String" },
      ],
    });
  });
  after(async () => {
    await e.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("inserts (skipping existing keys), selects with declared attributes filled, updates and deletes", async () => {
    const topic = () => e.partition("dog", 0)!.highWatermark;
    assert.deepEqual(
      await runSql(
        e.tables,
        parseSql("INSERT INTO dog (id, name, age) VALUES ('p', 'Penny', 5), ('k', 'Kato', 9)"),
      ),
      { message: "inserted 2 of 2 records", inserted_hashes: ["p", "k"], skipped_hashes: [] },
    );
    assert.equal(topic(), 2, "two change records");
    assert.deepEqual(
      await runSql(
        e.tables,
        parseSql("INSERT INTO dog (id, name, age) VALUES ('p', 'Other', 1), ('h', 'Harper', 2)"),
      ),
      { message: "inserted 1 of 2 records", inserted_hashes: ["h"], skipped_hashes: ["p"] },
    );
    assert.deepEqual(await runSql(e.tables, parseSql("SELECT * FROM dog WHERE age > 3 ORDER BY age DESC")), [
      { id: "k", age: 9, name: "Kato", owner: null },
      { id: "p", age: 5, name: "Penny", owner: null },
    ]);
    const upd = (await runSql(e.tables, parseSql("UPDATE dog SET owner = 'Zach' WHERE age <= 5"))) as {
      update_hashes: string[];
    };
    assert.deepEqual([...upd.update_hashes].sort(), ["h", "p"]);
    assert.deepEqual(
      await runSql(e.tables, parseSql("SELECT id FROM dog WHERE owner = 'Zach' ORDER BY id")),
      [{ id: "h" }, { id: "p" }],
    );
    assert.deepEqual(await runSql(e.tables, parseSql("DELETE FROM dog WHERE name LIKE '%e%' AND age < 9")), {
      message: "2 records successfully deleted",
      deleted: 2,
    });
    assert.deepEqual(await runSql(e.tables, parseSql("SELECT name FROM dog")), [{ name: "Kato" }]);
    await assert.rejects(
      runSql(e.tables, parseSql("UPDATE dog SET id = 'x'")),
      (err: TableError) => err.code === "INVALID",
    );
    await assert.rejects(
      runSql(e.tables, parseSql("INSERT INTO dog (id, age) VALUES ('z', 'old')")),
      (err: TableError) => err.code === "INVALID" && /Int/.test(err.message),
    );
  });
});
