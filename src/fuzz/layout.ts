/**
 * Where the length prefixes, counts, varints and integers of a request frame are. The
 * structure-aware mutators (huge array counts, huge string lengths, varint overflow, interesting
 * integers, record batch surgery) need positions, which the codec does not expose; this walks a
 * frame with the codec's own Reader and the generated schemas and records them.
 */
import { requestHeaderVersion } from "../protocol/kafka/codec/header.js";
import { Reader } from "../protocol/kafka/codec/reader.js";
import type { FieldSchema, MessageSchema, PrimitiveType } from "../protocol/kafka/codec/schema.js";
import { inRange } from "../protocol/kafka/codec/schema.js";
import { API_BY_KEY } from "../protocol/kafka/generated/messages.js";

export type Slot =
  /** An array count: int32, or a compact uvarint (count + 1). */
  | { kind: "array"; pos: number; width: number; compact: boolean; count: number }
  /** A string length: int16, or a compact uvarint (length + 1). */
  | { kind: "string"; pos: number; width: number; compact: boolean; length: number }
  /** A bytes length: int32, or a compact uvarint. */
  | { kind: "bytes"; pos: number; width: number; compact: boolean; length: number }
  /** A records field: its length prefix and where its data starts. */
  | { kind: "records"; pos: number; width: number; compact: boolean; length: number; data: number }
  /** The count of a tagged-fields section. */
  | { kind: "tags"; pos: number; width: number }
  /** A fixed-width integer. */
  | { kind: "int"; pos: number; size: 1 | 2 | 4 | 8; name: string };

export interface FrameLayout {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** Offsets are relative to the frame body (after the 4-byte length prefix). */
  readonly slots: Slot[];
  /** True when the body parsed to its end with the schema; false leaves partial slots. */
  readonly complete: boolean;
}

const INT_SIZES: Partial<Record<PrimitiveType, 1 | 2 | 4 | 8>> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
};

/** Lays out a request frame body (without its length prefix). Never throws. */
export function layoutRequest(body: Buffer): FrameLayout | null {
  if (body.length < 8) return null;
  const apiKey = body.readInt16BE(0);
  const apiVersion = body.readInt16BE(2);
  const correlationId = body.readInt32BE(4);
  const slots: Slot[] = [
    { kind: "int", pos: 0, size: 2, name: "apiKey" },
    { kind: "int", pos: 2, size: 2, name: "apiVersion" },
    { kind: "int", pos: 4, size: 4, name: "correlationId" },
  ];
  const api = API_BY_KEY.get(apiKey);
  const r = new Reader(body);
  r.pos = 8;
  try {
    const hv = requestHeaderVersion(apiKey, apiVersion);
    if (hv >= 1) {
      const pos = r.pos;
      const s = r.nullableString(false);
      slots.push({ kind: "string", pos, width: 2, compact: false, length: s === null ? -1 : s.length });
    }
    if (hv >= 2) walkTags(r, new Map(), apiVersion, slots);
    if (!api || !inRange(api.request.validVersions, apiVersion)) {
      return { apiKey, apiVersion, correlationId, slots, complete: false };
    }
    const schema: MessageSchema = api.request;
    walkStruct(r, schema.fields, apiVersion, inRange(schema.flexibleVersions, apiVersion), slots);
    return { apiKey, apiVersion, correlationId, slots, complete: r.remaining() === 0 };
  } catch {
    return { apiKey, apiVersion, correlationId, slots, complete: false };
  }
}

function walkStruct(
  r: Reader,
  fields: readonly FieldSchema[],
  version: number,
  flexible: boolean,
  slots: Slot[],
): void {
  const tagged = new Map<number, FieldSchema>();
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    if (flexible && f.tag !== undefined && inRange(f.taggedVersions, version)) {
      tagged.set(f.tag, f);
      continue;
    }
    walkField(r, f, version, flexible, slots);
  }
  if (flexible) walkTags(r, tagged, version, slots, flexible);
}

function walkTags(
  r: Reader,
  tagged: ReadonlyMap<number, FieldSchema>,
  version: number,
  slots: Slot[],
  flexible = true,
): void {
  const pos = r.pos;
  const count = r.uvarint();
  slots.push({ kind: "tags", pos, width: r.pos - pos });
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const f = tagged.get(tag);
    if (!f) {
      r.skip(size);
      continue;
    }
    const end = r.pos + size;
    walkField(r, f, version, flexible, slots);
    r.pos = end;
  }
}

function walkField(r: Reader, f: FieldSchema, version: number, flexible: boolean, slots: Slot[]): void {
  const compact = f.flexibleVersions !== undefined ? inRange(f.flexibleVersions, version) : flexible;
  if (f.type === "struct") {
    walkStruct(r, f.fields ?? [], version, flexible, slots);
    return;
  }
  if (f.type === "array") {
    const pos = r.pos;
    const count = r.arrayLength(compact, 1);
    slots.push({ kind: "array", pos, width: r.pos - pos, compact, count });
    for (let i = 0; i < count; i++) {
      if (f.item === "struct") walkStruct(r, f.fields ?? [], version, flexible, slots);
      else walkPrimitive(r, f.item as PrimitiveType, compact, f.name, slots);
    }
    return;
  }
  walkPrimitive(r, f.type, compact, f.name, slots);
}

function walkPrimitive(r: Reader, type: PrimitiveType, compact: boolean, name: string, slots: Slot[]): void {
  const size = INT_SIZES[type];
  if (size !== undefined) {
    const pos = r.pos;
    r.skip(size);
    slots.push({ kind: "int", pos, size, name });
    return;
  }
  const pos = r.pos;
  switch (type) {
    case "uuid":
      r.skip(16);
      return;
    case "string": {
      const s = r.nullableString(compact);
      slots.push({
        kind: "string",
        pos,
        width: compact ? varintWidth(r, pos) : 2,
        compact,
        length: s === null ? -1 : Buffer.byteLength(s),
      });
      return;
    }
    case "bytes": {
      const b = r.nullableBytes(compact, true);
      slots.push({
        kind: "bytes",
        pos,
        width: compact ? varintWidth(r, pos) : 4,
        compact,
        length: b === null ? -1 : b.length,
      });
      return;
    }
    case "records": {
      const b = r.records(compact);
      const width = compact ? varintWidth(r, pos) : 4;
      slots.push({
        kind: "records",
        pos,
        width,
        compact,
        length: b === null ? -1 : b.length,
        data: pos + width,
      });
      return;
    }
  }
}

/** Width of the uvarint starting at pos (re-read; the field has been consumed already). */
function varintWidth(r: Reader, pos: number): number {
  let i = pos;
  while (i < r.buf.length && (r.buf[i]! & 0x80) !== 0) i++;
  return i - pos + 1;
}
