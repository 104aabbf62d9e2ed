/**
 * Mutators: pure functions from a valid request frame (length prefix included) and a seeded
 * generator to the bytes to send. Byte-level ones know nothing of Kafka; structure-aware ones
 * use the frame's layout (layout.ts) to hit counts, lengths, varints and record batches.
 */
import { Attr, BatchField, RECORD_BATCH_HEADER_BYTES } from "../log/record-batch.js";
import { type BombKind, bombBatch, fixCrc, fixLength } from "./batches.js";
import { type FrameLayout, layoutRequest, type Slot } from "./layout.js";
import type { Rng } from "./rng.js";

export const FRAME_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;

export const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff];
export const INTERESTING_16 = [0, 1, -1, 0x7fff, -0x8000, 0xff, 0x100, -2];
export const INTERESTING_32 = [0, 1, -1, -2, 0x7fffffff, -0x80000000, 0x7ffffffe, 0xffff, 0x10000, 0x1000000];
export const INTERESTING_64 = [0n, 1n, -1n, -2n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, 2n ** 31n];

/** Frame bytes from a body: int32 length prefix + body. */
export function framed(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

export function bodyOf(frame: Buffer): Buffer {
  return frame.subarray(4);
}

/** Encodes an unsigned varint (any length, no overflow check: the point is to overflow). */
export function uvarintBytes(v: number): Buffer {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80) {
    out.push((x % 128) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
  return Buffer.from(out);
}

/** Over-long and overflowing varints, each a complete encoding the server must refuse. */
export const BAD_VARINTS: readonly Buffer[] = [
  Buffer.from("ffffffffff01", "hex"), // 6 bytes
  Buffer.from("ffffffff1f", "hex"), // 5th byte > 0x0f: > 32 bits
  Buffer.from("ffffffff0f", "hex"), // 2^32 - 1: count 2^32 - 2
  Buffer.from("feffffff0f", "hex"),
  Buffer.from("80808080808080808001", "hex"), // 10 bytes
  Buffer.from("ffffffffffffffffffff01", "hex"), // 11 bytes
  Buffer.from("8080808000", "hex"), // non-minimal zero
  Buffer.from("80", "hex"), // truncated
];

function replace(buf: Buffer, pos: number, width: number, bytes: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, pos), bytes, buf.subarray(pos + width)]);
}

export interface Mutation {
  /** Mutator name, for stats and the report. */
  readonly name: string;
  /** Bytes to send (one or more frames, or a fragment). */
  readonly bytes: Buffer;
  /** The Produce batch mutation applied, if any. */
  readonly batch?: string;
}

export type FrameMutator = (frame: Buffer, rng: Rng, layout: FrameLayout | null) => Buffer | null;

// ------------------------------------------------------------------ byte level (length kept consistent)

const truncate: FrameMutator = (frame, rng) => {
  const body = bodyOf(frame);
  return framed(body.subarray(0, rng.int(body.length)));
};

/** Cuts the frame itself: the length prefix promises more than arrives. */
const truncateRaw: FrameMutator = (frame, rng) => frame.subarray(0, rng.range(1, frame.length - 1));

const bitFlip: FrameMutator = (frame, rng) => {
  const body = Buffer.from(bodyOf(frame));
  const flips = rng.range(1, 8);
  for (let i = 0; i < flips; i++) {
    const at = rng.int(body.length);
    body[at] = body[at]! ^ (1 << rng.int(8));
  }
  return framed(body);
};

