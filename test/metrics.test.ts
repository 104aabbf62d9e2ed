/**
 * The metrics listener (`--metrics`): a real server, driven by kafkajs, a NATS client and fetch,
 * scraped over HTTP in Prometheus's text format. Each count is checked against what the test
 * itself did, so a metric that stops counting (or counts twice) fails here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { operationOk } from "./helpers/http.js";
import { kafkaClient } from "./helpers/kafka.js";
import { startServer, type TestServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

/** One scrape: `name{labels}` -> value, plus the raw text and content type. */
async function scrape(url: string): Promise<{ values: Map<string, number>; text: string; type: string }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    values.set(m[1]!, Number(m[2]));
  }
  return { values, text, type: res.headers.get("content-type") ?? "" };
}

const get = (s: Map<string, number>, key: string) => s.get(key) ?? 0;

describe("metrics listener", { timeout: 90_000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ nats: true, http: true, metrics: true });
  });

  after(async () => {
    await server?.dispose();
  });

  it("counts what clients of every protocol did, and reports how things stand", async () => {
    const kafka = kafkaClient(server.kafkaAddress);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "metered", numPartitions: 3 }] });
    await operationOk(server.httpUrl, { operation: "create_table", table: "metered_rows" });
    const before = (await scrape(server.metricsUrl)).values;

    const SENDS = 7;
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < SENDS; i++) {
      await producer.send({ topic: "metered", acks: -1, messages: [{ partition: i % 3, value: `v${i}` }] });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: "metered-readers" });
    await consumer.connect();
    await consumer.subscribe({ topic: "metered", fromBeginning: true });
    let consumed = 0;
    await consumer.run({
      eachMessage: async () => {
        consumed++;
      },
    });
    await waitFor(
      () => consumed >= SENDS,
      30_000,
      () => `consumed ${consumed} of ${SENDS}`,
    );

    const nc = await connect({ servers: server.natsAddress });
    const sub = nc.subscribe("metered.>");
    let received = 0;
    const done = (async () => {
      for await (const _ of sub) if (++received === 5) break;
    })();
    for (let i = 0; i < 5; i++) nc.publish(`metered.${i}`, "x");
    await done;

    const put = await fetch(`${server.httpUrl}/metered_rows/a`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    assert.equal(put.status, 204);

    const { values: now, text, type } = await scrape(server.metricsUrl);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const delta = (key: string) => get(now, key) - get(before, key);

    // Kafka: one Produce request per send, with its bytes; Fetch answered through the arena.
    assert.equal(delta('oncedb_kafka_requests_total{api="Produce"}'), SENDS);
    assert.ok(delta('oncedb_kafka_request_bytes_total{api="Produce"}') > SENDS * 60, "Produce request bytes");
    assert.ok(delta('oncedb_kafka_response_bytes_total{api="Fetch"}') > 0, "Fetch response bytes");
    assert.equal(delta('oncedb_kafka_request_duration_seconds_count{api="Produce"}'), SENDS);
    assert.ok(delta('oncedb_read_answers_total{via="arena"}') > 0, "fetches read through the arena");
    assert.equal(get(now, "oncedb_read_arena_unreleased_bytes"), 0);
    // Every produced batch reached the writer through the staging arena, which is empty again.
    assert.ok(delta('oncedb_staging_regions_total{result="staged"}') >= SENDS, "batches staged");
    assert.equal(delta('oncedb_staging_regions_total{result="refused"}'), 0);
    assert.equal(get(now, "oncedb_staging_live_bytes"), 0);

    // Storage: every acks=-1 send waited for its own commit; the table write had one too.
    assert.ok(delta("oncedb_commits_total") >= SENDS + 1, `commits: ${delta("oncedb_commits_total")}`);
    assert.equal(delta("oncedb_commit_duration_seconds_count"), delta("oncedb_commits_total"));
    assert.ok(delta("oncedb_commit_statements_total") >= delta("oncedb_commits_total"));

    // The log: seven records and the table's one change record; nothing else wrote.
    assert.equal(delta("oncedb_log_offsets_appended_total"), SENDS + 1);
    assert.equal(delta("oncedb_log_offsets_retained"), SENDS + 1);
    const topics = await admin.listTopics();
    assert.equal(get(now, "oncedb_topics"), topics.length);
    const meta = await admin.fetchTopicMetadata({ topics });
    const partitions = meta.topics.reduce((n, t) => n + t.partitions.length, 0);
    assert.equal(get(now, "oncedb_partitions"), partitions);
    assert.equal(get(now, "oncedb_tables"), 1);

    // HTTP: the PUT, by its route's pattern (not its path: the series stay few).
    assert.equal(delta('oncedb_http_requests_total{method="PUT",route="/:table/*",status="204"}'), 1);
    assert.equal(delta('oncedb_http_request_duration_seconds_count{method="PUT",route="/:table/*"}'), 1);
    assert.ok(
      get(now, 'oncedb_http_requests_total{method="POST",route="/",status="200"}') >= 1,
      "the create_table operation",
    );

    // The bus: five NATS messages delivered to the subscriber (the row's $DB change is not
    // published: nobody listens to $DB.>).
    assert.equal(delta("oncedb_bus_published_total"), 5);
    assert.equal(delta("oncedb_bus_delivered_total"), 5);

    // Connections open right now: the admin and the consumer's, the NATS client, none over HTTP
    // (fetch's keep-alive socket aside).
    assert.ok(get(now, 'oncedb_connections{protocol="kafka"}') >= 2);
    assert.equal(get(now, 'oncedb_connections{protocol="nats"}'), 1);
    assert.ok(now.has('oncedb_connections{protocol="http"}'));

    // The process itself (prom-client's defaults).
    assert.ok(get(now, "process_resident_memory_bytes") > 10_000_000);
    assert.match(text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(text, /^# HELP oncedb_commit_duration_seconds /m);

    await consumer.disconnect();
    // Deleting a topic takes its records out of what is retained, never out of a counter.
    await admin.deleteTopics({ topics: ["metered"] });
    const gone = (await scrape(server.metricsUrl)).values;
    assert.equal(
      get(gone, "oncedb_log_offsets_appended_total"),
      get(now, "oncedb_log_offsets_appended_total"),
    );
    assert.equal(get(now, "oncedb_log_offsets_retained") - get(gone, "oncedb_log_offsets_retained"), SENDS);
    assert.equal(get(gone, "oncedb_partitions"), partitions - 3);
    await nc.close();
    await admin.disconnect();
    // The server counts the NATS connection out once it has seen the close.
    const deadline = Date.now() + 10_000;
    let natsOpen = -1;
    while (natsOpen !== 0 && Date.now() < deadline) {
      natsOpen = get((await scrape(server.metricsUrl)).values, 'oncedb_connections{protocol="nats"}');
      if (natsOpen !== 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(natsOpen, 0, "closed NATS connection counted out");
  });

  it("answers only GET /metrics, with JSON errors, and only to loopback host names", async () => {
    const base = server.metricsUrl.replace(/\/metrics$/, "");
    const notFound = await fetch(`${base}/stats`);
    assert.equal(notFound.status, 404);
    assert.match(((await notFound.json()) as { error: string }).error, /GET \/metrics/);
    const post = await fetch(server.metricsUrl, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const head = await fetch(server.metricsUrl, { method: "HEAD" });
    assert.equal(head.status, 200);
    // A page whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own Host.
    const { port } = new URL(server.metricsUrl);
    const rebound = await new Promise<number>((resolve, reject) => {
      import("node:http").then(({ request }) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: Number(port),
            path: "/metrics",
            headers: { host: `evil.example:${port}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      }, reject);
    });
    assert.equal(rebound, 403);
  });

  it("is off unless asked for", async () => {
    const plain = await startServer();
    try {
      assert.equal(plain.ready.metrics, null);
      assert.ok(String(plain.ready.kafka).startsWith("127.0.0.1:"));
    } finally {
      await plain.dispose();
    }
  });
});
