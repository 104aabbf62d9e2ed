// Schema interpreter: encodes and decodes messages described by the generated schemas.
//
// A (schema, version) pair is compiled once into flat lists of closures (one per field present
// in that version, with compact/nullable/tagged decisions already made) and cached, so the per-
// message work is just running the closures.
import { KafkaDecodeError, KafkaEncodeError } from "./errors.js";
import { Reader } from "./reader.js";
import type { FieldSchema, MessageSchema, PrimitiveType } from "./schema.js";
import { inRange } from "./schema.js";
import { ZERO_UUID } from "./uuid.js";
import type { RecordsValue } from "./writer.js";
import { Writer } from "./writer.js";

type Obj = Record<string, unknown>;
type ReadFn = (r: Reader) => unknown;
/** Writes a value; never receives undefined except for structs (meaning "all defaults"). */
type WriteFn = (w: Writer, v: unknown) => void;

interface CompiledStruct {
  readonly decode: (r: Reader) => Obj;
  readonly encode: (w: Writer, v: Obj | undefined) => void;
  /** True when every field present in this version holds its default. */
  readonly isDefault: (v: Obj) => boolean;
  /** Smallest possible encoding, used to bound array counts before allocating. */
  readonly minBytes: number;
}

interface FieldOp {
  readonly name: string;
  readonly read: ReadFn;
  readonly write: WriteFn;
  /** Value written when the field is missing (undefined) from the value being encoded. */
  readonly encodeDefault: unknown;
  readonly isDefault: (v: unknown) => boolean;
  readonly minBytes: number;
}

interface TaggedOp extends FieldOp {
  readonly tag: number;
}

const EMPTY_OBJ: Obj = Object.freeze({});
const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);
const EMPTY_BYTES = Buffer.alloc(0);
/** Argument for default makers, which share the ReadFn signature but read nothing. */
const EMPTY_READER = new Reader(EMPTY_BYTES);
/** A tagged field is at least a 1-byte tag and a 1-byte size. */
const TAGGED_FIELD_MIN_BYTES = 2;

const FIXED_SIZE_BYTES: Partial<Record<PrimitiveType, number>> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

// ---------------------------------------------------------------------------------------------
// Public API

/** Whether `version` of `schema` uses the flexible encoding (compact types + tagged fields). */
export function isFlexible(schema: MessageSchema, version: number): boolean {
  return inRange(schema.flexibleVersions, version);
}

/** Appends the body of `value` at `version` to `writer` (no header, no frame). */
export function encodeMessage<T>(schema: MessageSchema<T>, version: number, value: T, writer: Writer): void {
  if (!inRange(schema.validVersions, version)) {
    throw new KafkaEncodeError("UNSUPPORTED_VERSION", `${schema.name} has no version ${version}`);
  }
  try {
    compiled(schema, version).encode(writer, value as Obj);
  } catch (err) {
    if (err instanceof KafkaEncodeError) {
      err.message = `${schema.name} v${version}${err.fieldPath ? ` ${err.fieldPath}` : ""}: ${err.message}`;
    }
    throw err;
  }
}

/** Reads the body of a message at `version` from `reader`, leaving it positioned after the body. */
export function decodeMessage<T>(schema: MessageSchema<T>, version: number, reader: Reader): T {
  if (!inRange(schema.validVersions, version)) {
    throw new KafkaDecodeError("UNSUPPORTED_VERSION", `${schema.name} has no version ${version}`);
  }
  try {
    return compiled(schema, version).decode(reader) as T;
  } catch (err) {
    if (err instanceof KafkaDecodeError) err.message = `${schema.name} v${version}: ${err.message}`;
    throw err;
  }
}

/** Encodes a message body into a single buffer. */
export function encodeToBuffer<T>(schema: MessageSchema<T>, version: number, value: T): Buffer {
  const w = new Writer();
  encodeMessage(schema, version, value, w);
  return w.toBuffer();
}

/** Decodes a buffer holding exactly one message body; trailing bytes are an error. */
export function decodeFromBuffer<T>(schema: MessageSchema<T>, version: number, buf: Buffer): T {
  const r = new Reader(buf);
  const value = decodeMessage(schema, version, r);
  if (r.remaining() !== 0) {
    throw new KafkaDecodeError(
      "TRAILING_BYTES",
      `${schema.name} v${version}: ${r.remaining()} bytes after message`,
    );
  }
  return value;
}

