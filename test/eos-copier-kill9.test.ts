/**
 * Consume-transform-produce under SIGKILL: a copier process (test/fixtures/copier.ts: kafkajs
 * read_committed consumer + transactional producer, offsets sent in each transaction) copies
 * 20,000 records from a 2-partition topic to a 3-partition topic. The first copier is killed
 * with a transaction open (records and offsets written, no commit); the second, with the same
 * transactional id, is killed wherever it happens to be; the third finishes. The output read
 * read_committed must hold every input record transformed exactly once, and the group's
 * committed offsets must equal the input end offsets.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Kafka } from "kafkajs";
import { readValues as readTopic } from "./helpers/consume.js";
import { kafkaClient } from "./helpers/kafka.js";
import { listOffsets as listOffsetsAt } from "./helpers/offsets.js";
import { TestServer } from "./helpers/server.js";

const COPIER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "fixtures/copier.js");
const TOTAL = 20_000;
const IN_PARTS = 2;
const OUT_PARTS = 3;
const INPUT = "copy-in";
const OUTPUT = "copy-out";
const GROUP = "copier-group";
const TXID = "copier-1";
/** Bound for each wait in this file. */
const WAIT_MS = 90_000;

let server: TestServer;
let kafka: Kafka;

interface CopierEvent {
  event: string;
  copied?: number;
  txns?: number;
}

/** A copier child process and the events it prints. */
class Copier {
  readonly events: CopierEvent[] = [];
  readonly stderr: string[] = [];
  readonly proc: ChildProcess;
  private readonly exited: Promise<number | null>;
  private readonly listeners = new Set<() => void>();

  constructor(extra: string[] = []) {
    this.proc = spawn(
      process.execPath,
      [
        COPIER,
        "--broker",
        server.kafkaAddress,
        "--input",
        INPUT,
        "--output",
        OUTPUT,
        "--group",
        GROUP,
        "--txid",
        TXID,
        "--chunk",
        "200",
        ...extra,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
    this.proc.stderr!.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    readline.createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      this.events.push(JSON.parse(line) as CopierEvent);
      for (const l of this.listeners) l();
    });
    this.proc.once("exit", () => {
      for (const l of this.listeners) l();
    });
  }

