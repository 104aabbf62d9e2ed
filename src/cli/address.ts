/** Parses `HOST:PORT`, `:PORT`, `PORT`, `[v6]:PORT` or `off` (listener disabled). */
import type { ListenAddress } from "../oncedb.js";

export function parseListen(value: string, what: string): ListenAddress | null {
  const v = value.trim();
  if (v === "off" || v === "none" || v === "false") return null;
  let host = "127.0.0.1";
  let portText = v;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]*):(\d+)$/.exec(v);
  if (m) {
    host = m[1] || host;
    portText = m[2]!;
  }
  if (!/^\d+$/.test(portText)) throw new Error(`${what}: expected HOST:PORT or off, got "${value}"`);
  const port = Number(portText);
  if (port > 65535) throw new Error(`${what}: port ${port} is out of range`);
  return { host, port };
}
