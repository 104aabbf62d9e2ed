/**
 * Message headers as the bus carries them: one encoded block in the NATS/1.0 text form
 *
 *     NATS/1.0[ <status>[ <description>]]\r\n
 *     <Name>: <value>\r\n ...
 *     \r\n
 *
 * The bus never parses it; adapters that speak another protocol (a Kafka bridge, HTTP) decode
 * it here. Choosing NATS's form means the NATS adapter, the busiest path, passes headers through
 * untouched.
 */
const PREFIX = "NATS/1.0";

export interface DecodedHeaders {
  status?: number;
  description?: string;
  /** In order; a name may repeat. */
  entries: [string, string][];
}

export function encodeHeaders(h: DecodedHeaders): Uint8Array {
  let s = PREFIX;
  if (h.status !== undefined) s += ` ${h.status}${h.description ? ` ${h.description}` : ""}`;
  s += "\r\n";
  for (const [k, v] of h.entries) {
    if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new Error(`header '${k}' cannot be encoded`);
    s += `${k}: ${v}\r\n`;
  }
  return Buffer.from(`${s}\r\n`, "utf8");
}

/** Decodes a header block; null if it is not one. */
export function decodeHeaders(block: Uint8Array): DecodedHeaders | null {
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString("utf8");
  if (!text.startsWith(PREFIX) || !text.endsWith("\r\n\r\n")) return null;
  const lines = text.slice(0, -4).split("\r\n");
  const first = lines[0]!.slice(PREFIX.length).trim();
  const out: DecodedHeaders = { entries: [] };
  if (first.length > 0) {
    const m = /^(\d{3})(?:\s+(.*))?$/.exec(first);
    if (!m) return null;
    out.status = Number(m[1]);
    if (m[2]) out.description = m[2];
  }
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return null;
    out.entries.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** The header block of a status-only message (e.g. 503 "no responders"). */
export const statusHeaders = (status: number, description?: string): Uint8Array =>
  encodeHeaders({ status, description, entries: [] });
