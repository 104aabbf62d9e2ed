/** Machine limit: the receiving end of a loopback TCP stream; counts bytes in a time window. */
import net from "node:net";
import { loadConfig, runMain, SelfCpu, send } from "./ipc.js";

export interface TcpSinkConfig {
  warmupMs: number;
  durationMs: number;
}

export interface TcpSinkResult {
  bytes: number;
  seconds: number;
  mbPerSec: number;
  cpuCores: number;
}

async function main(): Promise<TcpSinkResult> {
  const cfg = loadConfig<TcpSinkConfig>();
  const cpu = new SelfCpu();
  return new Promise<TcpSinkResult>((resolve, reject) => {
    const server = net.createServer((sock) => {
      let windowStart = 0;
      let windowEnd = 0;
      let counted = 0;
      let firstAt = 0;
      sock.on("data", (d: Buffer) => {
        const now = performance.now();
        if (firstAt === 0) {
          firstAt = now;
          windowStart = now + cfg.warmupMs;
          windowEnd = windowStart + cfg.durationMs;
        }
        if (now >= windowStart && now < windowEnd) {
          if (counted === 0) cpu.start();
          counted += d.length;
        }
        if (now >= windowEnd) sock.destroy();
      });
      const finish = () => {
        server.close();
        const seconds = cfg.durationMs / 1000;
        resolve({ bytes: counted, seconds, mbPerSec: counted / 1e6 / seconds, cpuCores: cpu.stop() });
      };
      sock.on("close", finish);
      sock.on("error", () => undefined);
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address() as net.AddressInfo;
      send({ type: "listening", port: addr.port });
    });
    setTimeout(
      () => reject(new Error("tcp sink: no complete stream within deadline")),
      cfg.warmupMs + cfg.durationMs + 30_000,
    ).unref();
  });
}

runMain(main);