/**
 * The value a decoder produces for `schema` when every field is absent: all fields at their
 * defaults. Handy for building requests or responses field by field.
 */
export function defaultValue<T>(schema: MessageSchema<T>): T {
  return defaultStruct(schema.fields) as T;
}

// ---------------------------------------------------------------------------------------------
// Compilation

const cache = new WeakMap<MessageSchema, Map<number, CompiledStruct>>();

function compiled(schema: MessageSchema, version: number): CompiledStruct {
  let byVersion = cache.get(schema);
  if (byVersion === undefined) {
    byVersion = new Map();
    cache.set(schema, byVersion);
  }
  let c = byVersion.get(version);
  if (c === undefined) {
    c = compileStruct(schema.fields, version, isFlexible(schema, version));
    byVersion.set(version, c);
  }
  return c;
}

function compileStruct(fields: readonly FieldSchema[], version: number, flexible: boolean): CompiledStruct {
  // Decode runs one function per field in schema order so every decoded object gets all fields
  // in the same order (one hidden class): readers for present fields, default makers otherwise.
  const names: string[] = [];
  const decodeFns: ReadFn[] = [];
  const regular: FieldOp[] = [];
  const tagged: TaggedOp[] = [];
  let minBytes = flexible ? 1 : 0;

  for (const f of fields) {
    names.push(f.name);
    if (!inRange(f.versions, version)) {
      decodeFns.push(defaultMaker(f));
      continue;
    }
    const op = compileField(f, version, flexible);
    if (flexible && f.tag !== undefined && inRange(f.taggedVersions, version)) {
      tagged.push({ ...op, tag: f.tag });
      decodeFns.push(defaultMaker(f));
    } else {
      regular.push(op);
      decodeFns.push(op.read);
      minBytes += op.minBytes;
    }
  }
  tagged.sort((a, b) => a.tag - b.tag);
  const taggedByTag = new Map<number, TaggedOp>(tagged.map((t) => [t.tag, t]));
  const fieldCount = names.length;
  const regularCount = regular.length;
  const present = [...regular, ...tagged];

  const decode = (r: Reader): Obj => {
    const out: Obj = {};
    for (let i = 0; i < fieldCount; i++) out[names[i]] = decodeFns[i](r);
    if (flexible) readTaggedFields(r, out, taggedByTag);
    return out;
  };

  const encode = (w: Writer, v: Obj | undefined): void => {
    const obj = v ?? EMPTY_OBJ;
    let i = 0;
    try {
      for (; i < regularCount; i++) {
        const op = regular[i];
        const x = obj[op.name];
        op.write(w, x === undefined ? op.encodeDefault : x);
      }
      if (flexible) writeTaggedFields(w, obj, tagged);
    } catch (err) {
      if (i < regularCount) prependPath(err, regular[i].name);
      throw err;
    }
  };

  const isDefault = (v: Obj): boolean => {
    for (const op of present) {
      const x = v[op.name];
      if (x !== undefined && !op.isDefault(x)) return false;
    }
    return true;
  };

  return { decode, encode, isDefault, minBytes };
}

function readTaggedFields(r: Reader, out: Obj, byTag: ReadonlyMap<number, TaggedOp>): void {
  const count = r.uvarint();
  if (count * TAGGED_FIELD_MIN_BYTES > r.remaining()) {
    throw new KafkaDecodeError(
      "LENGTH_TOO_LARGE",
      `${count} tagged fields exceed the ${r.remaining()} bytes left`,
    );
  }
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const op = byTag.get(tag);
    if (op === undefined) {
      // Unknown tags are skipped: that is what makes tagged fields forward compatible.
      r.skip(size);
      continue;
    }
    const saved = r.beginLimit(size);
    out[op.name] = op.read(r);
    r.endLimit(saved);
  }
}

