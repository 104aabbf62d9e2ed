/**
 * Kafka RecordBatch (magic v2): the unit the log stores, exactly as a producer sent it.
 *
 * Byte layout of the 61-byte header (big-endian):
 *
 *   offset  size  field
 *        0     8  baseOffset            assigned by the broker on append
 *        8     4  batchLength           bytes after this field (total = batchLength + 12)
 *       12     4  partitionLeaderEpoch  assigned by the broker (0 on a single node)
 *       16     1  magic                 must be 2
 *       17     4  crc                   CRC-32C of bytes [21, end)
 *       21     2  attributes            bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  recordCount
 *       61     …  records (possibly compressed)
 *
 * Because the CRC starts at byte 21, the broker may rewrite baseOffset and partitionLeaderEpoch
 * without recomputing it. Nothing here decodes individual records: validation is header checks
 * plus one CRC pass, which keeps the append path free of per-record work.
 */
import { crc32c } from "@node-rs/crc32";

export const RECORD_BATCH_HEADER_BYTES = 61;
/**
 * Records one batch may claim. librdkafka's batch.num.messages tops out at 1,000,000; the bound
 * keeps a lying count (a compressed batch cannot be checked without inflating it) from burning
 * the partition's offset space, which JS numbers hold exactly only up to 2^53.
 */
export const RECORDS_PER_BATCH_MAX = 1 << 20;
export const RECORD_BATCH_MAGIC = 2;
/** Bytes before batchLength's coverage starts: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD_BYTES = 12;

export const BatchField = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const;

export const Attr = {
  codecMask: 0x07,
  timestampTypeLogAppend: 0x08,
  transactional: 0x10,
  control: 0x20,
} as const;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

export interface BatchHeader {
  readonly sizeBytes: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** Why a produced batch was refused; names are the Kafka error names the adapters map. */
export type BatchRejection =
  | "CORRUPT_MESSAGE"
  | "INVALID_TIMESTAMP"
  | "INVALID_RECORD"
  | "UNSUPPORTED_FOR_MESSAGE_FORMAT"
  | "MESSAGE_TOO_LARGE";

export type BatchCheck =
  | { readonly ok: true; readonly header: BatchHeader }
  | { readonly ok: false; readonly error: BatchRejection; readonly message: string };

/**
 * Validates the `records` field of one partition in a Produce request: exactly one v2 batch
 * (as Kafka requires for magic 2), lengths consistent, CRC-32C correct, not a control batch.
 */
