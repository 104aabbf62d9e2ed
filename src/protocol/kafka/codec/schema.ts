// Shapes of the schema data emitted by scripts/gen-kafka-schemas.mjs into ../generated/.

/** Inclusive version range [min, max]; max 32767 means open-ended ("3+"). An empty range has min > max. */
export type VersionRange = readonly [min: number, max: number];

export type PrimitiveType =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "float64"
  | "string"
  | "uuid"
  | "bytes"
  | "records";

export type FieldType = PrimitiveType | "struct" | "array";

export interface FieldSchema {
  /** camelCase field name (the property name in decoded values). */
  readonly name: string;
  readonly type: FieldType;
  /** Element type of an array field. */
  readonly item?: PrimitiveType | "struct";
  /** Kafka struct type name, for struct fields and arrays of structs. */
  readonly struct?: string;
  /** Versions in which the field exists. */
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  /** Tag number when the field is a tagged field in `taggedVersions`. */
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Field-level override of the message's flexible versions (string/bytes only). */
  readonly flexibleVersions?: VersionRange;
  /** Custom default from the spec; otherwise the type's natural default applies. */
  readonly default?: boolean | number | string | null;
  /** Bytes field decoded as a view of the input instead of a copy. */
  readonly zeroCopy?: boolean;
  /** Fields of a struct, or of the elements of an array of structs. */
  readonly fields?: readonly FieldSchema[];
}

export type MessageKind = "request" | "response" | "data" | "header";

/**
 * A message schema. `T` is the TypeScript shape of the message; it only exists at the type level
 * (the optional `__value` property is never set) so that encode/decode can be typed by schema.
 */
export interface MessageSchema<T = unknown> {
  readonly name: string;
  readonly kind: MessageKind;
  /** Kafka API key; -1 for data and header schemas. */
  readonly apiKey: number;
  readonly validVersions: VersionRange;
  /** Versions that use the flexible (compact + tagged fields) encoding, or null for none. */
  readonly flexibleVersions: VersionRange | null;
  /** The highest valid version is still under development in Kafka. */
  readonly latestVersionUnstable?: boolean;
  readonly fields: readonly FieldSchema[];
  readonly __value?: T;
}

/** A Kafka API: its key and its request and response schemas. */
export interface ApiSpec<Req = unknown, Res = unknown> {
  readonly apiKey: number;
  readonly name: string;
  readonly request: MessageSchema<Req>;
  readonly response: MessageSchema<Res>;
}

/** The TypeScript value type carried by a schema. */
export type SchemaValue<S> = S extends MessageSchema<infer T> ? T : never;

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range != null && version >= range[0] && version <= range[1];
}