const overwrite: FrameMutator = (frame, rng) => {
  const body = Buffer.from(bodyOf(frame));
  const n = rng.range(1, 4);
  for (let i = 0; i < n; i++)
    body[rng.int(body.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.int(256);
  return framed(body);
};

const insertBytes: FrameMutator = (frame, rng) => {
  const body = bodyOf(frame);
  const at = rng.int(body.length + 1);
  const extra = rng.chance(0.3)
    ? Buffer.alloc(rng.range(1, 16), rng.pick(INTERESTING_8))
    : rng.bytes(rng.range(1, 16));
  return framed(Buffer.concat([body.subarray(0, at), extra, body.subarray(at)]));
};

const deleteBytes: FrameMutator = (frame, rng) => {
  const body = bodyOf(frame);
  if (body.length < 2) return null;
  const at = rng.int(body.length);
  const n = Math.min(rng.range(1, 16), body.length - at);
  return framed(Buffer.concat([body.subarray(0, at), body.subarray(at + n)]));
};

const duplicateChunk: FrameMutator = (frame, rng) => {
  const body = bodyOf(frame);
  const from = rng.int(body.length);
  const n = Math.min(rng.range(1, 64), body.length - from);
  const at = rng.int(body.length + 1);
  return framed(Buffer.concat([body.subarray(0, at), body.subarray(from, from + n), body.subarray(at)]));
};

// ------------------------------------------------------------------ frame length prefix

const lengthShort: FrameMutator = (frame, rng) => {
  const out = Buffer.from(frame);
  const len = frame.length - 4;
  out.writeInt32BE(Math.max(0, len - rng.range(1, Math.max(1, len))), 0);
  return out;
};

const lengthLong: FrameMutator = (frame, rng) => {
  const out = Buffer.from(frame);
  out.writeInt32BE(frame.length - 4 + rng.pick([1, 2, 4, 100, 1000, 65536]), 0);
  return out;
};

const lengthNegative: FrameMutator = (frame, rng) => {
  const out = Buffer.from(frame);
  out.writeInt32BE(rng.pick([-1, -2, -0x80000000, -rng.range(1, 0x7fffffff)]), 0);
  return out;
};

const lengthHuge: FrameMutator = (frame, rng) => {
  const out = Buffer.from(frame);
  out.writeInt32BE(
    rng.pick([0x7fffffff, FRAME_BYTES_MAX_DEFAULT + 1, FRAME_BYTES_MAX_DEFAULT, 0x10000000, 0x01000000]),
    0,
  );
  return out;
};

const lengthTiny: FrameMutator = (frame, rng) => {
  const out = Buffer.from(frame);
  out.writeInt32BE(rng.int(8), 0);
  return out;
};

// ------------------------------------------------------------------ header

const header: FrameMutator = (frame, rng) => {
  const body = Buffer.from(bodyOf(frame));
  if (body.length < 8) return null;
  switch (rng.int(5)) {
    case 0:
      body.writeInt16BE(rng.chance(0.5) ? rng.pick(INTERESTING_16) : rng.range(-32768, 32767), 0);
      break;
    case 1:
      body.writeInt16BE(rng.chance(0.5) ? rng.pick(INTERESTING_16) : rng.range(0, 20), 2);
      break;
    case 2:
      body.writeInt16BE(body.readInt16BE(2) + rng.pick([-1, 1, 2, 100]), 2);
      break;
    case 3:
      body.writeInt32BE(rng.pick(INTERESTING_32), 4);
      break;
    default:
      if (body.length >= 10) body.writeInt16BE(rng.pick([-2, -1, 0x7fff, -0x8000, 1000]), 8);
  }
  return framed(body);
};

// ------------------------------------------------------------------ structure aware

function slotsOf<K extends Slot["kind"]>(
  layout: FrameLayout | null,
  ...kinds: K[]
): Extract<Slot, { kind: K }>[] {
  if (!layout) return [];
  return layout.slots.filter((s) => (kinds as string[]).includes(s.kind)) as Extract<Slot, { kind: K }>[];
}

const arrayCount: FrameMutator = (frame, rng, layout) => {
  const arrays = slotsOf(layout, "array");
  if (arrays.length === 0) return null;
  const s = rng.pick(arrays);
  const body = bodyOf(frame);
  if (!s.compact) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(rng.pick([...INTERESTING_32, s.count + 1, s.count * 1000 + 1]), 0);
    return framed(replace(body, s.pos, 4, b));
  }
  const v = rng.chance(0.5)
    ? uvarintBytes(rng.pick([0xffffffff, 0xfffffffe, 0x7fffffff, 2 ** 28, 0, s.count + 2, 2 ** 31]))
    : rng.pick(BAD_VARINTS);
  return framed(replace(body, s.pos, s.width, v));
};

const stringLength: FrameMutator = (frame, rng, layout) => {
  const strs = slotsOf(layout, "string", "bytes", "records");
  if (strs.length === 0) return null;
  const s = rng.pick(strs);
  const body = bodyOf(frame);
  if (s.compact) {
    const v = rng.chance(0.6)
      ? uvarintBytes(rng.pick([0x7fff + 1, 0x8000 + 1, 0xffffffff, 0x7fffffff, s.length + 2, 0, 2 ** 20]))
      : rng.pick(BAD_VARINTS);
    return framed(replace(body, s.pos, s.width, v));
  }
  const b = Buffer.alloc(s.width);
  if (s.width === 2) b.writeInt16BE(rng.pick([0x7fff, -2, -0x8000, s.length + 1, -1, 0x7ffe]), 0);
  else b.writeInt32BE(rng.pick([0x7fffffff, -2, -0x80000000, s.length + 1, -1, 0x10000000]), 0);
  return framed(replace(body, s.pos, s.width, b));
};

const varintOverflow: FrameMutator = (frame, rng, layout) => {
  const vs = [
    ...slotsOf(layout, "tags"),
    ...slotsOf(layout, "array", "string", "bytes", "records").filter((s) => s.compact),
  ];
  if (vs.length === 0) return null;
  const s = rng.pick(vs);
  return framed(replace(bodyOf(frame), s.pos, s.width, rng.pick(BAD_VARINTS)));
};

/** Flexible versions: unknown tags, huge tag counts, sizes that lie. */
const taggedFields: FrameMutator = (frame, rng, layout) => {
  const tags = slotsOf(layout, "tags");
  if (tags.length === 0) return null;
  const s = rng.pick(tags);
  let section: Buffer;
  switch (rng.int(4)) {
    case 0: // one unknown tag with a size past the end
      section = Buffer.concat([
        uvarintBytes(1),
        uvarintBytes(rng.range(100, 10000)),
        uvarintBytes(0x7fffffff),
      ]);
      break;
    case 1: // many tags declared
      section = uvarintBytes(rng.pick([0x7fffffff, 1000, 0xffffffff]));
      break;
    case 2: {
      // a known-looking tag (0..3) with a size that does not match its content
      const data = rng.bytes(rng.range(0, 9));
      section = Buffer.concat([
        uvarintBytes(1),
        uvarintBytes(rng.range(0, 3)),
        uvarintBytes(rng.range(0, 12)),
        data,
      ]);
      break;
    }
    default: {
      // several well-formed unknown tags (must be skipped)
      const n = rng.range(1, 4);
      const parts = [uvarintBytes(n)];
      for (let i = 0; i < n; i++) {
        const data = rng.bytes(rng.range(0, 8));
        parts.push(uvarintBytes(1000 + i), uvarintBytes(data.length), data);
      }
      section = Buffer.concat(parts);
    }
  }
  return framed(replace(bodyOf(frame), s.pos, s.width, section));
};

const intField: FrameMutator = (frame, rng, layout) => {
  const ints = slotsOf(layout, "int").filter((s) => s.pos >= 8);
  if (ints.length === 0) return null;
  const s = rng.pick(ints);
  const body = Buffer.from(bodyOf(frame));
  switch (s.size) {
    case 1:
      body[s.pos] = rng.pick(INTERESTING_8);
      break;
    case 2:
      body.writeInt16BE(rng.pick(INTERESTING_16), s.pos);
      break;
    case 4:
      body.writeInt32BE(rng.pick(INTERESTING_32), s.pos);
      break;
    case 8:
      body.writeBigInt64BE(rng.pick(INTERESTING_64), s.pos);
      break;
  }
  return framed(body);
};

export const FRAME_MUTATORS: Readonly<Record<string, FrameMutator>> = {
  truncate,
  "truncate-raw": truncateRaw,
  "bit-flip": bitFlip,
  overwrite,
  insert: insertBytes,
  delete: deleteBytes,
  duplicate: duplicateChunk,
  "length-short": lengthShort,
  "length-long": lengthLong,
  "length-negative": lengthNegative,
  "length-huge": lengthHuge,
  "length-tiny": lengthTiny,
  header,
  "array-count": arrayCount,
  "string-length": stringLength,
  "varint-overflow": varintOverflow,
  "tagged-fields": taggedFields,
  "int-field": intField,
};

/** Relative frequency of each frame mutator. */
const FRAME_MUTATOR_WEIGHTS: readonly (readonly [number, string])[] = [
  [8, "truncate"],
  [3, "truncate-raw"],
  [12, "bit-flip"],
  [8, "overwrite"],
  [5, "insert"],
  [5, "delete"],
  [3, "duplicate"],
  [3, "length-short"],
  [2, "length-long"],
  [2, "length-negative"],
  [2, "length-huge"],
  [2, "length-tiny"],
  [5, "header"],
  [10, "array-count"],
  [10, "string-length"],
  [5, "varint-overflow"],
  [4, "tagged-fields"],
  [10, "int-field"],
];

/** Applies 1 to 3 random mutators; the names applied are joined with "+". */
export function mutateFrame(frame: Buffer, rng: Rng): Mutation {
  const stack = rng.chance(0.8) ? 1 : rng.range(2, 3);
  let bytes = frame;
  const names: string[] = [];
  for (let i = 0; i < stack; i++) {
    // Structure-aware mutators need a layout of what we have now; after a mutation it may not parse.
    const layout = bytes.length >= 12 ? layoutRequest(bodyOf(bytes)) : null;
    for (let attempt = 0; attempt < 4; attempt++) {
      const name = rng.weighted(FRAME_MUTATOR_WEIGHTS);
      let out: Buffer | null;
      try {
        out = FRAME_MUTATORS[name]!(bytes, rng, layout);
      } catch {
        out = null; // a mutator that does not apply to these bytes (e.g. too short)
      }
      if (out) {
        bytes = out;
        names.push(name);
        break;
      }
    }
    // Length-prefix mutators produce a stream, not a frame: stop stacking after them.
    if (names.length > 0 && /^(length-|truncate-raw)/.test(names[names.length - 1]!)) break;
  }
  if (names.length === 0) return { name: "bit-flip", bytes: bitFlip(frame, rng, null)! };
  return { name: names.join("+"), bytes };
}

// ------------------------------------------------------------------ record batches

export type BatchMutator = (batch: Buffer, rng: Rng) => Buffer;

export const BATCH_MUTATORS: Readonly<Record<string, BatchMutator>> = {
  /** CRC wrong, everything else intact. */
  "bad-crc": (b, rng) => {
    const out = Buffer.from(b);
    if (out.length > BatchField.crc + 4)
      out.writeUInt32BE((out.readUInt32BE(BatchField.crc) ^ (1 << rng.int(32))) >>> 0, BatchField.crc);
    return out;
  },
  /** Records region bit-flipped or overwritten, CRC recomputed: only record-level checks can tell. */
  "interior-valid-crc": (b, rng) => {
    const out = Buffer.from(b);
    if (out.length <= RECORD_BATCH_HEADER_BYTES) return out;
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) {
      const at = RECORD_BATCH_HEADER_BYTES + rng.int(out.length - RECORD_BATCH_HEADER_BYTES);
      out[at] = rng.chance(0.5) ? out[at]! ^ (1 << rng.int(8)) : rng.pick(INTERESTING_8);
    }
    return fixCrc(out);
  },
  /** Bytes inserted into or deleted from the records, batchLength and CRC fixed. */
  "interior-resize": (b, rng) => {
    if (b.length <= RECORD_BATCH_HEADER_BYTES) return Buffer.from(b);
    const at = RECORD_BATCH_HEADER_BYTES + rng.int(b.length - RECORD_BATCH_HEADER_BYTES);
    const out = rng.chance(0.5)
      ? Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 8)), b.subarray(at)])
      : Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.range(1, 8)))]);
    return fixCrc(fixLength(out));
  },
  /** A header field set to an interesting value, CRC fixed (or not). */
  "header-field": (b, rng) => {
    const out = Buffer.from(b);
    if (out.length < RECORD_BATCH_HEADER_BYTES) return out;
    const field = rng.pick([
      "recordCount",
      "lastOffsetDelta",
      "attributes",
      "magic",
      "batchLength",
      "producerId",
      "producerEpoch",
      "baseSequence",
      "baseTimestamp",
      "maxTimestamp",
      "baseOffset",
      "partitionLeaderEpoch",
    ] as const);
    const pos = BatchField[field];
    switch (field) {
      case "magic":
        out.writeInt8(rng.pick([0, 1, 3, -1, 127]), pos);
        break;
      case "attributes":
        out.writeInt16BE(
          rng.pick([
            Attr.control,
            Attr.transactional,
            5,
            6,
            7,
            2,
            3,
            4,
            0x7fff,
            -1,
            Attr.timestampTypeLogAppend,
          ]),
          pos,
        );
        break;
      case "producerEpoch":
        out.writeInt16BE(rng.pick(INTERESTING_16), pos);
        break;
      case "baseTimestamp":
      case "maxTimestamp":
      case "producerId":
      case "baseOffset":
        out.writeBigInt64BE(rng.pick(INTERESTING_64), pos);
        break;
      default:
        out.writeInt32BE(rng.pick(INTERESTING_32), pos);
    }
    return rng.chance(0.85) ? fixCrc(out) : out;
  },
  /** recordCount and lastOffsetDelta agree with each other, but not with the records. */
  "count-lie": (b, rng) => {
    const out = Buffer.from(b);
    if (out.length < RECORD_BATCH_HEADER_BYTES) return out;
    const count = rng.pick([0x7fffffff, 0x10000, out.length, 2, 1000000]);
    out.writeInt32BE(count, BatchField.recordCount);
    out.writeInt32BE(count - 1, BatchField.lastOffsetDelta);
    return fixCrc(out);
  },
  /** The batch cut short, its declared length kept. */
  truncated: (b, rng) => b.subarray(0, rng.int(b.length)),
  /** Two batches in one partition's records. */
  double: (b) => Buffer.concat([b, b]),
  /** A batch followed by garbage. */
  trailing: (b, rng) => Buffer.concat([b, rng.bytes(rng.range(1, 40))]),
  /** Magic 0/1 message set shapes. */
  "old-magic": (b, rng) => {
    const out = Buffer.from(b.subarray(0, Math.max(17, rng.int(b.length))));
    out.writeInt8(rng.int(2), BatchField.magic);
    return out;
  },
  /** One record whose length is negative, and a large count (uncompressed). */
  "negative-record-length": (b, rng) => {
    const head = Buffer.from(b.subarray(0, RECORD_BATCH_HEADER_BYTES));
    const body = Buffer.concat([Buffer.from("01000000010100", "hex"), Buffer.alloc(rng.range(0, 2000))]);
    const count = Math.max(1, body.length - 7 - rng.int(4));
    head.writeInt16BE(head.readInt16BE(BatchField.attributes) & ~Attr.codecMask, BatchField.attributes);
    head.writeInt32BE(count, BatchField.recordCount);
    head.writeInt32BE(count - 1, BatchField.lastOffsetDelta);
    return fixCrc(fixLength(Buffer.concat([head, body])));
  },
  /** Codec bits set to a codec whose data this is not. */
  "wrong-codec": (b, rng) => {
    const out = Buffer.from(b);
    if (out.length < RECORD_BATCH_HEADER_BYTES) return out;
    const attrs = out.readInt16BE(BatchField.attributes);
    out.writeInt16BE((attrs & ~Attr.codecMask) | rng.range(1, 7), BatchField.attributes);
    return fixCrc(out);
  },
  /** Random bytes in place of the batch. */
  random: (_b, rng) => rng.bytes(rng.range(0, 200)),
};