export function checkProducedBatch(buf: Buffer, maxBatchBytes: number): BatchCheck {
  // Message sets of magic 0 and 1 keep their magic byte at the same offset, so an old format
  // is recognised (and refused by name) even when it is shorter than a v2 header.
  if (buf.length > BatchField.magic && buf.readInt8(BatchField.magic) !== RECORD_BATCH_MAGIC) {
    const magic = buf.readInt8(BatchField.magic);
    return reject("UNSUPPORTED_FOR_MESSAGE_FORMAT", `record batch magic ${magic}; only magic 2 is supported`);
  }
  if (buf.length < RECORD_BATCH_HEADER_BYTES) {
    return reject("CORRUPT_MESSAGE", `record batch of ${buf.length} bytes is shorter than its header`);
  }
  const batchLength = buf.readInt32BE(BatchField.batchLength);
  const size = batchLength + BATCH_LOG_OVERHEAD_BYTES;
  if (batchLength < RECORD_BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES || size > buf.length) {
    return reject(
      "CORRUPT_MESSAGE",
      `record batch length ${batchLength} does not fit the ${buf.length} bytes sent`,
    );
  }
  if (size < buf.length) {
    return reject("INVALID_RECORD", "a produce request must hold exactly one record batch per partition");
  }
  if (size > maxBatchBytes) {
    return reject(
      "MESSAGE_TOO_LARGE",
      `record batch of ${size} bytes exceeds max.message.bytes ${maxBatchBytes}`,
    );
  }
  const crc = buf.readUInt32BE(BatchField.crc);
  const actual = crc32c(buf.subarray(BatchField.attributes, size));
  if (crc !== actual) return reject("CORRUPT_MESSAGE", "record batch CRC-32C mismatch");
  const header = readBatchHeader(buf);
  if (header.attributes & Attr.control) {
    return reject("INVALID_RECORD", "clients may not produce control batches");
  }
  if (header.recordCount > RECORDS_PER_BATCH_MAX) {
    return reject(
      "INVALID_RECORD",
      `record count ${header.recordCount} exceeds ${RECORDS_PER_BATCH_MAX} per batch`,
    );
  }
  // Offsets, timestamps and producer ids are JS numbers: refuse what they cannot hold exactly.
  if (!Number.isSafeInteger(header.baseTimestamp) || !Number.isSafeInteger(header.maxTimestamp)) {
    return reject("INVALID_TIMESTAMP", "record batch timestamps beyond 2^53 ms");
  }
  if (!Number.isSafeInteger(header.producerId)) {
    return reject("INVALID_RECORD", `producer id ${header.producerId} beyond 2^53`);
  }
  if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
    return reject(
      "INVALID_RECORD",
      `record count ${header.recordCount} does not match last offset delta ${header.lastOffsetDelta}`,
    );
  }
  // Each record takes at least 7 bytes on the wire, so a count above this is a lie; the bound
  // keeps a hostile count from sizing anything downstream.
  if (header.recordCount > size - RECORD_BATCH_HEADER_BYTES && (header.attributes & Attr.codecMask) === 0) {
    return reject("CORRUPT_MESSAGE", `record count ${header.recordCount} cannot fit in ${size} bytes`);
  }
  return { ok: true, header };
}

function reject(error: BatchRejection, message: string): BatchCheck {
  return { ok: false, error, message };
}

export function readBatchHeader(buf: Buffer): BatchHeader {
  return {
    sizeBytes: buf.readInt32BE(BatchField.batchLength) + BATCH_LOG_OVERHEAD_BYTES,
    attributes: buf.readInt16BE(BatchField.attributes),
    lastOffsetDelta: buf.readInt32BE(BatchField.lastOffsetDelta),
    baseTimestamp: Number(buf.readBigInt64BE(BatchField.baseTimestamp)),
    maxTimestamp: Number(buf.readBigInt64BE(BatchField.maxTimestamp)),
    producerId: Number(buf.readBigInt64BE(BatchField.producerId)),
    producerEpoch: buf.readInt16BE(BatchField.producerEpoch),
    baseSequence: buf.readInt32BE(BatchField.baseSequence),
    recordCount: buf.readInt32BE(BatchField.recordCount),
  };
}

/** Stamps the broker-assigned fields; both lie outside the CRC's coverage. */
export function assignBaseOffset(buf: Buffer, baseOffset: number): void {
  buf.writeBigInt64BE(BigInt(baseOffset), BatchField.baseOffset);
  buf.writeInt32BE(0, BatchField.partitionLeaderEpoch);
}

/** Producer id and whether it is a control batch, read from a stored batch's header. */
export function batchProducer(buf: Buffer): { producerId: number; isControl: boolean } {
  return {
    producerId: Number(buf.readBigInt64BE(BatchField.producerId)),
    isControl: (buf.readInt16BE(BatchField.attributes) & Attr.control) !== 0,
  };
}

/** A v2 batch's compression codec (Compression), or -1 if `buf` is too short to hold one. */
export function batchCodec(buf: Buffer): number {
  if (buf.length < BatchField.attributes + 2 || buf.readInt8(BatchField.magic) !== RECORD_BATCH_MAGIC)
    return -1;
  return buf.readInt16BE(BatchField.attributes) & Attr.codecMask;
}
