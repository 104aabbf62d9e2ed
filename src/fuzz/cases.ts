/**
 * Case planning: from (seed, case index, corpus) to the exact bytes a case sends. Pure and
 * deterministic, so `--case N` regenerates any case of a run.
 */
import { decodeMessage, defaultValue } from "../protocol/kafka/codec/codec.js";
import { decodeRequestHeader, requestHeaderVersion } from "../protocol/kafka/codec/header.js";
import { Reader } from "../protocol/kafka/codec/reader.js";
import { Fetch, ListOffsets, Produce, type ProduceRequest } from "../protocol/kafka/generated/messages.js";
import { FUZZ_TIMESTAMP_MS, validBatch } from "./batches.js";
import { type CorpusEntry, encodeRequestFrame, FUZZ_TOPICS, type VersionRangeOf } from "./corpus.js";
import { layoutRequest } from "./layout.js";
import { BOMB_KINDS, bodyOf, bombProduce, framed, mutateFrame, mutateProduce } from "./mutators.js";
import { caseRng, type Rng } from "./rng.js";

/** APIs whose requests may legitimately wait a long time before answering. */
export const PARKING_API_KEYS: ReadonlySet<number> = new Set([1, 11, 14]);

export type CaseKind =
  | "mutate"
  | "records"
  | "bomb"
  | "valid"
  | "pipeline"
  | "burst"
  | "random"
  | "garbage"
  | "dribble"
  | "connections"
  | "unread";

const KIND_WEIGHTS: readonly (readonly [number, CaseKind])[] = [
  [46, "mutate"],
  [14, "records"],
  [0.4, "bomb"],
  [5, "valid"],
  [10, "pipeline"],
  [1.5, "burst"],
  [8, "random"],
  [3, "garbage"],
  [2, "dribble"],
  [0.6, "connections"],
  [0.5, "unread"],
];

export interface CasePlan {
  readonly index: number;
  readonly kind: CaseKind;
  /** What was done, e.g. "mutate:bit-flip+truncate" or "records:interior-valid-crc". */
  readonly name: string;
  /** API of the corpus frame the case started from, if any. */
  readonly apiKey: number | null;
  /** Written in order; with dribbleMs, each write is followed by that pause. */
  readonly writes: Buffer[];
  readonly dribbleMs?: number;
  /**
   * Each write after the first waits for a response to the previous one (or a short timeout):
   * a ListOffsets pipelined behind its Produce would run before the batch is committed.
   */
  readonly sequential?: boolean;
  /** "unread": pipelined requests whose responses are not read for this long. */
  readonly unreadMs?: number;
  /** "connections": this many sockets, each sending `writes[i % writes.length]`. */
  readonly connections?: number;
}

export interface Corpus {
  readonly codec: readonly CorpusEntry[];
  readonly kafkajs: readonly CorpusEntry[];
  readonly advertised: readonly VersionRangeOf[];
}

function pickEntry(rng: Rng, corpus: Corpus, filter?: (e: CorpusEntry) => boolean): CorpusEntry | null {
  // The draw happens whatever the corpus, so codec picks are the same with or without kafkajs frames.
  const useKafkajs = rng.chance(0.35) && corpus.kafkajs.length > 0;
  let pool = useKafkajs ? corpus.kafkajs : corpus.codec;
  if (filter) pool = pool.filter(filter);
  if (pool.length === 0 && useKafkajs) pool = filter ? corpus.codec.filter(filter) : corpus.codec;
  return pool.length ? rng.pick(pool) : null;
}

/** A Produce frame with its acks field set. */
function withAcks(frame: Buffer, acks: number): Buffer {
  const layout = layoutRequest(bodyOf(frame));
  const slot = layout?.slots.find((s) => s.kind === "int" && s.name === "acks");
  if (!slot) return frame;
  const out = Buffer.from(frame);
  out.writeInt16BE(acks, 4 + slot.pos);
  return out;
}

