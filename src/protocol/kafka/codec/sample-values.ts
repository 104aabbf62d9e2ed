// Test support: builds representative values for any schema version straight from the schema
// data, and the value a decoder must produce for them. Written independently of codec.ts so the
// round-trip tests check the codec against the schema rather than against itself.
import {
  APIS,
  ConsumerProtocolAssignmentSchema,
  ConsumerProtocolSubscriptionSchema,
  RequestHeaderSchema,
  ResponseHeaderSchema,
} from "../generated/messages.js";
import type { FieldSchema, MessageSchema, PrimitiveType } from "./schema.js";
import { inRange } from "./schema.js";
import { ZERO_UUID } from "./uuid.js";

type Obj = Record<string, unknown>;

/** Every generated schema: requests and responses of all APIs, data and header schemas. */
export const ALL_SCHEMAS: readonly MessageSchema[] = [
  ...APIS.flatMap((api) => [api.request, api.response]),
  ConsumerProtocolSubscriptionSchema,
  ConsumerProtocolAssignmentSchema,
  RequestHeaderSchema,
  ResponseHeaderSchema,
];

/** The valid versions of a schema, ascending. */
export function versionsOf(schema: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = schema.validVersions[0]; v <= schema.validVersions[1]; v++) out.push(v);
  return out;
}

/** Elements put in every sample array. */
const SAMPLE_ARRAY_LENGTH = 2;

/**
 * A value with every field set to a non-default value (fields absent in `version` too, so tests
 * can check they are ignored). With `nulls`, fields nullable in `version` are null instead.
 */
export function sampleValue<T>(schema: MessageSchema<T>, version: number, nulls: boolean, seed = 1): T {
  return sampleStruct(schema.fields, version, nulls, seed) as T;
}

function sampleStruct(fields: readonly FieldSchema[], version: number, nulls: boolean, seed: number): Obj {
  const out: Obj = {};
  let i = 0;
  for (const f of fields) {
    i++;
    const present = inRange(f.versions, version);
    if (nulls && present && inRange(f.nullableVersions, version)) {
      out[f.name] = null;
    } else {
      out[f.name] = sampleField(f, version, nulls, seed * 31 + i);
    }
  }
  return out;
}

function sampleField(f: FieldSchema, version: number, nulls: boolean, seed: number): unknown {
  if (f.type === "struct") return sampleStruct(f.fields ?? [], version, nulls, seed);
  if (f.type === "array") {
    const out: unknown[] = [];
    for (let i = 0; i < SAMPLE_ARRAY_LENGTH; i++) {
      out.push(
        f.item === "struct"
          ? sampleStruct(f.fields ?? [], version, nulls, seed + i)
          : samplePrimitive(f.item as PrimitiveType, undefined, seed + i),
      );
    }
    return out;
  }
  return samplePrimitive(f.type, f.default, seed);
}

function samplePrimitive(type: PrimitiveType, def: FieldSchema["default"], seed: number): unknown {
  const s = seed & 0xff;
  switch (type) {
    case "bool":
      return !(def ?? false);
    case "int8":
      return 10 + (s % 100);
    case "int16":
      return 1000 + s;
    case "uint16":
      return 60000 + s;
    case "int32":
      return 100000 + s;
    case "uint32":
      return 3000000000 + s;
    case "int64":
      return 2 ** 40 + s;
    case "float64":
      return 1.5 + s;
    case "string":
      return `s${s}-é`;
    case "uuid":
      return Buffer.alloc(16, s + 1).toString("base64url");
    case "bytes":
      return Buffer.from([1, 2, 3, s]);
    case "records":
      return Buffer.from(`records-${s}`);
  }
}

/** What decoding the encoding of `value` at `version` must give. */
export function expectedDecoded<T>(schema: MessageSchema<T>, version: number, value: T): T {
  return expectStruct(schema.fields, version, value as Obj) as T;
}

function expectStruct(fields: readonly FieldSchema[], version: number, value: Obj | undefined): Obj {
  const out: Obj = {};
  for (const f of fields) {
    const v = value?.[f.name];
    out[f.name] = inRange(f.versions, version) && v !== undefined ? expectField(f, version, v) : defaultOf(f);
  }
  return out;
}

function expectField(f: FieldSchema, version: number, v: unknown): unknown {
  if (v === null) return null;
  if (f.type === "struct") return expectStruct(f.fields ?? [], version, v as Obj);
  if (f.type === "array") {
    const arr = v as unknown[];
    if (f.item === "struct") return arr.map((e) => expectStruct(f.fields ?? [], version, e as Obj));
    return arr.map((e) => expectPrimitive(e));
  }
  return expectPrimitive(v);
}

function expectPrimitive(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return Buffer.concat(v as Buffer[]);
  return v;
}

function defaultOf(f: FieldSchema): unknown {
  if (f.type === "struct") return expectStruct(f.fields ?? [], -1, undefined);
  if (f.type === "array") return f.default === null ? null : [];
  if (f.default !== undefined) return f.default;
  switch (f.type) {
    case "bool":
      return false;
    case "string":
      return "";
    case "uuid":
      return ZERO_UUID;
    case "bytes":
      return Buffer.alloc(0);
    case "records":
      return null;
    default:
      return 0;
  }
}

/** Deterministic PRNG (mulberry32) so fuzz-style tests are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
