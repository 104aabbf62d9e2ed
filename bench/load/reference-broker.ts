/**
 * Machine limit for the responsiveness scenario: a reference broker that does only what any
 * durable broker must do for the scenario's two clients, and nothing else.
 *
 * - Produce v3 (the ack probe): the request's record bytes are written to a file (preallocated
 *   and written over, see APPEND_FILE_BYTES) and the answer is written after the fdatasync that
 *   covers them; requests that arrive while a sync runs go into the next one (group commit), as
 *   in OnceDB.
 * - Fetch v4 (the big fetcher): every answer is the same `fetchRecordBytes` of record batches held
 *   in memory, written in 1 MiB slices, one per event-loop turn as OnceDB writes them, paced to
 *   the rate set for the fetcher's client id.
 * - ApiVersions v0, so that the clients' version checks pass.
 *
 * Why: on a 2-core machine shared with the clients, moving hundreds of MB/s over loopback makes
 * every process wait for a CPU, so produce acknowledgements get slower under a long fetch no
 * matter how the broker is built. Run under the same load as OnceDB (the same probe, the same
 * fetcher, the bytes/s OnceDB served), this broker measures what the machine alone adds; what
 * OnceDB adds beyond it is OnceDB's. It reads nothing from disk and decodes nothing, so it is a
 * floor, not a competitor. Independent of src/.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { encodeRecordBatch, FrameReader } from "../kafka/produce-encoder.js";
import { loadConfig, nextMessage, runMain, SelfCpu, send } from "./ipc.js";

export interface ReferenceBrokerConfig extends FetchShape {
  /** Directory for the append file (the same disk as OnceDB's data dir). */
  dir: string;
  /** Hard stop. */
  maxMs: number;
}

/** What Fetch answers look like; the parent may change it between phases ("shape" message). */
export interface FetchShape {
  /** Size of the records field of every Fetch answer, bytes (rounded up to whole batches). */
  fetchRecordBytes: number;
  /** How each fetching client id's answers are paced; a client id not listed is not paced. */
  paceByClientId: Record<string, FetchPace>;
}

/**
 * `bytesPerSec` on average. `spread`: every answer trickles out in slices at that rate (as OnceDB
 * paces a consumer over its quota, here at the average rate OnceDB served); otherwise each answer is written at once and the next one
 * waits until the rate has paid for it (as a broker whose reads take time between answers).
 */
export interface FetchPace {
  bytesPerSec: number;
  spread: boolean;
}

export interface ReferenceBrokerResult {
  produces: number;
  syncs: number;
  fetches: number;
  fetchBytes: number;
  cpu: number;
  seconds: number;
}

const API_PRODUCE = 0;
const API_FETCH = 1;
const API_VERSIONS = 18;
/** A paced answer is written in slices of this size. */
const SLICE_BYTES = 2 ** 20;
/** A paced connection may catch up this much time's worth of its rate after a gap (OnceDB's PACE_CREDIT_MS). */
const PACE_CREDIT_MS = 100;
/**
 * The append file is written over, never grown: an fdatasync that changes a file's size also
 * commits the file system's journal, which OnceDB's WAL (restarted from its beginning after each
 * checkpoint) mostly avoids. The file is filled and synced once before the broker is ready.
 */
const APPEND_FILE_BYTES = 64 * 2 ** 20;
const RECORDS_PER_BATCH = 1000;
const VALUE_BYTES = 100;

interface Request {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string;
  /** The body after the request header. */
  body: Buffer;
}

function parseRequest(frame: Buffer): Request {
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const idLen = frame.readInt16BE(8);
  const clientId = idLen > 0 ? frame.toString("utf8", 10, 10 + idLen) : "";
  return { apiKey, apiVersion, correlationId, clientId, body: frame.subarray(10 + Math.max(0, idLen)) };
}