/** Topic and partition of a Produce frame's first partition, if it decodes. */
function produceTarget(frame: Buffer): { topic: string; partition: number; version: number } | null {
  try {
    const r = new Reader(bodyOf(frame));
    const h = decodeRequestHeader(r, requestHeaderVersion(0, frame.readInt16BE(6)));
    const req = decodeMessage(Produce.request, h.apiVersion, r) as ProduceRequest;
    const t = req.topicData[0];
    const p = t?.partitionData[0];
    return t && p ? { topic: t.name, partition: p.index, version: h.apiVersion } : null;
  } catch {
    return null;
  }
}

/** ListOffsets by timestamp and a Fetch of one partition: what makes the server look inside batches. */
function lookInside(topic: string, partition: number, timestampMs: number, correlationId: number): Buffer[] {
  const lo = encodeRequestFrame(ListOffsets.apiKey, 5, correlationId, {
    ...defaultValue(ListOffsets.request),
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: topic,
        partitions: [
          { partitionIndex: partition, currentLeaderEpoch: -1, timestamp: timestampMs, maxNumOffsets: 1 },
        ],
      },
    ],
  });
  const fe = encodeRequestFrame(Fetch.apiKey, 11, correlationId + 1, {
    ...defaultValue(Fetch.request),
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 4 * 1024 * 1024,
    isolationLevel: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: "AAAAAAAAAAAAAAAAAAAAAA",
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: 0,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 4 * 1024 * 1024,
            replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
          },
        ],
      },
    ],
    rackId: "",
  });
  return [lo, fe];
}

/**
 * A timestamp unique to a case and increasing with its index: ListOffsets for it finds the
 * first batch whose max timestamp is at least it, which is this case's batch (or one from a
 * later case), not whatever batch happens to be first in the partition.
 */
export function caseTimestamp(index: number): number {
  return FUZZ_TIMESTAMP_MS + 1_000_000 + index * 10;
}

function randomFrame(rng: Rng, corpus: Corpus): Buffer {
  const body = Buffer.alloc(8 + rng.int(300));
  const known = rng.chance(0.8) && corpus.advertised.length > 0;
  const a = known ? rng.pick(corpus.advertised) : null;
  body.writeInt16BE(a ? a.apiKey : rng.range(-32768, 32767), 0);
  body.writeInt16BE(a ? rng.range(a.minVersion - 1, a.maxVersion + 1) : rng.range(-32768, 32767), 2);
  body.writeInt32BE(rng.u32() | 0, 4);
  const skew = rng.chance(0.3);
  for (let i = 8; i < body.length; i++) {
    body[i] = skew ? rng.pick([0, 0, 0, 0xff, 0xff, 1, 0x7f, rng.int(256)]) : rng.int(256);
  }
  // Often a plausible client id (int16 length) so the body is reached.
  if (body.length >= 10 && rng.chance(0.5)) body.writeInt16BE(rng.chance(0.5) ? -1 : 0, 8);
  return framed(body);
}

