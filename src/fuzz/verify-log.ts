/**
 * After fuzzing: read every non-empty partition from its log start to its high watermark with
 * a fresh connection, as a consumer would, and check each stored batch. Problems are sorted by
 * what they mean:
 * - inconsistencies (the log itself is wrong: bad CRC, partial or overlapping batches, gaps,
 *   a fetch that cannot make progress): always a server bug;
 * - poison (the log holds what a consumer cannot read: records that do not parse, counts that
 *   lie, compression bombs, unknown codecs): the server accepted a batch Kafka would refuse.
 */
import { crc32c } from "@node-rs/crc32";
import { Attr, BatchField } from "../log/record-batch.js";
import { KafkaClient } from "../protocol/kafka/client.js";
import { defaultValue } from "../protocol/kafka/codec/codec.js";
import { Fetch, ListOffsets, Metadata } from "../protocol/kafka/generated/messages.js";
import { checkRecords, kafkajsReads } from "./batches.js";

const FETCH_BYTES = 8 * 1024 * 1024;
const SAMPLES_KEPT = 20;
const REQUEST_TIMEOUT_MS = 60_000;

export interface LogProblem {
  topic: string;
  partition: number;
  offset: number;
  problem: string;
}

export interface LogReport {
  topics: number;
  partitions: number;
  partitionsWithData: number;
  batches: number;
  records: number;
  bytes: number;
  inconsistencies: number;
  poisonBatches: number;
  kafkajsFailures: number;
  inconsistencySamples: LogProblem[];
  poisonSamples: LogProblem[];
  durationMs: number;
}

export async function verifyLog(address: string): Promise<LogReport> {
  const t0 = Date.now();
  const report: LogReport = {
    topics: 0,
    partitions: 0,
    partitionsWithData: 0,
    batches: 0,
    records: 0,
    bytes: 0,
    inconsistencies: 0,
    poisonBatches: 0,
    kafkajsFailures: 0,
    inconsistencySamples: [],
    poisonSamples: [],
    durationMs: 0,
  };
  const inconsistent = (p: LogProblem) => {
    report.inconsistencies++;
    if (report.inconsistencySamples.length < SAMPLES_KEPT) report.inconsistencySamples.push(p);
  };
  const poison = (p: LogProblem) => {
    report.poisonBatches++;
    if (report.poisonSamples.length < SAMPLES_KEPT) report.poisonSamples.push(p);
  };
  const c = await KafkaClient.connect(address);
  try {
    const md = await c.request(
      Metadata,
      8,
      { ...defaultValue(Metadata.request), topics: null, allowAutoTopicCreation: false },
      REQUEST_TIMEOUT_MS,
    );
    for (const t of md.topics ?? []) {
      if (t.errorCode !== 0 || !t.name) continue;
      report.topics++;
      const parts = (t.partitions ?? []).map((p) => p.partitionIndex ?? 0);
      report.partitions += parts.length;
      const bounds = new Map<number, { start: number; end: number }>();
      for (const [which, ts] of [
        ["start", -2],
        ["end", -1],
      ] as const) {
        const lo = await c.request(
          ListOffsets,
          5,
          {
            ...defaultValue(ListOffsets.request),
            replicaId: -1,
            isolationLevel: 0,
            topics: [
              {
                name: t.name,
                partitions: parts.map((p) => ({
                  partitionIndex: p,
                  currentLeaderEpoch: -1,
                  timestamp: ts,
                  maxNumOffsets: 1,
                })),
              },
            ],
          },
          REQUEST_TIMEOUT_MS,
        );
        for (const p of lo.topics?.[0]?.partitions ?? []) {
          const b = bounds.get(p.partitionIndex ?? 0) ?? { start: 0, end: 0 };
          if (p.errorCode !== 0) {
            inconsistent({
              topic: t.name,
              partition: p.partitionIndex ?? -1,
              offset: -1,
              problem: `ListOffsets error ${p.errorCode}`,
            });
          }
          b[which] = Number(p.offset ?? 0);
          bounds.set(p.partitionIndex ?? 0, b);
        }
      }
      for (const [partition, { start, end }] of bounds) {
        if (end <= start) continue;
        report.partitionsWithData++;
        await readPartition(c, t.name, partition, start, end, report, inconsistent, poison);
      }
    }
  } finally {
    c.close();
  }
  report.durationMs = Date.now() - t0;
  return report;
}