function writeTaggedFields(w: Writer, obj: Obj, tagged: readonly TaggedOp[]): void {
  // Like Kafka, a tagged field is only sent when it differs from its default.
  let count = 0;
  for (const op of tagged) {
    const x = obj[op.name];
    if (x !== undefined && !op.isDefault(x)) count++;
  }
  w.uvarint(count);
  if (count === 0) return;
  for (const op of tagged) {
    const x = obj[op.name];
    if (x === undefined || op.isDefault(x)) continue;
    // The size prefix comes first, so encode the field on the side.
    const sub = new Writer({ initialCapacity: 64 });
    try {
      op.write(sub, x);
    } catch (err) {
      prependPath(err, op.name);
      throw err;
    }
    const size = sub.length;
    w.uvarint(op.tag);
    w.uvarint(size);
    for (const chunk of sub.finish()) w.raw(chunk);
  }
}

function compileField(f: FieldSchema, version: number, flexible: boolean): FieldOp {
  const nullable = inRange(f.nullableVersions, version);
  // Field-level flexibleVersions (e.g. the request header's clientId) overrides the message's.
  const compact = f.flexibleVersions !== undefined ? inRange(f.flexibleVersions, version) : flexible;
  const name = f.name;

  if (f.type === "struct") {
    const s = compileStruct(f.fields ?? [], version, flexible);
    return {
      name,
      read: s.decode,
      write: (w, v) => {
        if (v === null) throw invalid("null is not allowed for a struct");
        s.encode(w, v as Obj | undefined);
      },
      encodeDefault: undefined,
      isDefault: (v) => v === null || s.isDefault(v as Obj),
      minBytes: s.minBytes,
    };
  }

  if (f.type === "array") {
    let readElem: ReadFn;
    let writeElem: WriteFn;
    let elemMin: number;
    if (f.item === "struct") {
      const s = compileStruct(f.fields ?? [], version, flexible);
      readElem = s.decode;
      writeElem = (w, v) => {
        if (v === null) throw invalid("null array element");
        s.encode(w, v as Obj | undefined);
      };
      elemMin = s.minBytes;
    } else {
      const item = f.item as PrimitiveType;
      readElem = primitiveReader(item, compact, false, false);
      writeElem = primitiveWriter(item, compact, false);
      elemMin = primitiveMinBytes(item, compact);
    }
    const nullDefault = f.default === null;
    return {
      name,
      read: (r) => {
        const n = r.arrayLength(compact, elemMin);
        if (n < 0) {
          if (!nullable) throw new KafkaDecodeError("UNEXPECTED_NULL", `null array ${name}`);
          return null;
        }
        const arr: unknown[] = [];
        for (let i = 0; i < n; i++) arr.push(readElem(r));
        return arr;
      },
      write: (w, v) => {
        if (v === null) {
          if (!nullable) throw invalid("null is not allowed in this version");
          w.arrayLength(null, compact);
          return;
        }
        if (!Array.isArray(v)) throw invalid(`expected an array, got ${typeof v}`);
        w.arrayLength(v.length, compact);
        let i = 0;
        try {
          for (; i < v.length; i++) writeElem(w, v[i]);
        } catch (err) {
          prependPath(err, `[${i}]`);
          throw err;
        }
      },
      encodeDefault: nullDefault ? null : EMPTY_ARRAY,
      isDefault: nullDefault ? (v) => v === null : (v) => Array.isArray(v) && v.length === 0,
      minBytes: compact ? 1 : 4,
    };
  }

  const type = f.type;
  const def = encodeDefaultOf(f);
  return {
    name,
    read: primitiveReader(type, compact, nullable, f.zeroCopy === true),
    write: primitiveWriter(type, compact, nullable),
    encodeDefault: def,
    isDefault: primitiveIsDefault(type, def),
    minBytes: primitiveMinBytes(type, compact),
  };
}

/** Adds a path segment ("name" or "[i]") in front of an encode error's field path. */
function prependPath(err: unknown, segment: string): void {
  if (!(err instanceof KafkaEncodeError)) return;
  const rest = err.fieldPath;
  err.fieldPath = rest === "" ? segment : `${segment}${rest.startsWith("[") ? "" : "."}${rest}`;
}

function invalid(message: string): KafkaEncodeError {
  return new KafkaEncodeError("INVALID_VALUE", message);
}

