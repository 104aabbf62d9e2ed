/**
 * Tables over REST in HarperDB's shape, against a real server: GET/PUT/PATCH/POST/DELETE of
 * records, ETags, the URL query language (checked against plain predicates, and the same queries
 * on an indexed and an unindexed copy of one table), bad input (a 4xx with a JSON {"error"}
 * body each, the server staying up), and records surviving a restart and a SIGKILL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { startServer, type TestServer } from "./helpers/server.js";

type Json = Record<string, unknown>;

interface Res {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; undefined when empty. */
  body: unknown;
}

describe("HTTP REST tables", { timeout: 90_000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ http: true });
    await op({
      operation: "create_table",
      table: "items",
      attributes: [
        { name: "grp", type: "Int", indexed: true },
        { name: "name", type: "String" },
        { name: "flag", type: "Boolean" },
      ],
    });
    await op({
      operation: "create_table",
      table: "nums",
      primary_key: "n",
      attributes: [{ name: "n", type: "Int" }],
    });
  });

  after(async () => {
    await server?.dispose();
  });

  async function req(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
        (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    const res = await fetch(`${server.httpUrl}${path}`, init);
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: text === "" ? undefined : JSON.parse(text),
    };
  }

  async function op(body: Json): Promise<unknown> {
    const r = await req("POST", "/", body);
    assert.equal(r.status, 200, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    return r.body;
  }

  async function expect(
    method: string,
    path: string,
    status: number,
    body?: unknown,
    headers?: Record<string, string>,
  ) {
    const r = await req(method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path} -> ${r.status} ${r.text}`);
    return r;
  }

  async function write(method: string, path: string, body: unknown, status: number): Promise<Res> {
    return expect(method, path, status, body);
  }

  /** Asserts a request is refused with `status` and a JSON {"error"} body matching `re`. */
  async function refused(
    method: string,
    path: string,
    status: number,
    re: RegExp,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<void> {
    const r = await expect(method, path, status, body, headers);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/, `${method} ${path}`);
    assert.deepEqual(Object.keys(r.body as Json), ["error"], `${method} ${path}: ${r.text}`);
    assert.match(String((r.body as Json).error), re, `${method} ${path}`);
  }

  async function getJson(path: string): Promise<unknown> {
    return (await expect("GET", path, 200)).body;
  }

  it("GET /T describes the table", async () => {
    assert.deepEqual(await getJson("/items"), {
      name: "items",
      primaryKey: "id",
      attributes: [
        { name: "id", type: "ID", indexed: false },
        { name: "grp", type: "Int", indexed: true },
        { name: "name", type: "String", indexed: false },
        { name: "flag", type: "Boolean", indexed: false },
      ],
      records: 0,
      topic: "items",
    });
    assert.deepEqual(await getJson("/items/"), []);
  });

  it("PUT creates and replaces; GET returns the record with its version as ETag", async () => {
    const put = await write("PUT", "/items/a", { grp: 1, name: "alpha", extra: [1, "x"] }, 204);
    assert.equal(put.text, "");
    const got = await expect("GET", "/items/a", 200);
    // The URL's id is written into the record's primary key.
    assert.deepEqual(got.body, { grp: 1, name: "alpha", extra: [1, "x"], id: "a" });
    assert.match(got.headers.get("content-type") ?? "", /^application\/json/);
    const etag = got.headers.get("etag");
    assert.match(etag ?? "", /^"\d+"$/);
    // Same version: 304 without a body; the ETag is sent again.
    const same = await expect("GET", "/items/a", 304, undefined, { "if-none-match": etag! });
    assert.equal(same.text, "");
    assert.equal(same.headers.get("etag"), etag);
    // PUT replaces the whole record (not a merge), and moves the version on.
    await write("PUT", "/items/a", { id: "a", grp: 2 }, 204);
    const again = await expect("GET", "/items/a", 200, undefined, { "if-none-match": etag! });
    assert.deepEqual(again.body, { id: "a", grp: 2 });
    const etag2 = again.headers.get("etag")!;
    assert.ok(Number(JSON.parse(etag2)) > Number(JSON.parse(etag!)), `${etag2} after ${etag}`);
    assert.equal((await req("GET", "/items/a", undefined, { "if-none-match": etag2 })).status, 304);
    // The description counts it.
    assert.equal(((await getJson("/items")) as Json).records, 1);
  });

  it("PATCH merges into an existing record; a missing one is 404", async () => {
    await write("PUT", "/items/p1", { grp: 1, name: "before", keep: true }, 204);
    const v1 = (await req("GET", "/items/p1")).headers.get("etag");
    await write("PATCH", "/items/p1", { name: "after", added: { x: 1 }, keep: null }, 204);
    const r = await expect("GET", "/items/p1", 200);
    assert.deepEqual(r.body, { grp: 1, name: "after", keep: null, id: "p1", added: { x: 1 } });
    assert.notEqual(r.headers.get("etag"), v1);
    // The key may be repeated unchanged, not changed.
    await write("PATCH", "/items/p1", { id: "p1", n: 2 }, 204);
    assert.equal(((await getJson("/items/p1")) as Json).n, 2);
    await refused("PATCH", "/items/p1", 400, /primary key id of a record cannot change/, { id: "p2" });
    await refused("PATCH", "/items/nope", 404, /no record with id nope in items/, { x: 1 });
    assert.equal((await req("GET", "/items/nope")).status, 404);
    await refused("PATCH", "/items/p1", 400, /attribute grp must be a Int/, { grp: "one" });
    assert.deepEqual((await getJson("/items/p1")) as Json, {
      grp: 1,
      name: "after",
      keep: null,
      id: "p1",
      added: { x: 1 },
      n: 2,
    });
  });

  it("POST /T/ creates: 201, Location and a JSON string body; the key is generated when absent", async () => {
    const gen = await write("POST", "/items/", { grp: 3, name: "generated" }, 201);
    const id = gen.body as string;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(gen.headers.get("location"), id);
    assert.match(gen.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await getJson(`/items/${id}`), { grp: 3, name: "generated", id });

    const given = await write("POST", "/items/", { id: "a b/c?d", name: "odd id" }, 201);
    assert.equal(given.body, "a b/c?d");
    const location = given.headers.get("location")!;
    assert.equal(location, "a%20b%2Fc%3Fd");
    // Resolved against the collection's URL, Location is the record's URL.
    const url = new URL(location, `${server.httpUrl}/items/`);
    assert.equal(url.pathname, "/items/a%20b%2Fc%3Fd");
    assert.deepEqual(await getJson(url.pathname), { id: "a b/c?d", name: "odd id" });

    await refused("POST", "/items/", 409, /a record with id a exists in items/, { id: "a", grp: 9 });
    assert.deepEqual(await getJson("/items/a"), { id: "a", grp: 2 });
    const numbered = await write("POST", "/nums/", { n: 12, v: "twelve" }, 201);
    assert.equal(numbered.body, "12");
    assert.equal(numbered.headers.get("location"), "12");
    assert.deepEqual(await getJson("/nums/12"), { n: 12, v: "twelve" });
  });

  it("POST /T/<id> is 405 with Allow", async () => {
    const r = await write("POST", "/items/a", { grp: 1 }, 405);
    assert.equal(r.headers.get("allow"), "GET, PUT, PATCH, DELETE");
    assert.match(String((r.body as Json).error), /POST \/items\//);
    assert.deepEqual(await getJson("/items/a"), { id: "a", grp: 2 });
  });

  it("DELETE /T/<id> answers true, then 404", async () => {
    await write("PUT", "/items/d1", { grp: 4 }, 204);
    const r = await expect("DELETE", "/items/d1", 200);
    assert.equal(r.body, true);
    await refused("GET", "/items/d1", 404, /no record d1 in items/);
    await refused("DELETE", "/items/d1", 404, /no record d1 in items/);
    // A deleted record can be created again.
    await write("POST", "/items/", { id: "d1", grp: 5 }, 201);
    assert.deepEqual(await getJson("/items/d1"), { id: "d1", grp: 5 });
  });

  it("DELETE /T/?query deletes what matches and answers the count", async () => {
    for (let i = 0; i < 6; i++) await write("PUT", `/items/dq${i}`, { grp: 50 + (i % 2), i }, 204);
    assert.deepEqual(await getJson("/items/?grp=50&select(id)"), ["dq0", "dq2", "dq4"]);
    assert.deepEqual((await expect("DELETE", "/items/?grp=50", 200)).body, { deleted: 3 });
    assert.deepEqual(await getJson("/items/?grp=50"), []);
    assert.deepEqual(await getJson("/items/?grp=51&select(id)"), ["dq1", "dq3", "dq5"]);
    // limit() bounds what is deleted.
    assert.deepEqual((await expect("DELETE", "/items/?grp=51&limit(1)", 200)).body, { deleted: 1 });
    assert.deepEqual(await getJson("/items/?grp=51&select(id)"), ["dq3", "dq5"]);
    assert.deepEqual((await expect("DELETE", "/items/?grp=51&i=gt=3", 200)).body, { deleted: 1 });
    assert.deepEqual(await getJson("/items/?grp=51&select(id)"), ["dq3"]);
    assert.deepEqual((await expect("DELETE", "/items/?grp=999", 200)).body, { deleted: 0 });
    await refused("DELETE", "/items/?grp=1|grp=2", 400, /OR/);
    assert.deepEqual(await getJson("/items/?grp=51&select(id)"), ["dq3"]);
  });

  it("ids may hold any character, percent-encoded, including /", async () => {
    const ids = ["with space", "slash/inside", "ünïcødé", "emoji 😀", "q?x=1&y", "%41", "plus+sign", "#hash"];
    for (const id of ids) await write("PUT", `/items/${encodeURIComponent(id)}`, { v: id }, 204);
    for (const id of ids)
      assert.deepEqual(await getJson(`/items/${encodeURIComponent(id)}`), { v: id, id }, id);
    // A literal / in the path is part of the id too.
    assert.deepEqual(await getJson("/items/slash/inside"), { v: "slash/inside", id: "slash/inside" });
    for (const id of ids)
      assert.equal((await expect("DELETE", `/items/${encodeURIComponent(id)}`, 200)).body, true);
  });

  it("Int primary keys: the URL id is an integer, stored as a number", async () => {
    await write("PUT", "/nums/5", { v: "five" }, 204);
    assert.deepEqual(await getJson("/nums/5"), { v: "five", n: 5 });
    await write("PUT", "/nums/-3", { n: -3 }, 204);
    assert.deepEqual(await getJson("/nums/-3"), { n: -3 });
    assert.deepEqual(await getJson("/nums/?n=5"), [{ v: "five", n: 5 }]);
    await refused("GET", "/nums/abc", 400, /primary key n is an integer, got "abc"/);
    await refused("GET", "/nums/05", 400, /primary key n is an integer/);
    await refused("GET", "/nums/1.5", 400, /primary key n is an integer/);
    await refused("PUT", "/nums/abc", 400, /primary key n is an integer/, { v: 1 });
    await refused("PATCH", "/nums/abc", 400, /primary key n is an integer/, { v: 1 });
    await refused("DELETE", "/nums/abc", 400, /primary key n is an integer/);
    await refused("PUT", "/nums/8", 400, /differs from the key/, { n: 7 });
    await refused("POST", "/nums/", 400, /primary key n is an integer/, { n: "x" });
    assert.deepEqual(await getJson("/nums/?select(n)&sort(+n)"), [-3, 5, 12]);
  });

  it("refuses bad bodies with 4xx JSON errors and writes nothing", async () => {
    const before = await getJson("/items/");
    await refused("PUT", "/items/bad", 400, /differs from the key it is written to \(bad\)/, { id: "other" });
    await refused("PUT", "/items/bad", 400, /must be a JSON object/, [{ id: "bad" }]);
    await refused("PUT", "/items/bad", 400, /must be a JSON object/, "5");
    await refused("PUT", "/items/bad", 400, /must be a JSON object/, '"text"');
    await refused("PUT", "/items/bad", 400, /must be a JSON object/, "null");
    await refused("PUT", "/items/bad", 400, /must be a JSON object/, "hello", {
      "content-type": "text/plain",
    });
    await refused("PUT", "/items/bad", 400, /not valid JSON/, "{bad json");
    await refused("PUT", "/items/bad", 400, /cannot be empty/, "");
    await refused("PUT", "/items/bad", 415, /Unsupported Media Type/, "a=1", {
      "content-type": "application/x-www-form-urlencoded",
    });
    await refused("PUT", "/items/bad", 400, /must be a JSON object/);
    await refused("POST", "/items/", 400, /must be a JSON object/, [{ id: "bad" }]);
    await refused("PATCH", "/items/a", 400, /must be a JSON object/, [1]);
    // Declared types are checked.
    await refused("PUT", "/items/bad", 400, /attribute grp must be a Int, got "1"/, { grp: "1" });
    await refused("PUT", "/items/bad", 400, /attribute grp must be a Int, got 1.5/, { grp: 1.5 });
    await refused("PUT", "/items/bad", 400, /attribute name must be a String/, { name: 1 });
    await refused("PUT", "/items/bad", 400, /attribute flag must be a Boolean/, { flag: "true" });
    await refused("POST", "/items/", 400, /attribute flag must be a Boolean/, { flag: 0 });
    // The collection needs an id for PUT and PATCH.
    await refused("PUT", "/items/", 400, /PUT needs a record id/, { id: "x" });
    await refused("PATCH", "/items/", 400, /PATCH needs a record id/, { id: "x" });
    // Limits: a key over 1024 bytes, a record over 1 MiB.
    await refused("PUT", `/items/${"k".repeat(1025)}`, 413, /primary key longer than 1024 bytes/, { v: 1 });
    await write("PUT", `/items/${"k".repeat(1024)}`, { v: 1 }, 204);
    await expect("DELETE", `/items/${"k".repeat(1024)}`, 200);
    await refused("PUT", "/items/bad", 413, /record larger than 1048576 bytes/, {
      s: "x".repeat(1024 * 1024),
    });
    assert.deepEqual(await getJson("/items/"), before);
  });

  it("unknown tables and routes are 404 JSON errors for every method", async () => {
    for (const [method, path, body] of [
      ["GET", "/nosuch", undefined],
      ["GET", "/nosuch/", undefined],
      ["GET", "/nosuch/x", undefined],
      ["GET", "/nosuch/?a=1", undefined],
      ["PUT", "/nosuch/x", { a: 1 }],
      ["PATCH", "/nosuch/x", { a: 1 }],
      ["POST", "/nosuch/", { a: 1 }],
      ["DELETE", "/nosuch/x", undefined],
      ["DELETE", "/nosuch/?a=1", undefined],
    ] as const)
      await refused(method, path, 404, /table nosuch does not exist/, body);
    await refused("POST", "/items", 404, /no route POST \/items/, { a: 1 });
    await refused("PUT", "/items", 404, /no route PUT \/items/, { a: 1 });
  });

  it("GET /T/<id>?select() shapes one record", async () => {
    await write("PUT", "/items/sel", { grp: 7, name: "selected", x: [1, 2] }, 204);
    assert.deepEqual(await getJson("/items/sel?select(name)"), "selected");
    assert.deepEqual(await getJson("/items/sel?select(name,x)"), { name: "selected", x: [1, 2] });
    assert.deepEqual(await getJson("/items/sel?select([grp])"), { grp: 7 });
    assert.deepEqual(await getJson("/items/sel?select(absent)"), null);
    await refused("GET", "/items/sel?select()", 400, /select needs/);
  });

  describe("the query language", () => {
    /** The fixture: one shape of record, written to an indexed and an unindexed table. */
    const fruit = ["apple", "apricot", "banana", "blueberry", "cherry", "date"];
    const uValues: unknown[] = [5, "5", true, "true", null, "x", 7.5, undefined];
    const tagValues: unknown[] = [["red", "fruit"], "red", ["green"]];
    const records: Json[] = [];
    for (let i = 0; i < 24; i++) {
      const r: Json = {
        id: `r${String(i).padStart(2, "0")}`,
        grp: i % 6,
        name: `${fruit[i % 6]}-${i}`,
        tags: tagValues[i % 3],
        price: i * 1.25,
      };
      if (uValues[i % 8] !== undefined) r.u = uValues[i % 8];
      records.push(r);
    }
    /** The same queries' meaning, as plain predicates over the records held. */
    const eqU = (v: unknown, ...xs: unknown[]) => xs.some((x) => v === x);
    const tagsOf = (r: Json) => (Array.isArray(r.tags) ? (r.tags as unknown[]) : [r.tags]);
    const queries: [string, (r: Json) => boolean][] = [
      ["grp=2", (r) => r.grp === 2],
      ["grp==2", (r) => r.grp === 2],
      ["grp===2", (r) => r.grp === 2],
      ["grp=gt=3", (r) => (r.grp as number) > 3],
      ["grp=ge=1&le=3", (r) => (r.grp as number) >= 1 && (r.grp as number) <= 3],
      [
        "grp=gt=1&lt=4&name=sw=b",
        (r) => (r.grp as number) > 1 && (r.grp as number) < 4 && String(r.name).startsWith("b"),
      ],
      ["grp!=0", (r) => r.grp !== 0],
      ["grp=ne=0", (r) => r.grp !== 0],
      ["name=sw=ap", (r) => String(r.name).startsWith("ap")],
      ["name=ew=-1", (r) => String(r.name).endsWith("-1")],
      ["name=ct=rr", (r) => String(r.name).includes("rr")],
      ["name==ch*", (r) => String(r.name).startsWith("ch")],
      ["name=ch*", () => false],
      ["name=gt=c", (r) => String(r.name) > "c"],
      ["name=apple-6", (r) => r.name === "apple-6"],
      ["name=%61pple-12", (r) => r.name === "apple-12"],
      ["u=5", (r) => r.u === "5"],
      ["u==5", (r) => eqU(r.u, 5, "5")],
      ["u==true", (r) => eqU(r.u, true, "true")],
      ["u=true", (r) => r.u === "true"],
      ["u=null", () => false],
      ["u=gt=6", (r) => typeof r.u === "number" && r.u > 6],
      ["u=le=5", (r) => typeof r.u === "number" && r.u <= 5],
      ["u!=5", (r) => !eqU(r.u, 5, "5")],
      ["u!==5", (r) => r.u !== "5"],
      ["u==7.5", (r) => r.u === 7.5],
      ["tags=red", (r) => tagsOf(r).includes("red")],
      ["tags=fruit", (r) => tagsOf(r).includes("fruit")],
      ["tags!=red", (r) => !tagsOf(r).includes("red")],
      ["tags==gr*", (r) => tagsOf(r).some((t) => String(t).startsWith("gr"))],
      ["price=gt=10&price=lt=20", (r) => (r.price as number) > 10 && (r.price as number) < 20],
      ["price==2.5", (r) => r.price === 2.5],
      ["price=2.5", (r) => r.price === 2.5],
      ["price=ge=25", (r) => (r.price as number) >= 25],
      ["id=r05", (r) => r.id === "r05"],
      ["id==r05", (r) => r.id === "r05"],
      ["id=gt=r20", (r) => String(r.id) > "r20"],
      ["id=nope", () => false],
      ["grp=2&u==5", (r) => r.grp === 2 && eqU(r.u, 5, "5")],
      [
        "grp=1&tags=red&name=ct=1",
        (r) => r.grp === 1 && tagsOf(r).includes("red") && String(r.name).includes("1"),
      ],
      ["absent=x", () => false],
      ["absent==null", () => true],
      ["absent!=x", () => true],
    ];
    const held = new Map<string, Json>();

    before(async () => {
      const attrs = (indexed: boolean) => [
        { name: "grp", type: "Int", indexed },
        { name: "name", type: "String", indexed },
        { name: "u", type: "Any", indexed },
        { name: "tags", indexed },
        { name: "price", type: "Float", indexed },
      ];
      await op({ operation: "create_table", table: "qidx", attributes: attrs(true) });
      await op({ operation: "create_table", table: "qplain", attributes: attrs(false) });
      for (const table of ["qidx", "qplain"]) await op({ operation: "upsert", table, records });
      for (const r of records) held.set(String(r.id), r);
    });

    /** Runs every query on both tables: each returns exactly the records its predicate selects. */
    async function checkAll(): Promise<void> {
      const all = [...held.values()].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
      const wrong: string[] = [];
      const byId = (a: Json, b: Json) => (String(a.id) < String(b.id) ? -1 : 1);
      const ids = (rs: Json[]) => JSON.stringify(rs.map((r) => r.id));
      for (const [qs, pred] of queries) {
        const want = all.filter(pred);
        // The unindexed table scans in primary key order.
        const plain = (await getJson(`/qplain/?${qs}`)) as Json[];
        if (!isDeepStrictEqual(plain, want))
          wrong.push(`qplain ?${qs}: got ${ids(plain)}, want ${ids(want)}`);
        const idx = ((await getJson(`/qidx/?${qs}`)) as Json[]).sort(byId);
        if (!isDeepStrictEqual(idx, want)) wrong.push(`qidx ?${qs}: got ${ids(idx)}, want ${ids(want)}`);
      }
      assert.deepEqual(wrong, []);
      assert.deepEqual(await getJson("/qplain/"), all);
      assert.deepEqual(await getJson("/qidx/"), all);
    }

    it("each query selects exactly the records its meaning says, indexed or not", async () => {
      // The fixture is varied enough for the predicates to tell the readings apart.
      assert.ok(records.filter((r) => eqU(r.u, 5, "5")).length === 6);
      assert.ok(records.filter((r) => tagsOf(r).includes("red")).length === 16);
      await checkAll();
    });

    it("indexes follow PUT, PATCH and DELETE (arrays indexed per element)", async () => {
      const change = async (method: string, id: string, body?: Json) => {
        for (const table of ["qidx", "qplain"]) {
          if (method === "DELETE") await expect("DELETE", `/${table}/${id}`, 200);
          else await write(method, `/${table}/${id}`, body, 204);
        }
        if (method === "DELETE") held.delete(id);
        else if (method === "PUT") held.set(id, { ...body, id });
        else held.set(id, { ...held.get(id), ...body });
      };
      await change("PUT", "r01", { grp: 5, name: "zucchini-1", tags: ["blue", "red", "blue"], u: 5 });
      await change("PATCH", "r02", { tags: "fruit", u: "5", grp: 0 });
      await change("DELETE", "r03");
      await change("PATCH", "r04", { u: 7.5, price: 2.5 });
      await change("PUT", "r06", { grp: 0, name: "apple-6" });
      await change("PUT", "r30", { grp: 2, name: "banana-30", tags: ["green", "fruit"], u: true, price: 11 });
      await change("PATCH", "r00", { tags: [] });
      // The old values are no longer found through the index.
      assert.deepEqual(await getJson("/qidx/?grp=1&select(id)"), ["r07", "r13", "r19"]);
      assert.deepEqual(await getJson("/qidx/?tags=blue&select(id)"), ["r01"]);
      await checkAll();
    });

    it("limit(n) and limit(start,end) page in primary key order", async () => {
      const ids = [...held.keys()].sort();
      assert.deepEqual(await getJson("/qplain/?select(id)&limit(3)"), ids.slice(0, 3));
      assert.deepEqual(await getJson("/qplain/?limit(2,5)&select(id)"), ids.slice(2, 5));
      assert.deepEqual(await getJson("/qplain/?limit(5,2)"), []);
      assert.deepEqual(await getJson(`/qplain/?limit(${ids.length - 1},1000)&select(id)`), ids.slice(-1));
      // With conditions: the page is of the matching records.
      const g0 = ids.filter((id) => held.get(id)!.grp === 0);
      assert.deepEqual(await getJson("/qplain/?grp=0&limit(1,3)&select(id)"), g0.slice(1, 3));
      assert.deepEqual(await getJson("/qidx/?grp=0&limit(1,3)&select(id)"), g0.slice(1, 3));
    });

    it("select(a) is bare values, select(a,b) and select([a]) objects", async () => {
      assert.deepEqual(await getJson("/qplain/?id=r05&select(name)"), ["date-5"]);
      assert.deepEqual(await getJson("/qplain/?id=r05&select(name,grp)"), [{ name: "date-5", grp: 5 }]);
      assert.deepEqual(await getJson("/qplain/?id=r05&select([name])"), [{ name: "date-5" }]);
      // Attributes a record lacks are left out of objects and null as bare values.
      assert.deepEqual(await getJson("/qplain/?id=r06&select(u,grp)"), [{ grp: 0 }]);
      assert.deepEqual(await getJson("/qplain/?id=r06&select(u)"), [null]);
    });

    it("==null on an indexed attribute finds null and absent values, as on an unindexed one", async () => {
      const want = [...held.values()]
        .filter((r) => r.u === null || r.u === undefined)
        .map((r) => r.id)
        .sort();
      assert.ok(want.length >= 4);
      assert.deepEqual(await getJson("/qplain/?u==null&select(id)"), want);
      // BUG: the index is used for the candidate "null" (text) and records holding null or no
      // value are not in the index, so the indexed table answers [].
      assert.deepEqual(((await getJson("/qidx/?u==null&select(id)")) as string[]).sort(), want);
    });

    it("sort(+a,-b) orders by several attributes, then limit pages the sorted result", async () => {
      const all = [...held.values()];
      const want = [...all]
        .sort((a, b) => (a.grp as number) - (b.grp as number) || (String(a.name) < String(b.name) ? 1 : -1))
        .map((r) => r.id);
      for (const table of ["qplain", "qidx"]) {
        assert.deepEqual(await getJson(`/${table}/?sort(+grp,-name)&select(id)`), want, table);
        assert.deepEqual(
          await getJson(`/${table}/?sort(grp,-name)&select(id)&limit(3,7)`),
          want.slice(3, 7),
          table,
        );
      }
      // Descending: the records without a price (r01 and r06 were replaced without one) come last.
      const prices = all.filter((r) => typeof r.price === "number").map((r) => r.price as number);
      const byPrice = [...prices.sort((a, b) => b - a), null, null];
      assert.deepEqual(await getJson("/qplain/?sort(-price)&select(price)"), byPrice);
      assert.deepEqual(await getJson("/qidx/?sort(-price)&select(price)"), byPrice);
      // Missing and null values sort first, then booleans, numbers and strings.
      const u = (await getJson("/qplain/?sort(u)&select([u])")) as Json[];
      const kinds = u.map((r) =>
        r.u === undefined || r.u === null
          ? 0
          : typeof r.u === "boolean"
            ? 1
            : typeof r.u === "number"
              ? 2
              : 3,
      );
      assert.deepEqual(kinds, [...kinds].sort());
      assert.deepEqual(new Set(kinds), new Set([0, 1, 2, 3]));
    });

    it("refuses OR, grouping, unknown functions and malformed conditions with 400", async () => {
      for (const [qs, re] of [
        ["grp=1|grp=2", /OR \(\|\) and grouped conditions are not supported/],
        ["(grp=1&grp=2)", /OR \(\|\) and grouped conditions are not supported/],
        ["count(grp)", /unknown query function count\(\); known: limit, select, sort/],
        ["limit(x)", /limit must be a non-negative integer/],
        ["limit(1,2,3)", /limit takes/],
        ["select()", /select needs/],
        ["sort()", /sort needs/],
        ["grp", /expected attr=value/],
        ["=5", /expected attr=value/],
        ["grp=%ZZ", /malformed percent-encoding/],
        // A value the attribute's declared type cannot hold (grp is Int), as HarperDB answers it.
        ["grp=abc", /invalid value for attribute grp: "abc", expecting Int/],
      ] as const) {
        await refused("GET", `/qplain/?${qs}`, 400, re);
        await refused("GET", `/qidx/?${qs}`, 400, re);
      }
      await refused(
        "GET",
        `/qplain/?${Array.from({ length: 33 }, (_, i) => `a${i}=1`).join("&")}`,
        413,
        /more than 32/,
      );
      await refused("GET", `/qplain/?a=${"x".repeat(8200)}`, 413, /longer than 8192/);
      assert.equal(((await getJson("/qplain/")) as Json[]).length, held.size);
    });
  });

  it("limit(0) and limit(start,start) return nothing", async () => {
    await op({
      operation: "create_table",
      table: "qlimit",
      attributes: [{ name: "g", type: "Int", indexed: true }],
    });
    await op({
      operation: "upsert",
      table: "qlimit",
      records: [1, 2, 3].map((i) => ({ id: `l${i}`, g: 1 })),
    });
    const got: Record<string, unknown> = {};
    for (const qs of ["limit(0)", "g=1&limit(0)", "limit(2,2)", "limit(1,1)&select(id)"])
      got[qs] = await getJson(`/qlimit/?${qs}`);
    // BUG: limit(0) (and so limit(0,0)) selects the first matching record.
    assert.deepEqual(got, {
      "limit(0)": [],
      "g=1&limit(0)": [],
      "limit(2,2)": [],
      "limit(1,1)&select(id)": [],
    });
  });

  it("DELETE /T/?limit(0) deletes nothing", async () => {
    await op({ operation: "create_table", table: "qlimit0", attributes: [] });
    await op({ operation: "upsert", table: "qlimit0", records: [1, 2, 3].map((i) => ({ id: `l${i}` })) });
    // BUG: limit(0) selects one record, so this deletes l1.
    const r = await expect("DELETE", "/qlimit0/?limit(0)", 200);
    assert.deepEqual(
      { answer: r.body, left: await getJson("/qlimit0/?select(id)") },
      {
        answer: { deleted: 0 },
        left: ["l1", "l2", "l3"],
      },
    );
  });

  it("records, versions and definitions survive a restart and a SIGKILL", async () => {
    await op({
      operation: "create_table",
      table: "persist",
      attributes: [{ name: "g", type: "Int", indexed: true }],
    });
    for (let i = 0; i < 20; i++) await write("PUT", `/persist/k${i}`, { g: i % 4, i }, 204);
    await write("PATCH", "/persist/k3", { patched: true }, 204);
    await expect("DELETE", "/persist/k4", 200);
    const snapshot = async () => ({
      all: await getJson("/persist/"),
      g1: await getJson("/persist/?g=1&select(id)"),
      etag: (await req("GET", "/persist/k3")).headers.get("etag"),
      desc: await getJson("/persist"),
      items: await getJson("/items/"),
    });
    const before = await snapshot();
    assert.equal((before.all as Json[]).length, 19);

    assert.equal(await server.stop("SIGTERM"), 0);
    await server.start();
    assert.deepEqual(await snapshot(), before);

    await server.kill();
    await server.start();
    assert.deepEqual(await snapshot(), before);
    assert.equal((await req("GET", "/persist/k3", undefined, { "if-none-match": before.etag! })).status, 304);

    // Writes go on after a restart with versions beyond the old ones.
    await write("PUT", "/persist/k3", { g: 9 }, 204);
    const etag = (await req("GET", "/persist/k3")).headers.get("etag")!;
    assert.ok(Number(JSON.parse(etag)) > Number(JSON.parse(before.etag!)));
    await write("PUT", "/persist/k99", { g: 1 }, 204);
    assert.deepEqual(await getJson("/persist/?g=1&select(id)"), [...(before.g1 as string[]), "k99"]);
  });

  it("the server is still up", async () => {
    assert.deepEqual(await getJson("/items/a"), { id: "a", grp: 2 });
    assert.equal(server.proc?.exitCode, null);
  });
});