async function readPartition(
  c: KafkaClient,
  topic: string,
  partition: number,
  start: number,
  end: number,
  report: LogReport,
  inconsistent: (p: LogProblem) => void,
  poison: (p: LogProblem) => void,
): Promise<void> {
  let offset = start;
  let expectNext: number | null = null;
  while (offset < end) {
    const fr = await c.request(
      Fetch,
      11,
      {
        ...defaultValue(Fetch.request),
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: FETCH_BYTES,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            topicId: "AAAAAAAAAAAAAAAAAAAAAA",
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: offset,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: FETCH_BYTES,
                replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      },
      REQUEST_TIMEOUT_MS,
    );
    const p = fr.responses?.[0]?.partitions?.[0];
    const at = { topic, partition, offset };
    if (p?.errorCode !== 0) {
      inconsistent({ ...at, problem: `Fetch error ${p?.errorCode}` });
      return;
    }
    const blob = (p.records as Buffer | null) ?? Buffer.alloc(0);
    let pos = 0;
    let progressed = false;
    while (pos < blob.length) {
      if (blob.length - pos < 61) {
        inconsistent({ ...at, problem: `partial batch: ${blob.length - pos} bytes left in the response` });
        return;
      }
      const baseOffset = Number(blob.readBigInt64BE(pos + BatchField.baseOffset));
      const size = blob.readInt32BE(pos + BatchField.batchLength) + 12;
      if (size < 61 || pos + size > blob.length) {
        inconsistent({
          ...at,
          offset: baseOffset,
          problem: `batch length ${size} does not fit the response`,
        });
        return;
      }
      const batch = blob.subarray(pos, pos + size);
      pos += size;
      const here = { topic, partition, offset: baseOffset };
      report.batches++;
      report.bytes += size;
      const magic = batch.readInt8(BatchField.magic);
      if (magic !== 2) {
        inconsistent({ ...here, problem: `magic ${magic} stored` });
        continue;
      }
      const crc = batch.readUInt32BE(BatchField.crc);
      if (crc32c(batch.subarray(BatchField.attributes)) !== crc)
        inconsistent({ ...here, problem: "CRC-32C mismatch" });
      const lastDelta = batch.readInt32BE(BatchField.lastOffsetDelta);
      const lastOffset = baseOffset + lastDelta;
      if (lastDelta < 0) inconsistent({ ...here, problem: `last offset delta ${lastDelta}` });
      if (expectNext === null) {
        if (baseOffset > offset || lastOffset < offset) {
          inconsistent({
            ...here,
            problem: `first batch ${baseOffset}..${lastOffset} does not hold fetch offset ${offset}`,
          });
        }
      } else if (baseOffset !== expectNext) {
        inconsistent({
          ...here,
          problem:
            baseOffset > expectNext
              ? `gap: offsets ${expectNext}..${baseOffset - 1} missing`
              : `overlaps the previous batch (expected ${expectNext})`,
        });
      }
      expectNext = lastOffset + 1;
      offset = Math.max(offset, lastOffset + 1);
      progressed = true;
      const attributes = batch.readInt16BE(BatchField.attributes);
      if (attributes & Attr.control) continue;
      const count = batch.readInt32BE(BatchField.recordCount);
      if (count !== lastDelta + 1)
        poison({ ...here, problem: `record count ${count} but last offset delta ${lastDelta}` });
      const strict = checkRecords(batch);
      if (!strict.ok) {
        poison({ ...here, problem: strict.problem ?? "records do not parse" });
        continue;
      }
      report.records += strict.records ?? 0;
      const codec = attributes & Attr.codecMask;
      if (codec === 0 || codec === 1) {
        const err = await kafkajsReads(batch);
        if (err) {
          report.kafkajsFailures++;
          poison({ ...here, problem: `kafkajs: ${err}` });
        }
      }
    }
    if (!progressed) {
      if (offset < Number(p.highWatermark ?? end))
        inconsistent({ ...at, problem: `no batch returned below the high watermark ${p.highWatermark}` });
      return;
    }
  }
}
