/** Worker-thread entry of the health checker (see HealthWorker in health.ts). */
import { parentPort, workerData } from "node:worker_threads";
import { HealthChecker, type WorkerMessage } from "./health.js";

const { address, timeoutMs } = workerData as { address: string; timeoutMs: number };
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const checker = new HealthChecker(
  address,
  timeoutMs,
  (failure) => post({ type: "failure", failure }),
  (ms) => post({ type: "round", ms }),
);
checker.start();
port.on("message", (m: { type: string }) => {
  if (m.type !== "stop") return;
  void checker.stop().then(() => {
    post({ type: "summary", summary: checker.summary() });
    port.close();
  });
});
