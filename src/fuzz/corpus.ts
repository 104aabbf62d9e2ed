/**
 * The seed corpus: valid requests the mutators start from.
 *
 * - codec: for every API and version the server advertises, requests built from the generated
 *   schemas with meaningful values (existing topics and partitions, a real group, valid record
 *   batches), several variants each. Deterministic: same bytes on every run.
 * - kafkajs: the frames kafkajs itself sends in admin, producer (plain, gzip, idempotent),
 *   transactional and consumer-group flows, recorded by a loopback proxy between kafkajs and
 *   the server.
 */
import net from "node:net";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { encodeMessage } from "../protocol/kafka/codec/codec.js";
import { encodeConsumerSubscription } from "../protocol/kafka/codec/consumer-protocol.js";
import { requestHeaderVersion } from "../protocol/kafka/codec/header.js";
import type { FieldSchema } from "../protocol/kafka/codec/schema.js";
import { inRange } from "../protocol/kafka/codec/schema.js";
import { ZERO_UUID } from "../protocol/kafka/codec/uuid.js";
import { Writer } from "../protocol/kafka/codec/writer.js";
import { API_BY_KEY } from "../protocol/kafka/generated/messages.js";
import { FUZZ_TIMESTAMP_MS, validBatch } from "./batches.js";
import { Rng } from "./rng.js";

export interface CorpusEntry {
  readonly source: "codec" | "kafkajs";
  readonly apiKey: number;
  readonly apiVersion: number;
  /** The whole frame, length prefix included. */
  readonly frame: Buffer;
}

export interface VersionRangeOf {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** Topics the fuzzer creates before fuzzing; corpus requests name them. */
export const FUZZ_TOPICS: readonly { name: string; partitions: number }[] = [
  { name: "fuzz-a", partitions: 3 },
  { name: "fuzz-b", partitions: 1 },
  { name: "fuzz-bomb", partitions: 4 },
];
export const FUZZ_GROUP = "fuzz-group";
export const FUZZ_TXN = "fuzz-txn";
export const CLIENT_ID = "oncedb-fuzz";
const VARIANTS_PER_VERSION = 3;

type Obj = Record<string, unknown>;

interface GenContext {
  rng: Rng;
  topic: { name: string; partitions: number };
  tmpTopic: string;
}

function pickTopic(ctx: GenContext): string {
  // fuzz-bomb is left to the bomb cases so their ListOffsets hit what they produced.
  ctx.topic = ctx.rng.pick(FUZZ_TOPICS.slice(0, 2));
  return ctx.topic.name;
}

function partitionOf(ctx: GenContext): number {
  return ctx.rng.int(ctx.topic.partitions);
}

function genStruct(fields: readonly FieldSchema[], version: number, path: string, ctx: GenContext): Obj {
  const out: Obj = {};
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    out[f.name] = genField(f, version, `${path}.${f.name}`, ctx);
  }
  return out;
}

function nullable(f: FieldSchema, version: number): boolean {
  return inRange(f.nullableVersions, version);
}

function genField(f: FieldSchema, version: number, path: string, ctx: GenContext): unknown {
  const { rng } = ctx;
  const api = path.slice(0, path.indexOf("."));
  if (f.type === "struct") return genStruct(f.fields ?? [], version, path, ctx);
  if (f.type === "array") {
    switch (f.name) {
      case "configs":
        return rng.chance(0.5) ? [] : [{ name: "retention.ms", value: "3600000" }];
      case "assignments":
        if (api === "SyncGroup") return [];
        return nullable(f, version) ? null : [];
      case "forgottenTopicsData":
      case "producerIdFilters":
      case "stateFilters":
      case "statesFilter":
      case "typesFilter":
        return [];
      case "configurationKeys":
        return nullable(f, version) ? null : [];
      case "brokerIds":
        return [0];
      case "partitionIndexes":
        return ctx.topic.partitions > 1 ? [0, 1] : [0];
      case "topicNames":
        return [ctx.tmpTopic];
      case "groups":
        if (f.item !== "struct") return [FUZZ_GROUP];
        break;
      case "groupsNames":
        return [`${FUZZ_GROUP}-${rng.int(3)}`];
      case "coordinatorKeys":
        return [FUZZ_GROUP];
      case "transactionalIds":
        return [FUZZ_TXN];
      case "protocols":
        return [
          {
            name: "range",
            metadata: encodeConsumerSubscription(
              { topics: ["fuzz-a"], userData: null, ownedPartitions: [], generationId: -1, rackId: null },
              0,
            ),
          },
        ];
      case "members":
        return [{ memberId: "fuzz-member", groupInstanceId: null, reason: null }];
    }
    if (f.name === "partitions" && f.item !== "struct") return [partitionOf(ctx)];
    if (f.name === "topics" && api === "Metadata" && nullable(f, version) && rng.chance(0.2)) return null;
    const n = f.item === "struct" ? (rng.chance(0.8) ? 1 : 2) : 1;
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      if (f.item === "struct") out.push(genStruct(f.fields ?? [], version, path, ctx));
      else out.push(genPrimitiveByType(f.item as string, ctx));
    }
    return out;
  }
  return genPrimitive(f, version, path, api, ctx);
}