/** The plan of case `index`: kind, name and bytes. */
export function planCase(seed: number, index: number, corpus: Corpus): CasePlan {
  const rng = caseRng(seed, index);
  const kind = rng.weighted(KIND_WEIGHTS);
  const base = { index, kind };
  switch (kind) {
    case "mutate": {
      const e = pickEntry(rng, corpus);
      if (!e) break;
      const m = mutateFrame(e.frame, rng);
      return { ...base, name: `mutate:${m.name}`, apiKey: e.apiKey, writes: [m.bytes] };
    }
    case "records": {
      const e = pickEntry(rng, corpus, (x) => x.apiKey === 0 && x.apiVersion >= 3);
      if (!e) break;
      const ts = caseTimestamp(index);
      // acks=0 has no response to wait for before looking inside: mostly ask for one.
      const m = mutateProduce(rng.chance(0.9) ? withAcks(e.frame, -1) : e.frame, rng, ts);
      if (!m) break;
      const writes = [m.bytes];
      const target = produceTarget(e.frame);
      if (target && rng.chance(0.6)) {
        writes.push(
          ...lookInside(
            target.topic,
            target.partition,
            rng.chance(0.8) ? ts : 0,
            0x7e000000 + (index & 0xffff),
          ),
        );
      }
      return { ...base, name: m.name, apiKey: 0, writes, sequential: true };
    }
    case "bomb": {
      const bombTopic = FUZZ_TOPICS.find((t) => t.name === "fuzz-bomb")!;
      const partition = rng.int(bombTopic.partitions);
      const produce = encodeRequestFrame(Produce.apiKey, rng.range(3, 8), index & 0x7fffffff, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: bombTopic.name,
            partitionData: [{ index: partition, records: validBatch(null, { records: 1 }) }],
          },
        ],
      });
      const ts = caseTimestamp(index);
      const m = bombProduce(produce, rng, rng.pick(BOMB_KINDS), ts);
      if (!m) break;
      return {
        ...base,
        name: m.name,
        apiKey: 0,
        writes: [m.bytes, ...lookInside(bombTopic.name, partition, ts, 0x7d000000 + (index & 0xffff))],
        sequential: true,
      };
    }
    case "valid": {
      const e = pickEntry(rng, corpus);
      if (!e) break;
      return { ...base, name: `valid:${e.source}`, apiKey: e.apiKey, writes: [e.frame] };
    }
    case "pipeline": {
      const n = rng.range(2, 12);
      const parts: Buffer[] = [];
      const names: string[] = [];
      for (let i = 0; i < n; i++) {
        const roll = rng.float();
        if (roll < 0.1) {
          parts.push(rng.bytes(rng.range(1, 64)));
          names.push("garbage");
          continue;
        }
        const e = pickEntry(rng, corpus);
        if (!e) continue;
        if (roll < 0.6) {
          parts.push(e.frame);
          names.push("valid");
        } else {
          const m = mutateFrame(e.frame, rng);
          parts.push(m.bytes);
          names.push(m.name.split("+")[0]!);
        }
      }
      return { ...base, name: `pipeline:${names.length}`, apiKey: null, writes: [Buffer.concat(parts)] };
    }
    case "burst": {
      const n = rng.range(50, 200);
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const e = pickEntry(rng, corpus, (x) => !PARKING_API_KEYS.has(x.apiKey));
        if (e) parts.push(e.frame);
      }
      return { ...base, name: `burst:${parts.length}`, apiKey: null, writes: [Buffer.concat(parts)] };
    }
    case "unread": {
      // A client that pipelines up to the in-flight limit and does not read: what the server
      // holds for it is bounded only by what it buffers per connection.
      const n = rng.range(100, 200);
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const e = pickEntry(rng, corpus, (x) => !PARKING_API_KEYS.has(x.apiKey));
        if (e) parts.push(e.frame);
      }
      return {
        ...base,
        name: `unread:${parts.length}`,
        apiKey: null,
        writes: [Buffer.concat(parts)],
        unreadMs: rng.range(500, 3000),
      };
    }
    case "random":
      return { ...base, name: "random-frame", apiKey: null, writes: [randomFrame(rng, corpus)] };
    case "garbage":
      return { ...base, name: "garbage", apiKey: null, writes: [rng.bytes(rng.range(1, 8192))] };
    case "dribble": {
      const e = pickEntry(rng, corpus);
      if (!e) break;
      const bytes = rng.chance(0.5) ? e.frame : mutateFrame(e.frame, rng).bytes;
      const writes: Buffer[] = [];
      for (let pos = 0; pos < bytes.length; ) {
        const n = writes.length >= 399 ? bytes.length - pos : Math.min(bytes.length - pos, rng.range(1, 7));
        writes.push(bytes.subarray(pos, pos + n));
        pos += n;
      }
      return { ...base, name: "dribble", apiKey: e.apiKey, writes, dribbleMs: rng.range(0, 3) };
    }
    case "connections": {
      const n = rng.range(20, 150);
      const writes: Buffer[] = [];
      for (let i = 0; i < 8; i++) {
        const e = pickEntry(rng, corpus, (x) => !PARKING_API_KEYS.has(x.apiKey));
        if (!e) continue;
        writes.push(rng.chance(0.5) ? e.frame : e.frame.subarray(0, rng.range(1, e.frame.length - 1)));
      }
      if (writes.length === 0) break;
      return { ...base, name: `connections:${n}`, apiKey: null, writes, connections: n };
    }
  }
  return { ...base, kind: "random", name: "random-frame", apiKey: null, writes: [randomFrame(rng, corpus)] };
}
