/** Machine limit: the sending end of a loopback TCP stream; writes as fast as the socket drains. */
import net from "node:net";
import { loadConfig, runMain, SelfCpu } from "./ipc.js";

export interface TcpSourceConfig {
  port: number;
  chunkBytes: number;
  /** Stop after this long even if the sink has not closed the connection. */
  maxMs: number;
}

async function main(): Promise<{ bytes: number; cpuCores: number }> {
  const cfg = loadConfig<TcpSourceConfig>();
  const chunk = Buffer.alloc(cfg.chunkBytes, 0x61);
  const cpu = new SelfCpu();
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    const sock = net.connect(cfg.port, "127.0.0.1");
    const deadline = performance.now() + cfg.maxMs;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ bytes, cpuCores: cpu.stop() });
    };
    const pump = () => {
      // bounded: each call writes until the socket buffer is full or the deadline passes
      for (let i = 0; i < 10_000 && !done; i++) {
        if (performance.now() > deadline) return finish();
        bytes += chunk.length;
        if (!sock.write(chunk)) return;
      }
      if (!done) setImmediate(pump);
    };
    sock.on("connect", pump);
    sock.on("drain", pump);
    sock.on("close", finish);
    sock.on("error", finish);
  });
}

runMain(main);
