/**
 * A raw TCP connection for fuzz cases: sends arbitrary bytes, splits what comes back into
 * response frames, and notices when the server closes.
 */
import net from "node:net";

/** A response frame claiming more than this is itself a finding (and is not buffered). */
export const RESPONSE_BYTES_MAX = 256 * 1024 * 1024;

export class FuzzConnection {
  readonly frames: Buffer[] = [];
  closed = false;
  /** The server sent a length prefix no response can have. */
  badResponseLength: number | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        resolve(new FuzzConnection(s));
      });
      s.once("error", (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readInt32BE(0);
      if (len < 4 || len > RESPONSE_BYTES_MAX) {
        this.badResponseLength = len;
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 4 + len) break;
      this.frames.push(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Resolves true once `done()` holds, false after `timeoutMs`. Re-checked on data and close. */
  until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(false);
      }, timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(t);
          resolve(true);
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