function genPrimitiveByType(type: string, ctx: GenContext): unknown {
  switch (type) {
    case "string":
      return pickTopic(ctx);
    case "int64":
      return -1;
    case "uuid":
      return ZERO_UUID;
    case "bool":
      return false;
    default:
      return 0;
  }
}

function genPrimitive(f: FieldSchema, version: number, path: string, api: string, ctx: GenContext): unknown {
  const { rng } = ctx;
  switch (f.name) {
    case "name":
      if (path.endsWith("configs.name")) return "retention.ms";
      if (api === "CreateTopics") return ctx.tmpTopic;
      if (api === "JoinGroup") return "range";
      return pickTopic(ctx);
    case "topic":
    case "resourceName":
      return pickTopic(ctx);
    case "value":
      return "3600000";
    case "resourceType":
      return 2;
    case "partition":
    case "partitionIndex":
    case "index":
      return partitionOf(ctx);
    case "records":
      return validBatch(rng, { gzip: rng.chance(0.3), records: rng.range(1, 4) });
    case "acks":
      return rng.pick([-1, -1, 1, 0]);
    case "timeoutMs":
      return 5000;
    case "maxWaitMs":
      return rng.pick([0, 10, 100]);
    case "minBytes":
      return 1;
    case "maxBytes":
    case "partitionMaxBytes":
      return 1024 * 1024;
    case "fetchOffset":
    case "committedOffset":
      return rng.pick([0, 1, 5]);
    case "offset":
      return 0;
    case "logStartOffset":
    case "currentLeaderEpoch":
    case "lastFetchedEpoch":
    case "committedLeaderEpoch":
    case "replicaId":
    case "sessionEpoch":
    case "commitTimestamp":
    case "retentionTimeMs":
    case "generationId":
    case "generationIdOrMemberEpoch":
    case "memberEpoch":
    case "durationFilter":
    case "replicaEpoch":
      return -1;
    case "sessionId":
      return 0;
    case "isolationLevel":
      return rng.int(2);
    case "timestamp":
      return rng.pick([-1, -2, 0, FUZZ_TIMESTAMP_MS, FUZZ_TIMESTAMP_MS + 2, Date.UTC(2030, 0)]);
    case "maxNumOffsets":
      return 1;
    case "groupId":
    case "key":
      return FUZZ_GROUP;
    case "keyType":
      return 0;
    case "memberId":
      return rng.pick(["", "", "fuzz-member"]);
    case "groupInstanceId":
    case "reason":
    case "rackId":
    case "committedMetadata":
      return nullable(f, version) ? null : "";
    case "protocolType":
      return "consumer";
    case "protocolName":
      return "range";
    case "sessionTimeoutMs":
    case "rebalanceTimeoutMs":
      return 10_000;
    case "transactionalId":
    case "v3AndBelowTransactionalId":
      if (api === "Produce") return null;
      return nullable(f, version) && rng.chance(0.3) ? null : FUZZ_TXN;
    case "transactionTimeoutMs":
      return 60_000;
    case "producerId":
    case "v3AndBelowProducerId":
      return rng.pick([-1, 1000]);
    case "producerEpoch":
    case "v3AndBelowProducerEpoch":
      return rng.pick([-1, 0]);
    case "numPartitions":
      return rng.range(1, 2);
    case "replicationFactor":
      return 1;
    case "count":
      return 4;
    case "validateOnly":
      return rng.chance(0.7);
    case "allowAutoTopicCreation":
      return rng.chance(0.5);
    case "committed":
      return rng.chance(0.5);
    case "clientSoftwareName":
      return CLIENT_ID;
    case "clientSoftwareVersion":
      return "0.1.0";
    case "clusterId":
      return null;
  }
  switch (f.type) {
    case "bool":
      return false;
    case "string":
      return nullable(f, version) ? null : "";
    case "uuid":
      return ZERO_UUID;
    case "bytes":
      return Buffer.alloc(0);
    case "records":
      return null;
    case "int64":
      return -1;
    default:
      return typeof f.default === "number" ? f.default : 0;
  }
}

