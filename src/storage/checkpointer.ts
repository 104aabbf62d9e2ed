/** Main-thread handle of the checkpoint worker (see checkpoint-worker.ts for why it exists). */
import { Worker } from "node:worker_threads";

export class Checkpointer {
  private constructor(private readonly worker: Worker) {}

  static async start(path: string): Promise<Checkpointer> {
    const worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), { workerData: { path } });
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("message", () => {
        worker.off("error", reject);
        resolve();
      });
    });
    // A checkpoint error is not a durability problem (the WAL keeps the frames); it is logged
    // by the next commit's failure if the disk is really gone.
    worker.on("error", () => {});
    return new Checkpointer(worker);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.worker.on("message", (m: { type: string }) => m.type === "closed" && resolve());
      this.worker.once("exit", () => resolve());
    });
    this.worker.postMessage({ type: "close" });
    await closed;
    await this.worker.terminate();
  }
}