function sized(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

function apiVersionsAnswer(correlationId: number): Buffer {
  const apis: [number, number, number][] = [
    [API_PRODUCE, 3, 3],
    [API_FETCH, 4, 4],
    [API_VERSIONS, 0, 0],
  ];
  const b = Buffer.alloc(4 + 2 + 4 + apis.length * 6);
  b.writeInt32BE(correlationId, 0);
  b.writeInt16BE(0, 4);
  b.writeInt32BE(apis.length, 6);
  apis.forEach(([k, min, max], i) => {
    b.writeInt16BE(k, 10 + i * 6);
    b.writeInt16BE(min, 12 + i * 6);
    b.writeInt16BE(max, 14 + i * 6);
  });
  return sized(b);
}

/** The record bytes of a Produce v3 request, and the answer acknowledging them at `baseOffset`. */
function produce(req: Request, baseOffset: number): { records: Buffer[]; answer: Buffer; count: number } {
  const b = req.body;
  let off = 0;
  const txLen = b.readInt16BE(off);
  off += 2 + Math.max(0, txLen);
  off += 2 + 4; // acks, timeout
  const topics = b.readInt32BE(off);
  off += 4;
  const records: Buffer[] = [];
  const parts: Buffer[] = [];
  const head = Buffer.alloc(8);
  head.writeInt32BE(req.correlationId, 0);
  head.writeInt32BE(topics, 4);
  parts.push(head);
  let count = 0;
  for (let t = 0; t < topics && t < 100; t++) {
    const nameLen = b.readInt16BE(off);
    const name = b.subarray(off, off + 2 + nameLen);
    off += 2 + nameLen;
    const n = b.readInt32BE(off);
    off += 4;
    const p = Buffer.alloc(4 + n * 22);
    p.writeInt32BE(n, 0);
    for (let i = 0; i < n && i < 1000; i++) {
      const index = b.readInt32BE(off);
      const len = b.readInt32BE(off + 4);
      records.push(b.subarray(off + 8, off + 8 + Math.max(0, len)));
      off += 8 + Math.max(0, len);
      p.writeInt32BE(index, 4 + i * 22);
      p.writeInt16BE(0, 8 + i * 22);
      p.writeBigInt64BE(BigInt(baseOffset + count), 10 + i * 22);
      p.writeBigInt64BE(-1n, 18 + i * 22);
      count++;
    }
    parts.push(name, p);
  }
  const throttle = Buffer.alloc(4);
  parts.push(throttle);
  return { records, answer: sized(Buffer.concat(parts)), count };
}

/** Record batches of `bytes` or a little more, offsets from 0, and the high watermark after them. */
function buildLog(bytes: number): { records: Buffer; highWatermark: number } {
  const values: Buffer[] = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) values.push(Buffer.alloc(VALUE_BYTES, i & 0xff));
  const batch = encodeRecordBatch({ values, timestamp: Date.now() });
  const n = Math.max(1, Math.ceil(bytes / batch.length));
  const records = Buffer.alloc(n * batch.length);
  for (let i = 0; i < n; i++) {
    batch.copy(records, i * batch.length);
    // The base offset is not covered by the batch CRC.
    records.writeBigInt64BE(BigInt(i * RECORDS_PER_BATCH), i * batch.length);
  }
  return { records, highWatermark: n * RECORDS_PER_BATCH };
}

/** The head of a Fetch v4 answer for the request's first topic and partition, up to the records. */
function fetchHead(req: Request, recordBytes: number, highWatermark: number): Buffer {
  const b = req.body;
  let off = 4 + 4 + 4 + 4 + 1 + 4; // replica, max_wait, min_bytes, max_bytes, isolation, topic count
  const nameLen = b.readInt16BE(off);
  const name = b.subarray(off, off + 2 + nameLen);
  off += 2 + nameLen + 4; // partition count
  const partition = b.readInt32BE(off);
  // size, correlation id, throttle, topic count, name, partition count, partition, error,
  // high watermark, last stable offset, aborted count, records length
  const head = Buffer.alloc(4 + 4 + 4 + 4 + name.length + 4 + 4 + 2 + 8 + 8 + 4 + 4);
  let o = 4; // the size prefix, written below
  o = head.writeInt32BE(req.correlationId, o);
  o = head.writeInt32BE(0, o); // throttle_time_ms
  o = head.writeInt32BE(1, o);
  o += name.copy(head, o);
  o = head.writeInt32BE(1, o);
  o = head.writeInt32BE(partition, o);
  o = head.writeInt16BE(0, o);
  o = head.writeBigInt64BE(BigInt(highWatermark), o);
  o = head.writeBigInt64BE(BigInt(highWatermark), o); // last_stable_offset
  o = head.writeInt32BE(0, o); // aborted transactions: none
  o = head.writeInt32BE(recordBytes, o);
  head.writeInt32BE(head.length - 4 + recordBytes, 0);
  return head;
}