/** Encodes a whole request frame (length prefix, header, body) with our codec. */
export function encodeRequestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
): Buffer {
  const api = API_BY_KEY.get(apiKey);
  if (!api) throw new Error(`no schema for API ${apiKey}`);
  const w = new Writer({ frame: true });
  w.int16(apiKey).int16(apiVersion).int32(correlationId);
  const hv = requestHeaderVersion(apiKey, apiVersion);
  if (hv >= 1) w.nullableString(CLIENT_ID);
  if (hv >= 2) w.uvarint(0);
  encodeMessage(api.request, apiVersion, body, w);
  return w.toBuffer();
}

/** Codec-built requests for every advertised API and version (deterministic). */
export function codecCorpus(advertised: readonly VersionRangeOf[]): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const a of [...advertised].sort((x, y) => x.apiKey - y.apiKey)) {
    const api = API_BY_KEY.get(a.apiKey);
    if (!api) continue;
    const lo = Math.max(a.minVersion, api.request.validVersions[0]);
    const hi = Math.min(a.maxVersion, api.request.validVersions[1]);
    for (let v = lo; v <= hi; v++) {
      for (let variant = 0; variant < VARIANTS_PER_VERSION; variant++) {
        const rng = new Rng(a.apiKey * 1000 + v, variant);
        const ctx: GenContext = { rng, topic: FUZZ_TOPICS[0]!, tmpTopic: `fuzz-tmp-${rng.int(8)}` };
        try {
          const body = genStruct(api.request.fields, v, api.name, ctx);
          const frame = encodeRequestFrame(a.apiKey, v, 1000 + out.length, body);
          out.push({ source: "codec", apiKey: a.apiKey, apiVersion: v, frame });
        } catch {
          // A value the encoder refuses in this version: skip the variant.
        }
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ kafkajs capture

/**
 * A loopback TCP proxy that records every request frame clients send through it. The server
 * must advertise the proxy's address, or kafkajs would go around it after bootstrapping.
 */
export class RecordingProxy {
  readonly frames: Buffer[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly upstream: { host: string; port: number },
    private readonly framesMax: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 and an ephemeral port; `upstream` can be set later with target(). */
  static async listen(framesMax = 5000): Promise<RecordingProxy> {
    const p = new RecordingProxy({ host: "127.0.0.1", port: 0 }, framesMax);
    await new Promise<void>((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(0, "127.0.0.1", () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  target(host: string, port: number): void {
    (this.upstream as { host: string; port: number }).host = host;
    (this.upstream as { host: string; port: number }).port = port;
  }

  private accept(client: net.Socket): void {
    const up = net.connect(this.upstream);
    this.sockets.add(client);
    this.sockets.add(up);
    let pending: Buffer = Buffer.alloc(0);
    client.on("data", (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      while (pending.length >= 4) {
        const len = pending.readInt32BE(0);
        if (len < 0 || pending.length < 4 + len) break;
        if (this.frames.length < this.framesMax) this.frames.push(Buffer.from(pending.subarray(0, 4 + len)));
        pending = pending.subarray(4 + len);
      }
      up.write(d);
    });
    up.on("data", (d: Buffer) => client.write(d));
    const end = () => {
      client.destroy();
      up.destroy();
      this.sockets.delete(client);
      this.sockets.delete(up);
    };
    client.on("close", end);
    up.on("close", end);
    client.on("error", end);
    up.on("error", end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}

/**
 * Runs kafkajs admin, producer, transactional and consumer flows against `broker` (the proxy).
 * Failures are ignored: whatever was sent is what gets recorded. Bounded by `budgetMs`.
 */
export async function runKafkajsFlows(broker: string, budgetMs: number): Promise<void> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  const kafka = new Kafka({
    clientId: "oncedb-fuzz-kafkajs",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 2 },
    connectionTimeout: 3000,
    requestTimeout: 5000,
  });
  const topic = "fuzz-kjs";
  const group = "fuzz-kjs-group";
  const deadline = Date.now() + budgetMs;
  const left = () => Math.max(100, deadline - Date.now());
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true });
  const txProducer = kafka.producer({
    transactionalId: "fuzz-kjs-txn",
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 300, sessionTimeout: 6000 });
  const step = (p: () => Promise<unknown>) => withTimeout(p(), left());
  try {
    await step(() => admin.connect());
    await step(() =>
      admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: `${topic}-tmp` }] }),
    );
    await step(() => admin.fetchTopicMetadata({ topics: [topic] }));
    await step(() => admin.listTopics());
    await step(() =>
      admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false }),
    );
    await step(() => admin.createPartitions({ topicPartitions: [{ topic: `${topic}-tmp`, count: 2 }] }));
    await step(() => producer.connect());
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
      await step(() =>
        producer.send({
          topic,
          compression,
          messages: Array.from({ length: 5 }, (_, i) => ({
            key: `k${i}`,
            value: `v${i}`,
            headers: { h: "x" },
            partition: i % 2,
          })),
        }),
      );
    }
    await step(() => admin.fetchTopicOffsets(topic));
    await step(() => admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 60_000));
    await step(() => txProducer.connect());
    for (const commit of [true, false]) {
      await step(async () => {
        const tx = await txProducer.transaction();
        await tx.send({ topic, messages: [{ value: `tx-${commit}`, partition: 0 }] });
        await tx.sendOffsets({
          consumerGroupId: group,
          topics: [{ topic, partitions: [{ partition: 1, offset: "1" }] }],
        });
        if (commit) await tx.commit();
        else await tx.abort();
      });
    }
    await step(async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      const enough = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async () => {
            if (++seen >= 5) resolve();
          },
        });
      });
      await withTimeout(enough, Math.min(8000, left()));
      await consumer.commitOffsets([{ topic, partition: 0, offset: "1" }]);
    });
    await step(() => consumer.disconnect());
    await step(() => admin.listGroups());
    await step(() => admin.describeGroups([group]));
    await step(() => admin.fetchOffsets({ groupId: group, topics: [topic] }));
    await step(() => admin.deleteTopicRecords({ topic, partitions: [{ partition: 1, offset: "1" }] }));
    await step(() => admin.deleteGroups(["fuzz-kjs-nogroup"]));
    await step(() => admin.deleteTopics({ topics: [`${topic}-tmp`] }));
  } finally {
    await Promise.all([consumer, producer, txProducer, admin].map((c) => withTimeout(c.disconnect(), 2000)));
  }
}

/** The recorded frames as corpus entries (only APIs the server serves are kept). */
export function kafkajsCorpus(
  frames: readonly Buffer[],
  advertised: readonly VersionRangeOf[],
): CorpusEntry[] {
  const ranges = new Map(advertised.map((a) => [a.apiKey, a]));
  const out: CorpusEntry[] = [];
  for (const frame of frames) {
    if (frame.length < 12) continue;
    const apiKey = frame.readInt16BE(4);
    const apiVersion = frame.readInt16BE(6);
    const r = ranges.get(apiKey);
    if (!r || apiVersion < r.minVersion || apiVersion > r.maxVersion) continue;
    out.push({ source: "kafkajs", apiKey, apiVersion, frame });
  }
  return out;
}
