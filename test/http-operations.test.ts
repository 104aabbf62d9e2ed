/**
 * HarperDB's Operations API on POST /: table definitions (create, drop, describe), writes
 * (insert, upsert, update, delete) and searches (by id, by value, by conditions), against a real
 * server. Every refused request is a 4xx with a JSON {"error"} body and leaves the server up.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { operation } from "./helpers/http.js";
import { startServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

describe("HTTP Operations API", { timeout: 60_000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ http: true });
  });

  after(async () => {
    await server?.dispose();
  });

  const op = (body: unknown) => operation(server.httpUrl, body);

  async function ok(body: Json): Promise<unknown> {
    const r = await op(body);
    assert.equal(r.status, 200, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Asserts the operation is refused with `status` and an error matching `re`. */
  async function refused(body: unknown, status: number, re: RegExp): Promise<void> {
    const r = await op(body);
    assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
    const b = r.body as Json;
    assert.equal(typeof b, "object");
    assert.deepEqual(Object.keys(b), ["error"]);
    assert.match(String(b.error), re);
  }

  async function get(path: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${server.httpUrl}${path}`);
    return { status: res.status, body: await res.json() };
  }

  it("create_table answers HarperDB's message; describe_table describes it", async () => {
    assert.deepEqual(
      await ok({
        operation: "create_table",
        table: "ops_items",
        attributes: [
          { name: "grp", type: "Int", indexed: true },
          { name: "name", type: "String" },
          { name: "score", type: "Float" },
          { name: "ok", type: "Boolean" },
        ],
      }),
      { message: "table 'data.ops_items' successfully created." },
    );
    assert.deepEqual(await ok({ operation: "describe_table", table: "ops_items" }), {
      schema: "data",
      name: "ops_items",
      hash_attribute: "id",
      attributes: [
        { attribute: "id", type: "ID", is_primary_key: true },
        { attribute: "grp", type: "Int", indexed: true },
        { attribute: "name", type: "String", indexed: false },
        { attribute: "score", type: "Float", indexed: false },
        { attribute: "ok", type: "Boolean", indexed: false },
      ],
      record_count: 0,
      topic: "ops_items",
    });
    // database "data" (and its old name, schema) may be given explicitly.
    assert.deepEqual(await ok({ operation: "create_table", database: "data", table: "ops_explicit" }), {
      message: "table 'data.ops_explicit' successfully created.",
    });
    const d = (await ok({ operation: "describe_table", schema: "data", table: "ops_explicit" })) as Json;
    assert.deepEqual(d.attributes, [{ attribute: "id", type: "ID", is_primary_key: true }]);
  });

  it("create_table takes primary_key (or hash_attribute) and declared key types", async () => {
    await ok({
      operation: "create_table",
      table: "ops_people",
      primary_key: "email",
      attributes: [{ name: "age", type: "Int" }],
    });
    const d = (await ok({ operation: "describe_table", table: "ops_people" })) as Json;
    assert.equal(d.hash_attribute, "email");
    assert.deepEqual((d.attributes as Json[])[0], { attribute: "email", type: "ID", is_primary_key: true });
    await ok({
      operation: "create_table",
      table: "ops_numbered",
      hash_attribute: "n",
      attributes: [{ name: "n", type: "Long" }],
    });
    const n = (await ok({ operation: "describe_table", table: "ops_numbered" })) as Json;
    assert.equal(n.hash_attribute, "n");
    assert.deepEqual((n.attributes as Json[])[0], { attribute: "n", type: "Long", is_primary_key: true });
    // The Long key is stored as a number; its URL form is the integer's text.
    await ok({ operation: "upsert", table: "ops_numbered", records: [{ n: 42, v: "x" }] });
    assert.deepEqual(await get("/ops_numbered/42"), { status: 200, body: { n: 42, v: "x" } });
    assert.deepEqual(await ok({ operation: "search_by_id", table: "ops_numbered", ids: [42] }), [
      { n: 42, v: "x" },
    ]);
  });

  it("refuses bad definitions, other databases and duplicates", async () => {
    await refused({ operation: "create_table", table: "ops_items" }, 409, /ops_items already exists/);
    await refused(
      { operation: "create_table", database: "dev", table: "ops_x" },
      400,
      /one database, "data"/,
    );
    await refused({ operation: "create_table", schema: "dev", table: "ops_x" }, 400, /one database/);
    await refused({ operation: "create_table" }, 400, /table is required/);
    await refused({ operation: "create_table", table: "" }, 400, /table is required/);
    await refused({ operation: "create_table", table: 5 }, 400, /table is required/);
    await refused({ operation: "create_table", table: "1abc" }, 400, /must start with a letter/);
    await refused({ operation: "create_table", table: "a.b" }, 400, /must start with a letter/);
    await refused({ operation: "create_table", table: "_x" }, 400, /must start with a letter/);
    await refused({ operation: "create_table", table: `t${"x".repeat(128)}` }, 400, /longer than 128/);
    await refused(
      { operation: "create_table", table: "ops_bad", attributes: [{ name: "a", type: "Integer" }] },
      400,
      /type must be one of ID, String, Int, Long, Float, Boolean, Any/,
    );
    await refused(
      { operation: "create_table", table: "ops_bad", attributes: [{ name: "a" }, { name: "a" }] },
      400,
      /declared twice/,
    );
    await refused(
      { operation: "create_table", table: "ops_bad", attributes: "a" },
      400,
      /attributes must be an array/,
    );
    await refused(
      { operation: "create_table", table: "ops_bad", attributes: [{ name: "a-b" }] },
      400,
      /attribute name "a-b"/,
    );
    await refused(
      { operation: "create_table", table: "ops_bad", attributes: [{ name: "a", indexed: "yes" }] },
      400,
      /indexed must be true or false/,
    );
    await refused(
      {
        operation: "create_table",
        table: "ops_bad",
        primary_key: "k",
        attributes: [{ name: "k", type: "Float" }],
      },
      400,
      /primary key k must be ID, String, Int or Long/,
    );
    await refused({ operation: "create_table", table: "ops_bad", primary_key: "" }, 400, /primary key/);
    // None of the refused definitions left a table behind.
    const all = (await ok({ operation: "describe_all" })) as { data: Json };
    assert.equal("ops_bad" in all.data, false);
    assert.equal("ops_x" in all.data, false);
  });

  it("refuses unknown operations (listing the supported ones) and non-object bodies", async () => {
    const r = await op({ operation: "bogus_op" });
    assert.equal(r.status, 400);
    const message = String((r.body as Json).error);
    assert.match(message, /^unknown or unsupported operation "bogus_op"; supported: /);
    for (const name of [
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
    ])
      assert.ok(message.split("supported: ")[1]!.split(", ").includes(name), name);
    await refused({}, 400, /unknown or unsupported operation undefined/);
    await refused([{ operation: "describe_all" }], 400, /JSON object with an operation/);
    await refused("null", 400, /JSON object with an operation/);
    await refused('"describe_all"', 400, /JSON object with an operation/);
    await refused("{not json", 400, /JSON/);
    // A non-JSON content type is refused too.
    const res = await fetch(`${server.httpUrl}/`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"operation":"describe_all"}',
    });
    assert.equal(res.status, 400);
    assert.match(String(((await res.json()) as Json).error), /JSON object/);
  });

  it("insert skips existing records and generates missing keys", async () => {
    const r = (await ok({
      operation: "insert",
      table: "ops_items",
      records: [
        { id: "a", grp: 1, name: "apple", score: 1.5, ok: true },
        { id: "b", grp: 2, name: "banana" },
        { grp: 3, name: "generated" },
      ],
    })) as Json;
    assert.equal(r.message, "inserted 3 of 3 records");
    const hashes = r.inserted_hashes as string[];
    assert.deepEqual(hashes.slice(0, 2), ["a", "b"]);
    assert.match(hashes[2]!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(r.skipped_hashes, []);
    assert.deepEqual(await get(`/ops_items/${hashes[2]}`), {
      status: 200,
      body: { grp: 3, name: "generated", id: hashes[2] },
    });

    const again = (await ok({
      operation: "insert",
      table: "ops_items",
      records: [
        { id: "a", grp: 99, name: "changed?" },
        { id: "c", grp: 3, name: "cherry" },
      ],
    })) as Json;
    assert.deepEqual(again, {
      message: "inserted 1 of 2 records",
      inserted_hashes: ["c"],
      skipped_hashes: ["a"],
    });
    // The existing record was left as it was.
    assert.deepEqual((await get("/ops_items/a")).body, {
      id: "a",
      grp: 1,
      name: "apple",
      score: 1.5,
      ok: true,
    });
    // A record that repeats a key of the same call is skipped too.
    const dup = (await ok({
      operation: "insert",
      table: "ops_items",
      records: [
        { id: "d", grp: 4, name: "date" },
        { id: "d", grp: 5, name: "second d" },
      ],
    })) as Json;
    assert.deepEqual(dup, {
      message: "inserted 1 of 2 records",
      inserted_hashes: ["d"],
      skipped_hashes: ["d"],
    });
    assert.equal(((await get("/ops_items/d")).body as Json).name, "date");
  });

  it("upsert replaces or creates; a missing key is generated", async () => {
    const r = (await ok({
      operation: "upsert",
      table: "ops_items",
      records: [
        { id: "a", grp: 1, name: "apple2" },
        { id: "e", grp: 5, name: "elderberry" },
        { grp: 6, name: "gen2" },
      ],
    })) as Json;
    assert.equal(r.message, "upserted 3 of 3 records");
    const hashes = r.upserted_hashes as string[];
    assert.deepEqual(hashes.slice(0, 2), ["a", "e"]);
    assert.match(hashes[2]!, /^[0-9a-f-]{36}$/);
    // Upsert replaces the whole record: score and ok are gone.
    assert.deepEqual((await get("/ops_items/a")).body, { id: "a", grp: 1, name: "apple2" });
    assert.deepEqual((await get("/ops_items/e")).body, { id: "e", grp: 5, name: "elderberry" });
    assert.deepEqual((await get(`/ops_items/${hashes[2]}`)).body, { grp: 6, name: "gen2", id: hashes[2] });
  });

  it("update merges into existing records and skips missing ones", async () => {
    const r = (await ok({
      operation: "update",
      table: "ops_items",
      records: [
        { id: "a", score: 2.5, extra: { nested: [1, 2] } },
        { id: "missing", name: "nope" },
        { id: "b", name: null },
      ],
    })) as Json;
    assert.deepEqual(r, {
      message: "updated 2 of 3 records",
      update_hashes: ["a", "b"],
      skipped_hashes: ["missing"],
    });
    assert.deepEqual((await get("/ops_items/a")).body, {
      id: "a",
      grp: 1,
      name: "apple2",
      score: 2.5,
      extra: { nested: [1, 2] },
    });
    // null is stored as null, not as a deletion of the attribute.
    assert.deepEqual((await get("/ops_items/b")).body, { id: "b", grp: 2, name: null });
    assert.equal((await get("/ops_items/missing")).status, 404);
    await refused(
      { operation: "update", table: "ops_items", records: [{ name: "no key" }] },
      400,
      /needs its primary key id/,
    );
  });

  it("delete takes ids or hash_values and reports what was deleted", async () => {
    await ok({
      operation: "upsert",
      table: "ops_items",
      records: [
        { id: "del1", grp: 7 },
        { id: "del2", grp: 7 },
        { id: "del3", grp: 7 },
      ],
    });
    assert.deepEqual(await ok({ operation: "delete", table: "ops_items", ids: ["del1", "nope"] }), {
      message: "1 of 2 records successfully deleted",
      deleted_hashes: ["del1"],
      skipped_hashes: ["nope"],
    });
    assert.deepEqual(await ok({ operation: "delete", table: "ops_items", hash_values: ["del2", "del3"] }), {
      message: "2 of 2 records successfully deleted",
      deleted_hashes: ["del2", "del3"],
      skipped_hashes: [],
    });
    for (const id of ["del1", "del2", "del3"]) assert.equal((await get(`/ops_items/${id}`)).status, 404);
    await refused({ operation: "delete", table: "ops_items" }, 400, /ids is required \(an array\)/);
    await refused({ operation: "delete", table: "ops_items", ids: "del1" }, 400, /ids is required/);
  });

  it("search_by_id returns found records in the order asked, with get_attributes", async () => {
    assert.deepEqual(
      await ok({
        operation: "search_by_id",
        table: "ops_items",
        ids: ["e", "nope", "c"],
        get_attributes: ["*"],
      }),
      [
        { id: "e", grp: 5, name: "elderberry" },
        { id: "c", grp: 3, name: "cherry" },
      ],
    );
    assert.deepEqual(await ok({ operation: "search_by_id", table: "ops_items", hash_values: ["c"] }), [
      { id: "c", grp: 3, name: "cherry" },
    ]);
    assert.deepEqual(
      await ok({
        operation: "search_by_id",
        table: "ops_items",
        ids: ["c", "e"],
        get_attributes: ["name", "absent"],
      }),
      [{ name: "cherry" }, { name: "elderberry" }],
    );
    assert.deepEqual(await ok({ operation: "search_by_id", table: "ops_items", ids: [] }), []);
    await refused(
      { operation: "search_by_id", table: "ops_items", ids: ["c"], get_attributes: "name" },
      400,
      /get_attributes is an array/,
    );
  });

  it("search_by_value: equality, prefix with *, and * for all", async () => {
    const byName = (await ok({
      operation: "search_by_value",
      table: "ops_items",
      search_attribute: "name",
      search_value: "cherry",
    })) as Json[];
    assert.deepEqual(byName, [{ id: "c", grp: 3, name: "cherry" }]);
    // Typed: a number searches the Int index.
    const byGrp = (await ok({
      operation: "search_by_value",
      table: "ops_items",
      search_attribute: "grp",
      search_value: 5,
      get_attributes: ["id"],
    })) as Json[];
    assert.deepEqual(byGrp, [{ id: "e" }]);
    // search_by_value is strict: the text "5" is not the Int 5.
    assert.deepEqual(
      await ok({
        operation: "search_by_value",
        table: "ops_items",
        search_attribute: "grp",
        search_value: "5",
      }),
      [],
    );
    const prefix = (await ok({
      operation: "search_by_value",
      table: "ops_items",
      search_attribute: "name",
      search_value: "ge*",
      get_attributes: ["name"],
    })) as Json[];
    assert.deepEqual(prefix.map((r) => r.name).sort(), ["gen2", "generated"]);
    const all = (await ok({
      operation: "search_by_value",
      table: "ops_items",
      search_attribute: "name",
      search_value: "*",
      get_attributes: ["id"],
    })) as Json[];
    const described = (await ok({ operation: "describe_table", table: "ops_items" })) as Json;
    assert.equal(all.length, described.record_count);
    assert.ok(all.length >= 6);
    await refused(
      { operation: "search_by_value", table: "ops_items", search_value: "x" },
      400,
      /search_attribute is required/,
    );
    await refused(
      { operation: "search_by_value", table: "ops_items", search_attribute: "name", search_value: { a: 1 } },
      400,
      /search_value must be a string, number, boolean or null/,
    );
  });

  it("search_by_conditions: every search_type, limit, offset and sort", async () => {
    await ok({
      operation: "create_table",
      table: "ops_cond",
      attributes: [{ name: "n", type: "Int", indexed: true }],
    });
    const names = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay"];
    await ok({
      operation: "insert",
      table: "ops_cond",
      records: names.map((name, i) => ({ id: `k${i}`, n: i, name })),
    });
    const search = async (conditions: Json[], extra: Json = {}) =>
      (
        (await ok({
          operation: "search_by_conditions",
          table: "ops_cond",
          operator: "and",
          conditions,
          get_attributes: ["n"],
          ...extra,
        })) as Json[]
      ).map((r) => r.n);
    const c = (search_type: string, search_value: unknown, attr = "n") => ({
      search_attribute: attr,
      search_type,
      search_value,
    });
    assert.deepEqual(await search([c("equals", 3)]), [3]);
    assert.deepEqual(await search([c("not_equal", 3)]), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(await search([c("greater_than", 7)]), [8, 9]);
    assert.deepEqual(await search([c("greater_than_equal", 7)]), [7, 8, 9]);
    assert.deepEqual(await search([c("less_than", 2)]), [0, 1]);
    assert.deepEqual(await search([c("less_than_equal", 2)]), [0, 1, 2]);
    assert.deepEqual(await search([c("between", [3, 5])]), [3, 4, 5]);
    assert.deepEqual(await search([c("contains", "e", "name")], { sort: { attribute: "n" } }), [1, 4, 7]);
    assert.deepEqual(await search([c("starts_with", "b", "name")]), [1]);
    assert.deepEqual(await search([c("ends_with", "y", "name")]), [9]);
    // Several conditions must all hold.
    assert.deepEqual(
      await search([c("greater_than", 2), c("contains", "e", "name")], { sort: { attribute: "n" } }),
      [4, 7],
    );
    // Sort, offset and limit.
    assert.deepEqual(
      await search([c("greater_than_equal", 0)], { sort: { attribute: "n", descending: true } }),
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    );
    assert.deepEqual(
      await search([c("greater_than_equal", 0)], {
        sort: { attribute: "n", descending: true },
        offset: 2,
        limit: 3,
      }),
      [7, 6, 5],
    );
    assert.deepEqual(
      await search([c("greater_than_equal", 0)], { sort: { attribute: "name" }, limit: 2 }),
      [0, 1],
    );
    // search_type defaults to equals; no conditions select everything.
    assert.deepEqual(await search([{ search_attribute: "n", search_value: 6 }]), [6]);
    assert.equal((await search([])).length, 10);

    await refused(
      { operation: "search_by_conditions", table: "ops_cond", operator: "or", conditions: [c("equals", 1)] },
      400,
      /operator "and" only/,
    );
    await refused(
      { operation: "search_by_conditions", table: "ops_cond", conditions: [c("like", 1)] },
      400,
      /search_type like: one of equals, not_equal, contains, starts_with, ends_with, greater_than, greater_than_equal, less_than, less_than_equal, between/,
    );
    await refused(
      { operation: "search_by_conditions", table: "ops_cond", conditions: [c("between", [1])] },
      400,
      /between takes search_value \[low, high\]/,
    );
    await refused(
      { operation: "search_by_conditions", table: "ops_cond", conditions: [c("equals", 1)], limit: -1 },
      400,
      /non-negative integers/,
    );
    await refused(
      { operation: "search_by_conditions", table: "ops_cond", conditions: [c("equals", 1)], offset: "x" },
      400,
      /non-negative integers/,
    );
    await refused({ operation: "search_by_conditions", table: "ops_cond" }, 400, /conditions is required/);
  });

  it("search_by_conditions with limit 0 returns nothing", async () => {
    const r = await ok({
      operation: "search_by_conditions",
      table: "ops_cond",
      conditions: [{ search_attribute: "n", search_type: "greater_than_equal", search_value: 0 }],
      limit: 0,
    });
    // BUG: a limit of 0 returns the first matching record.
    assert.deepEqual(r, []);
  });

  it("writes check declared types and record shapes, and a refused call writes nothing", async () => {
    const before = (await ok({ operation: "describe_table", table: "ops_items" })) as Json;
    await refused(
      {
        operation: "insert",
        table: "ops_items",
        records: [
          { id: "t1", grp: 1 },
          { id: "t2", grp: "two" },
        ],
      },
      400,
      /attribute grp must be a Int, got "two"/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: "t3", grp: 2 ** 31 }] },
      400,
      /attribute grp must be a Int/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: "t3", ok: "yes" }] },
      400,
      /attribute ok must be a Boolean/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: "t3", score: "1.5" }] },
      400,
      /attribute score must be a Float/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: "t3", name: 5 }] },
      400,
      /attribute name must be a String/,
    );
    await refused(
      { operation: "update", table: "ops_items", records: [{ id: "a", grp: 1.5 }] },
      400,
      /attribute grp must be a Int/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: { x: 1 } }] },
      400,
      /primary key is a non-empty string or an integer/,
    );
    await refused(
      { operation: "upsert", table: "ops_items", records: [{ id: "" }] },
      400,
      /non-empty string/,
    );
    await refused(
      { operation: "insert", table: "ops_items", records: [1, 2] },
      400,
      /every entry of records/,
    );
    await refused({ operation: "insert", table: "ops_items", records: {} }, 400, /records is required/);
    await refused({ operation: "insert", table: "ops_items" }, 400, /records is required/);
    // The first record of the refused insert (t1) was not written: a call is all or nothing.
    assert.equal((await get("/ops_items/t1")).status, 404);
    assert.equal((await get("/ops_items/t3")).status, 404);
    assert.equal(
      ((await ok({ operation: "describe_table", table: "ops_items" })) as Json).record_count,
      before.record_count,
    );
  });

  it("operations on a missing table are 404; on another database 400", async () => {
    for (const operation of [
      "describe_table",
      "drop_table",
      "insert",
      "upsert",
      "update",
      "delete",
      "search_by_id",
      "search_by_value",
      "search_by_conditions",
    ]) {
      await refused(
        {
          operation,
          table: "ops_nosuch",
          records: [{ id: "x" }],
          ids: ["x"],
          search_attribute: "id",
          search_value: "x",
          conditions: [],
        },
        404,
        /table ops_nosuch does not exist/,
      );
      await refused({ operation, database: "other", table: "ops_items" }, 400, /one database/);
    }
    await refused({ operation: "describe_database", database: "other" }, 400, /one database/);
  });

  it("describe_all and describe_database list every table with its record count", async () => {
    const all = (await ok({ operation: "describe_all" })) as { data: Record<string, Json> };
    assert.deepEqual(Object.keys(all), ["data"]);
    for (const name of ["ops_items", "ops_people", "ops_numbered", "ops_explicit", "ops_cond"])
      assert.equal(all.data[name]?.name, name, name);
    assert.equal(all.data.ops_cond!.record_count, 10);
    assert.deepEqual(all.data.ops_cond, await ok({ operation: "describe_table", table: "ops_cond" }));
    const db = (await ok({ operation: "describe_database" })) as Record<string, Json>;
    assert.deepEqual(db, all.data);
    assert.deepEqual(await ok({ operation: "describe_database", database: "data" }), all.data);
  });

  it("drop_table removes the table and its records; a table made again under the name starts empty", async () => {
    await ok({ operation: "create_table", table: "ops_dropme" });
    await ok({ operation: "upsert", table: "ops_dropme", records: [{ id: "x", v: 1 }] });
    assert.deepEqual(await ok({ operation: "drop_table", table: "ops_dropme" }), {
      message: "successfully deleted table 'data.ops_dropme'",
    });
    await refused({ operation: "describe_table", table: "ops_dropme" }, 404, /does not exist/);
    assert.equal((await get("/ops_dropme/x")).status, 404);
    assert.equal("ops_dropme" in ((await ok({ operation: "describe_all" })) as { data: Json }).data, false);
    await refused({ operation: "drop_table", table: "ops_dropme" }, 404, /does not exist/);
    await ok({ operation: "create_table", table: "ops_dropme" });
    assert.deepEqual(await get("/ops_dropme/"), { status: 200, body: [] });
    assert.equal(((await ok({ operation: "describe_table", table: "ops_dropme" })) as Json).record_count, 0);
    assert.equal((await get("/ops_dropme/x")).status, 404);
  });

  it("the server is still up and consistent after every refusal", async () => {
    const r = (await ok({ operation: "search_by_id", table: "ops_items", ids: ["c"] })) as Json[];
    assert.deepEqual(r, [{ id: "c", grp: 3, name: "cherry" }]);
    assert.equal(server.proc?.exitCode, null);
  });
});
