/** Socket helpers shared by the raw-protocol load generators: connect, one request/response, ApiVersions check. */
import net from "node:net";
import { apiVersionsRequest, FrameReader, parseApiVersionsResponse } from "../kafka/produce-encoder.js";

export function connect(host: string, port: number, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect ${host}:${port} timed out`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Writes one request and resolves with the first response frame (small frames only). */
export function oneFrame(sock: net.Socket, req: Buffer, timeoutMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    const onData = (d: Buffer) => {
      reader.push(d);
      const f = reader.next();
      if (f) {
        cleanup();
        resolve(f);
      }
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`no response to ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(t);
      sock.off("data", onData);
      sock.off("error", onErr);
    };
    sock.on("data", onData);
    sock.on("error", onErr);
    sock.write(req);
  });
}

/** Asks ApiVersions and throws unless `apiKey` is served at `version`. Returns the served range. */
export async function requireApi(
  sock: net.Socket,
  apiKey: number,
  version: number,
  name: string,
  clientId: string,
): Promise<string> {
  const av = parseApiVersionsResponse(
    await oneFrame(sock, apiVersionsRequest(0x7fff0000, clientId), 10_000, "ApiVersions"),
  );
  const api = av.apis.find((a) => a.apiKey === apiKey);
  const range = api ? `${api.min}-${api.max}` : "absent";
  if (!api || api.min > version || api.max < version)
    throw new Error(
      `server does not offer ${name} v${version} (ApiVersions error ${av.errorCode}, ${name} ${range})`,
    );
  return range;
}

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes on one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();