export const BOMB_KINDS: readonly BombKind[] = ["over-cap", "under-cap", "negative-length", "garbage"];

/** Replaces a Produce frame's first records field with `records`; lengths fixed. */
export function replaceRecords(frame: Buffer, records: Buffer | null): Buffer | null {
  const layout = layoutRequest(bodyOf(frame));
  const s = layout?.slots.find((x) => x.kind === "records");
  if (s?.kind !== "records") return null;
  const body = bodyOf(frame);
  let prefix: Buffer;
  if (s.compact) prefix = uvarintBytes(records === null ? 0 : records.length + 1);
  else {
    prefix = Buffer.alloc(4);
    prefix.writeInt32BE(records === null ? -1 : records.length, 0);
  }
  const dataLen = Math.max(0, s.length);
  return framed(
    Buffer.concat([
      body.subarray(0, s.pos),
      prefix,
      records ?? Buffer.alloc(0),
      body.subarray(s.data + dataLen),
    ]),
  );
}

/** The records of a Produce frame's first partition, or null. */
export function recordsOf(frame: Buffer): Buffer | null {
  const layout = layoutRequest(bodyOf(frame));
  const s = layout?.slots.find((x) => x.kind === "records");
  if (s?.kind !== "records" || s.length < 0) return null;
  return bodyOf(frame).subarray(s.data, s.data + s.length);
}