async function main(): Promise<ReferenceBrokerResult> {
  const cfg = loadConfig<ReferenceBrokerConfig>();
  let shape: FetchShape = cfg;
  let log = buildLog(cfg.fetchRecordBytes);
  let builtFor = cfg.fetchRecordBytes;
  process.on("message", (m: { type?: string; shape?: FetchShape }) => {
    if (m?.type !== "shape" || !m.shape) return;
    shape = m.shape;
    if (shape.fetchRecordBytes !== builtFor) {
      log = buildLog(shape.fetchRecordBytes);
      builtFor = shape.fetchRecordBytes;
    }
    send({ type: "shaped" });
  });
  const fd = fs.openSync(path.join(cfg.dir, "reference-broker.log"), "w");
  {
    const zeros = Buffer.alloc(2 ** 20);
    for (let at = 0; at < APPEND_FILE_BYTES; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
    fs.fsyncSync(fd);
  }
  /** Where the next group is written; wraps to 0 before the end of the file. */
  let writeAt = 0;
  let produces = 0;
  let syncs = 0;
  let fetches = 0;
  let fetchBytes = 0;
  let nextOffset = 0;

  // Group commit: what arrives while a write+fdatasync runs goes into the next one.
  let syncing = false;
  let waiting: { sock: net.Socket; records: Buffer[]; answer: Buffer }[] = [];
  const flush = (): void => {
    if (syncing || waiting.length === 0) return;
    syncing = true;
    const group = waiting;
    waiting = [];
    const records = group.flatMap((g) => g.records);
    const bytes = records.reduce((a, r) => a + r.length, 0);
    if (writeAt + bytes > APPEND_FILE_BYTES) writeAt = 0;
    const at = writeAt;
    writeAt += bytes;
    fs.writev(fd, records, at, (err) => {
      if (err) throw err;
      fs.fdatasync(fd, (err2) => {
        if (err2) throw err2;
        syncs++;
        syncing = false;
        for (const g of group) if (!g.sock.destroyed) g.sock.write(g.answer);
        flush();
      });
    });
  };

  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const frames = new FrameReader();
    /** performance.now() before which the next paced write waits. */
    const pace = { nextAt: 0 };
    /** One Fetch answer at a time per connection; the fetcher sends one request at a time. */
    let fetchBusy = false;
    const answerFetch = (req: Request): void => {
      if (fetchBusy) {
        sock.destroy(new Error("a second Fetch before the first was answered"));
        return;
      }
      fetchBusy = true;
      fetches++;
      const { records, highWatermark } = log;
      fetchBytes += records.length;
      const slices: Buffer[] = [fetchHead(req, records.length, highWatermark)];
      for (let i = 0; i < records.length; i += SLICE_BYTES) slices.push(records.subarray(i, i + SLICE_BYTES));
      const p = shape.paceByClientId[req.clientId];
      let i = 0;
      const step = (): void => {
        while (i < slices.length && !sock.destroyed) {
          const now = performance.now();
          if (p !== undefined && (p.spread || i === 0) && now < pace.nextAt) {
            setTimeout(step, pace.nextAt - now);
            return;
          }
          const s = slices[i++];
          if (p?.spread)
            pace.nextAt = Math.max(pace.nextAt, now - PACE_CREDIT_MS) + (s.length * 1000) / p.bytesPerSec;
          else if (p !== undefined && i === 1) {
            // The schedule keeps one answer's time of credit: the client's turn-around between
            // answers does not lower the average below the rate.
            const answerMs = ((records.length + s.length) * 1000) / p.bytesPerSec;
            pace.nextAt = Math.max(pace.nextAt, now - answerMs) + answerMs;
          }
          if (!sock.write(s) && i < slices.length) {
            sock.once("drain", step);
            return;
          }
          // One slice per event-loop turn, as OnceDB writes (WRITE_TURN_BYTES): produce
          // requests and their answers are handled in between.
          if (i < slices.length && !p?.spread) {
            setImmediate(step);
            return;
          }
        }
        fetchBusy = false;
      };
      step();
    };
    sock.on("data", (d: Buffer) => {
      frames.push(d);
      for (;;) {
        let frame: Buffer | undefined;
        try {
          frame = frames.next();
        } catch {
          sock.destroy(); // a size no Kafka client sends
          return;
        }
        if (!frame) break;
        // Only the scenario's two clients are served: the probe (Produce, in order through the
        // group commit) and the fetcher (one Fetch at a time). A frame this broker cannot read
        // closes its connection instead of crashing the process.
        let req: Request;
        try {
          req = parseRequest(frame);
        } catch {
          sock.destroy();
          return;
        }
        if (req.apiKey === API_VERSIONS) sock.write(apiVersionsAnswer(req.correlationId));
        else if (req.apiKey === API_PRODUCE && req.apiVersion === 3) {
          let p: ReturnType<typeof produce>;
          try {
            p = produce(req, nextOffset);
          } catch {
            sock.destroy();
            return;
          }
          nextOffset += p.count;
          produces++;
          waiting.push({ sock, records: p.records, answer: p.answer });
          flush();
        } else if (req.apiKey === API_FETCH && req.apiVersion === 4) {
          try {
            answerFetch(req);
          } catch {
            sock.destroy();
            return;
          }
        } else {
          sock.destroy();
          return;
        }
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cpu = new SelfCpu();
  const t0 = performance.now();
  send({ type: "ready", port });
  await nextMessage("stop", cfg.maxMs).catch(() => undefined);
  const result: ReferenceBrokerResult = {
    produces,
    syncs,
    fetches,
    fetchBytes,
    cpu: cpu.stop(),
    seconds: (performance.now() - t0) / 1000,
  };
  server.close();
  // A group still being written or synced keeps the file open until it is done.
  for (let i = 0; i < 500 && syncing; i++) await new Promise((r) => setTimeout(r, 10));
  fs.closeSync(fd);
  return result;
}

runMain(main);