function primitiveMinBytes(type: PrimitiveType, compact: boolean): number {
  const fixed = FIXED_SIZE_BYTES[type];
  if (fixed !== undefined) return fixed;
  if (compact) return 1;
  return type === "string" ? 2 : 4;
}

function primitiveReader(type: PrimitiveType, compact: boolean, nullable: boolean, view: boolean): ReadFn {
  switch (type) {
    case "bool":
      return (r) => r.bool();
    case "int8":
      return (r) => r.int8();
    case "int16":
      return (r) => r.int16();
    case "uint16":
      return (r) => r.uint16();
    case "int32":
      return (r) => r.int32();
    case "uint32":
      return (r) => r.uint32();
    case "int64":
      return (r) => r.int64();
    case "float64":
      return (r) => r.float64();
    case "uuid":
      return (r) => r.uuid();
    case "string":
      return nullable ? (r) => r.nullableString(compact) : (r) => r.string(compact);
    case "bytes":
      return nullable ? (r) => r.nullableBytes(compact, view) : (r) => r.bytes(compact, view);
    case "records":
      if (nullable) return (r) => r.records(compact);
      return (r) => {
        const v = r.records(compact);
        if (v === null) throw new KafkaDecodeError("UNEXPECTED_NULL", "null records");
        return v;
      };
  }
}

function primitiveWriter(type: PrimitiveType, compact: boolean, nullable: boolean): WriteFn {
  switch (type) {
    case "bool":
      return (w, v) => {
        if (typeof v !== "boolean") throw invalid(`expected a boolean, got ${typeof v}`);
        w.bool(v);
      };
    case "int8":
      return (w, v) => w.int8(v as number);
    case "int16":
      return (w, v) => w.int16(v as number);
    case "uint16":
      return (w, v) => w.uint16(v as number);
    case "int32":
      return (w, v) => w.int32(v as number);
    case "uint32":
      return (w, v) => w.uint32(v as number);
    case "int64":
      return (w, v) => w.int64(v as number | bigint);
    case "float64":
      return (w, v) => w.float64(v as number);
    case "uuid":
      return (w, v) => w.uuid(v as string);
    case "string":
      return (w, v) => {
        if (v === null) {
          if (!nullable) throw invalid("null is not allowed in this version");
          w.nullableString(null, compact);
        } else {
          w.string(v as string, compact);
        }
      };
    case "bytes":
      return (w, v) => {
        if (v === null) {
          if (!nullable) throw invalid("null is not allowed in this version");
          w.nullableBytes(null, compact);
        } else {
          w.bytes(v as Uint8Array, compact);
        }
      };
    case "records":
      return (w, v) => {
        if (v === null && !nullable) throw invalid("null is not allowed in this version");
        w.records(v as RecordsValue, compact);
      };
  }
}

function primitiveIsDefault(type: PrimitiveType, def: unknown): (v: unknown) => boolean {
  switch (type) {
    case "int64": {
      const big = BigInt(def as number);
      return (v) => (typeof v === "bigint" ? v === big : v === def);
    }
    case "bytes":
      return def === null ? (v) => v === null : (v) => v instanceof Uint8Array && v.length === 0;
    case "records":
      return (v) => v === null;
    default:
      return (v) => v === def;
  }
}

/** Default of a primitive field: the spec's custom default or the type's natural default. */
function encodeDefaultOf(f: FieldSchema): unknown {
  if (f.default !== undefined) return f.default;
  switch (f.type) {
    case "bool":
      return false;
    case "string":
      return "";
    case "uuid":
      return ZERO_UUID;
    case "bytes":
      return EMPTY_BYTES;
    case "records":
      return null;
    default:
      return 0;
  }
}

/** Builds the decoded value of a field absent in the decoded version (fresh for mutable types). */
function defaultMaker(f: FieldSchema): ReadFn {
  if (f.type === "array") return f.default === null ? () => null : () => [];
  if (f.type === "struct") {
    const fields = f.fields ?? [];
    return () => defaultStruct(fields);
  }
  const def = encodeDefaultOf(f);
  return () => def;
}

function defaultStruct(fields: readonly FieldSchema[]): Obj {
  const out: Obj = {};
  for (const f of fields) out[f.name] = defaultMaker(f)(EMPTY_READER);
  return out;
}