/** Sets a batch's base and max timestamps (and fixes its CRC), so ListOffsets can find it. */
export function stampTimestamp(batch: Buffer, timestampMs: number): Buffer {
  const out = Buffer.from(batch);
  if (out.length < RECORD_BATCH_HEADER_BYTES) return out;
  out.writeBigInt64BE(BigInt(timestampMs), BatchField.baseTimestamp);
  out.writeBigInt64BE(BigInt(timestampMs), BatchField.maxTimestamp);
  return fixCrc(out);
}

/**
 * A Produce frame with its batch mutated by a random batch mutator. With `timestampMs`, the
 * batch is first stamped with it so that a ListOffsets for that time lands on this batch.
 */
export function mutateProduce(frame: Buffer, rng: Rng, timestampMs?: number): Mutation | null {
  let records = recordsOf(frame);
  if (!records) return null;
  if (timestampMs !== undefined) records = stampTimestamp(records, timestampMs);
  const name = rng.pick(Object.keys(BATCH_MUTATORS));
  const bytes = replaceRecords(frame, BATCH_MUTATORS[name]!(records, rng));
  return bytes ? { name: `records:${name}`, bytes, batch: name } : null;
}

/** A Produce frame carrying a compression bomb. */
export function bombProduce(frame: Buffer, rng: Rng, kind: BombKind, timestampMs?: number): Mutation | null {
  const bytes = replaceRecords(frame, bombBatch(kind, rng, timestampMs));
  return bytes ? { name: `bomb:${kind}`, bytes, batch: `bomb:${kind}` } : null;
}

/** Splits the sent stream into frames the way the server delimits them. */
export interface StreamShape {
  /** Complete frames, as bodies. */
  frames: Buffer[];
  /** The server must close: a length prefix outside [8, frameMax] was reached. */
  badLength: boolean;
  /** Bytes left over that do not complete a frame. */
  leftover: number;
}

export function splitStream(bytes: Buffer, frameMax = FRAME_BYTES_MAX_DEFAULT): StreamShape {
  const frames: Buffer[] = [];
  let pos = 0;
  while (bytes.length - pos >= 4) {
    const len = bytes.readInt32BE(pos);
    if (len < 8 || len > frameMax) return { frames, badLength: true, leftover: bytes.length - pos };
    if (bytes.length - pos - 4 < len) break;
    frames.push(bytes.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return { frames, badLength: false, leftover: bytes.length - pos };
}
