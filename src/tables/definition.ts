/**
 * A table's definition: its primary key and declared attributes (type, indexed), in the
 * vocabulary of HarperDB's schemas (ID, String, Int, Long, Float, Boolean, Any). Attributes not
 * declared are allowed in records and stored as given; a declared type is checked on every write
 * and tells a query how to read its URL values ("5" is the number 5 for an Int).
 */
import { TableError } from "./errors.js";

export const ATTRIBUTE_TYPES = ["ID", "String", "Int", "Long", "Float", "Boolean", "Any"] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

export interface AttributeDefinition {
  readonly name: string;
  readonly type: AttributeType;
  readonly indexed: boolean;
}

export interface TableConfig {
  readonly primaryKey: string;
  readonly attributes: readonly AttributeDefinition[];
}

/** Named limits of a definition. */
export const DefinitionLimits = {
  nameBytesMax: 128,
  attributesMax: 1000,
  indexesMax: 64,
} as const;

/**
 * Table names are URL path segments and Kafka topic names at once, so they take the characters
 * both accept; a leading letter keeps `_`-prefixed paths free for the server's own endpoints.
 */
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function tableNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "a table name is a non-empty string";
  if (name.length > DefinitionLimits.nameBytesMax)
    return `table name longer than ${DefinitionLimits.nameBytesMax} characters`;
  if (!TABLE_NAME.test(name))
    return `table name ${JSON.stringify(name)} must start with a letter and hold only letters, digits, _ and -`;
  return undefined;
}

function attributeNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "an attribute name is a non-empty string";
  if (name.length > DefinitionLimits.nameBytesMax)
    return `attribute name longer than ${DefinitionLimits.nameBytesMax} characters`;
  if (!ATTRIBUTE_NAME.test(name))
    return `attribute name ${JSON.stringify(name)} must start with a letter or _ and hold only letters, digits and _`;
  return undefined;
}

/** Input as users give it (Operations API create_table, library calls). */
export interface TableConfigInput {
  primaryKey?: unknown;
  attributes?: unknown;
}

export function parseTableConfig(input: TableConfigInput): TableConfig {
  const pkProblem = attributeNameProblem(input.primaryKey ?? "id");
  if (pkProblem) throw new TableError("INVALID", `primary key: ${pkProblem}`);
  const primaryKey = (input.primaryKey ?? "id") as string;
  const raw = input.attributes ?? [];
  if (!Array.isArray(raw)) throw new TableError("INVALID", "attributes must be an array");
  if (raw.length > DefinitionLimits.attributesMax)
    throw new TableError("INVALID", `more than ${DefinitionLimits.attributesMax} attributes`);
  const attributes: AttributeDefinition[] = [];
  const seen = new Set<string>();
  for (const a of raw) {
    const entry = (typeof a === "string" ? { name: a } : a) as Record<string, unknown> | null;
    if (!entry || typeof entry !== "object")
      throw new TableError("INVALID", "an attribute is a name or {name, type, indexed}");
    const problem = attributeNameProblem(entry.name);
    if (problem) throw new TableError("INVALID", problem);
    const name = entry.name as string;
    if (seen.has(name)) throw new TableError("INVALID", `attribute ${name} is declared twice`);
    seen.add(name);
    const type = (entry.type ?? (name === primaryKey ? "ID" : "Any")) as AttributeType;
    if (!ATTRIBUTE_TYPES.includes(type))
      throw new TableError("INVALID", `attribute ${name}: type must be one of ${ATTRIBUTE_TYPES.join(", ")}`);
    if (entry.indexed !== undefined && typeof entry.indexed !== "boolean")
      throw new TableError("INVALID", `attribute ${name}: indexed must be true or false`);
    if (name === primaryKey && !["ID", "String", "Int", "Long", "Any"].includes(type))
      throw new TableError("INVALID", `primary key ${name} must be ID, String, Int or Long`);
    attributes.push({ name, type, indexed: name !== primaryKey && entry.indexed === true });
  }
  if (!seen.has(primaryKey)) attributes.unshift({ name: primaryKey, type: "ID", indexed: false });
  if (attributes.filter((a) => a.indexed).length > DefinitionLimits.indexesMax)
    throw new TableError("INVALID", `more than ${DefinitionLimits.indexesMax} indexed attributes`);
  return { primaryKey, attributes };
}

/** Checks a written value against its attribute's declared type; returns the problem, if any. */
export function valueTypeProblem(attr: AttributeDefinition, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const ok = (() => {
    switch (attr.type) {
      case "Any":
        return true;
      case "ID":
        return typeof value === "string" || Number.isSafeInteger(value);
      case "String":
        return typeof value === "string";
      case "Int":
        return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31;
      case "Long":
        return Number.isSafeInteger(value);
      case "Float":
        return typeof value === "number" && Number.isFinite(value);
      case "Boolean":
        return typeof value === "boolean";
    }
  })();
  return ok
    ? undefined
    : `attribute ${attr.name} must be ${attr.type === "ID" ? "a string or an integer" : `a ${attr.type}`}, got ${JSON.stringify(value)}`;
}

/**
 * A value written in a URL (query or path), read as its attribute's type. For undeclared
 * (Any) attributes every reading is a candidate: "5" matches the number 5 and the string "5".
 */
export function urlValueCandidates(
  type: AttributeType | undefined,
  text: string,
): (string | number | boolean | null)[] {
  const asNumber = text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : undefined;
  switch (type) {
    case "String":
      return [text];
    case "ID":
      return asNumber !== undefined && Number.isSafeInteger(asNumber) && String(asNumber) === text
        ? [text, asNumber]
        : [text];
    case "Int":
    case "Long":
      return asNumber !== undefined && Number.isInteger(asNumber) ? [asNumber] : [];
    case "Float":
      return asNumber !== undefined ? [asNumber] : [];
    case "Boolean":
      return text === "true" ? [true] : text === "false" ? [false] : [];
    default: {
      const out: (string | number | boolean | null)[] = [text];
      if (asNumber !== undefined) out.push(asNumber);
      if (text === "true") out.push(true);
      if (text === "false") out.push(false);
      if (text === "null") out.push(null);
      return out;
    }
  }
}