  get copied(): number {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const c = this.events[i]!.copied;
      if (c !== undefined) return c;
    }
    return 0;
  }

  /** Resolves with the first event matching `pred`; fails if the process exits first. */
  waitFor(what: string, pred: (e: CopierEvent) => boolean): Promise<CopierEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.find(pred);
        if (e) return finish(() => resolve(e));
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          finish(() => reject(new Error(`copier exited before ${what}: ${this.stderr.join("")}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`copier: no ${what} in ${WAIT_MS} ms (copied ${this.copied})`))),
        WAIT_MS,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        f();
      };
      this.listeners.add(check);
      check();
    });
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function listOffsets(topic: string, partitions: number, isolationLevel: 0 | 1) {
  return listOffsetsAt(server.kafkaAddress, topic, partitions, isolationLevel);
}

async function groupOffsets(): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: GROUP, topics: [INPUT] });
    return new Map(t!.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Every value of a topic up to `ends`, read with a fresh group. */
async function readValues(topic: string, ends: Map<number, number>, readUncommitted: boolean) {
  return (await readTopic(kafka, topic, ends, readUncommitted, { timeoutMs: WAIT_MS, pollMs: 50 })).all;
}

describe("consume-transform-produce with kill -9", { timeout: 240_000 }, () => {
  const copiers: Copier[] = [];

  before(async () => {
    server = new TestServer();
    await server.start();
    kafka = kafkaClient(server.kafkaAddress);
  });
  after(async () => {
    for (const c of copiers) await c.kill("SIGKILL");
    await server?.dispose();
  });

  it("copies every record exactly once across two killed copiers", async (t) => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: INPUT, numPartitions: IN_PARTS },
        { topic: OUTPUT, numPartitions: OUT_PARTS },
      ],
    });
    await admin.disconnect();

    const input = Array.from({ length: TOTAL }, (_, i) => `rec-${i}`);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    for (let i = 0; i < TOTAL; i += 1000) {
      await producer.send({
        topic: INPUT,
        acks: -1,
        messages: input.slice(i, i + 1000).map((value, j) => ({ value, partition: (i + j) % IN_PARTS })),
      });
    }
    await producer.disconnect();
    const inputEnds = await listOffsets(INPUT, IN_PARTS, 0);
    assert.deepEqual(
      inputEnds,
      new Map([
        [0, TOTAL / 2],
        [1, TOTAL / 2],
      ]),
    );

    // 1: killed with a transaction open: its records and offsets written, not committed.
    const c1 = new Copier(["--stall-after", "6000"]);
    copiers.push(c1);
    const stalled = await c1.waitFor("stall", (e) => e.event === "stalled");
    await c1.kill("SIGKILL");
    assert.ok(stalled.copied! >= 6000 && stalled.copied! < 15_000, `first copier copied ${stalled.copied}`);
    const hw1 = await listOffsets(OUTPUT, OUT_PARTS, 0);
    const lso1 = await listOffsets(OUTPUT, OUT_PARTS, 1);
    assert.ok(
      [...hw1].some(([p, hw]) => lso1.get(p)! < hw),
      `the open transaction holds back the output (hw ${[...hw1]}, lso ${[...lso1]})`,
    );
    const offsetsAfter1 = await groupOffsets();
    assert.equal(
      [...offsetsAfter1.values()].reduce((a, b) => a + Math.max(b, 0), 0), // -1: none yet
      stalled.copied,
      "committed offsets count exactly the committed records",
    );

    // 2: same transactional id; killed wherever it is once it has made progress.
    const c2 = new Copier();
    copiers.push(c2);
    await c2.waitFor("progress", (e) => (e.copied ?? 0) >= 4000);
    await c2.kill("SIGKILL");
    const copied2 = c2.copied;

    // 3: finishes the job.
    const c3 = new Copier();
    copiers.push(c3);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const offsets = await groupOffsets();
      if ([...inputEnds].every(([p, end]) => offsets.get(p) === end)) break;
      assert.ok(c3.proc.exitCode === null, `third copier exited: ${c3.stderr.join("")}`);
      assert.ok(Date.now() < deadline, `group offsets stuck at ${JSON.stringify([...offsets])}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await c3.kill("SIGTERM");
    t.diagnostic(`copier 1 committed ${stalled.copied}, copier 2 ${copied2}, copier 3 ${c3.copied}`);

    assert.deepEqual(await groupOffsets(), inputEnds, "group offsets == input end offsets");
    const hw = await listOffsets(OUTPUT, OUT_PARTS, 0);
    assert.deepEqual(await listOffsets(OUTPUT, OUT_PARTS, 1), hw, "no transaction left open");

    const committed = await readValues(OUTPUT, hw, false);
    const counts = new Map<string, number>();
    for (const v of committed) counts.set(v, (counts.get(v) ?? 0) + 1);
    const dupes = [...counts].filter(([, n]) => n > 1);
    assert.equal(dupes.length, 0, `duplicated: ${dupes.slice(0, 5).join(" ")}`);
    const expected = input.map((v) => `${v}:out`);
    const missing = expected.filter((v) => !counts.has(v));
    assert.equal(missing.length, 0, `missing ${missing.length}: ${missing.slice(0, 5).join(" ")}`);
    assert.equal(committed.length, TOTAL);

    // The killed transactions' records are in the log but never visible read_committed.
    const everything = await readValues(OUTPUT, hw, true);
    assert.ok(everything.length > TOTAL, `expected aborted records in the log, found ${everything.length}`);
    t.diagnostic(`${everything.length - TOTAL} aborted records in the output log`);
  });
});
