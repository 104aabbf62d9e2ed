/**
 * Tables over REST, in HarperDB's shape (every table is exported):
 *   GET    /T            the table's description
 *   GET    /T/           every record, or a query: /T/?grp=5&limit(10) (tables/query.ts)
 *   GET    /T/<id>       one record (ETag = its version; If-None-Match answers 304)
 *   PUT    /T/<id>       replace or create (204); the URL's id is the record's primary key
 *   PATCH  /T/<id>       merge attributes into an existing record (204; 404 if missing)
 *   POST   /T/           create; a missing primary key is generated (201, Location: <id>)
 *   DELETE /T/<id>       delete (200 true; 404 if missing); DELETE /T/?query deletes what matches
 * A GET with Accept: text/event-stream, or a WebSocket upgrade, on /T/ or /T/<id> subscribes to
 * changes (subscriptions.ts). Ids are the rest of the path, percent-decoded, and may hold `/`.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Engine } from "../../engine/engine.js";
import { TableError } from "../../tables/errors.js";
import { EMPTY_QUERY, parseUrlQuery, type Query } from "../../tables/query.js";
import { ownValue, pick } from "../../tables/tables.js";
import { assertWritable, originAllowed } from "./server.js";
import type { SubscriptionHub } from "./subscriptions.js";

interface Target {
  table: string;
  /** "" for the collection (/T/). */
  id: string;
  query: Query;
}

function target(req: FastifyRequest): Target {
  const params = req.params as { table: string; "*": string };
  const q = req.url.indexOf("?");
  const qs = q < 0 ? "" : req.url.slice(q + 1);
  return { table: params.table, id: params["*"] ?? "", query: qs === "" ? EMPTY_QUERY : parseUrlQuery(qs) };
}

function wantsEventStream(req: FastifyRequest): boolean {
  return (req.headers.accept ?? "").includes("text/event-stream");
}

function recordBody(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new TableError(
      "INVALID",
      "the request body must be a JSON object (Content-Type: application/json)",
    );
  return body as Record<string, unknown>;
}

export function registerRest(
  app: FastifyInstance,
  engine: Engine,
  hub: SubscriptionHub,
  corsOrigins: readonly string[],
): void {
  const tables = engine.tables;

  app.get("/", async () => ({
    server: "oncedb",
    database: "data",
    tables: tables.list().map((t) => t.name),
  }));

  app.get("/:table", async (req, reply) => {
    const { table } = req.params as { table: string };
    const d = tables.describe(table);
    return reply.send({
      name: d.name,
      primaryKey: d.primaryKey,
      attributes: d.attributes,
      records: d.records,
      topic: d.topic,
    });
  });

  app.route({
    method: "GET",
    url: "/:table/*",
    handler: async (req, reply) => {
      const t = target(req);
      if (wantsEventStream(req)) {
        hub.sse(req, reply, t.table, t.id === "" ? undefined : t.id);
        return reply;
      }
      if (t.id === "") {
        const { json } = tables.query(t.table, t.query);
        return reply.type("application/json; charset=utf-8").send(json);
      }
      const row = tables.getVersioned(t.table, t.id);
      if (!row) return reply.code(404).send({ error: `no record ${t.id} in ${t.table}` });
      const etag = `"${row.version}"`;
      reply.header("etag", etag);
      if (req.headers["if-none-match"] === etag) return reply.code(304).send();
      if (t.query.select) {
        const rec = JSON.parse(row.json) as Record<string, unknown>;
        const attrs = t.query.select;
        if (t.query.selectValue)
          return reply
            .type("application/json; charset=utf-8")
            .send(JSON.stringify(ownValue(rec, attrs[0]!) ?? null));
        return reply.send(pick(rec, attrs));
      }
      return reply.type("application/json; charset=utf-8").send(row.json);
    },
    wsHandler: (socket, req) => {
      // Browsers send any page's WebSocket upgrade with its Origin and no CORS check: refuse
      // origins that CORS would refuse (cross-site WebSocket hijacking).
      if (!originAllowed(req.headers.origin, req.headers.host, corsOrigins)) {
        socket.send(JSON.stringify({ error: `origin ${req.headers.origin} is not allowed (see --cors)` }));
        socket.close(1008, "origin not allowed");
        return;
      }
      let t: Target;
      try {
        t = target(req);
      } catch (err) {
        socket.send(JSON.stringify({ error: (err as Error).message }));
        socket.close(1008, "bad request");
        return;
      }
      hub.websocket(socket, t.table, t.id === "" ? undefined : t.id);
    },
  });

  app.put("/:table/*", async (req, reply) => {
    const t = target(req);
    if (t.id === "") throw new TableError("INVALID", `PUT needs a record id: PUT /${t.table}/<id>`);
    const body = recordBody(req);
    assertWritable(engine);
    await tables.put(t.table, t.id, body);
    return reply.code(204).send();
  });

  app.patch("/:table/*", async (req, reply) => {
    const t = target(req);
    if (t.id === "") throw new TableError("INVALID", `PATCH needs a record id: PATCH /${t.table}/<id>`);
    const body = recordBody(req);
    assertWritable(engine);
    await tables.patch(t.table, t.id, body);
    return reply.code(204).send();
  });

  app.post("/:table/*", async (req, reply) => {
    const t = target(req);
    if (t.id !== "")
      return reply
        .code(405)
        .header("allow", "GET, PUT, PATCH, DELETE")
        .send({ error: `POST creates records on the collection: POST /${t.table}/` });
    const body = recordBody(req);
    assertWritable(engine);
    const out = await tables.insert(t.table, body);
    // A relative reference: resolved against /T/ it is the new record's URL (as HarperDB sends it).
    return reply
      .code(201)
      .header("location", encodeURIComponent(out.id))
      .type("application/json; charset=utf-8")
      .send(JSON.stringify(out.id));
  });

  app.delete("/:table/*", async (req, reply) => {
    const t = target(req);
    assertWritable(engine);
    if (t.id === "") {
      const n = await tables.deleteMatching(t.table, t.query);
      return reply.send({ deleted: n });
    }
    const out = await tables.delete(t.table, t.id);
    if (!out.existed) return reply.code(404).send({ error: `no record ${t.id} in ${t.table}` });
    return reply.send(true);
  });
}
