/**
 * A raw Kafka connection for tests that must send what no well-behaved client sends:
 * arbitrary frames, wrong lengths, unknown API keys. Encodes well-formed requests with our
 * codec, reads responses in order.
 */
import net from "node:net";
import { decodeMessage, encodeMessage } from "../../src/protocol/kafka/codec/codec.js";
import { requestHeaderVersion, responseHeaderVersion } from "../../src/protocol/kafka/codec/header.js";
import { Reader } from "../../src/protocol/kafka/codec/reader.js";
import type { MessageSchema } from "../../src/protocol/kafka/codec/schema.js";
import { Writer } from "../../src/protocol/kafka/codec/writer.js";

export class RawKafka {
  private buf = Buffer.alloc(0);
  private waiters: ((frame: Buffer | null) => void)[] = [];
  private frames: Buffer[] = [];
  private closed = false;
  private nextCorrelation = 1;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4) {
        const len = this.buf.readInt32BE(0);
        if (this.buf.length < 4 + len) break;
        const frame = this.buf.subarray(4, 4 + len);
        this.buf = this.buf.subarray(4 + len);
        const w = this.waiters.shift();
        if (w) w(frame);
        else this.frames.push(frame);
      }
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    socket.on("error", () => {});
  }

  static connect(address: string): Promise<RawKafka> {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(":")),
      Number(address.slice(address.lastIndexOf(":") + 1)),
    ];
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(new RawKafka(s)));
      s.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Next response frame, or null when the server closed the connection first. */
  nextFrame(timeoutMs = 5000): Promise<Buffer | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no response within timeout")), timeoutMs);
      this.waiters.push((frame) => {
        clearTimeout(t);
        resolve(frame);
      });
    });
  }

  /** Resolves true when the server closes the connection within the timeout. */
  waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once("close", () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  encodeRequest<T>(
    apiKey: number,
    apiVersion: number,
    schema: MessageSchema<T>,
    body: T,
    correlationId?: number,
  ): Buffer {
    const w = new Writer({ frame: true });
    w.int16(apiKey)
      .int16(apiVersion)
      .int32(correlationId ?? this.nextCorrelation++);
    const hv = requestHeaderVersion(apiKey, apiVersion);
    if (hv >= 1) w.nullableString("raw-test");
    if (hv >= 2) w.uvarint(0);
    encodeMessage(schema, apiVersion, body, w);
    return w.toBuffer();
  }

  /** Sends a well-formed request and decodes its response. */
  async request<Req, Res>(
    api: { apiKey: number; request: MessageSchema<Req>; response: MessageSchema<Res> },
    apiVersion: number,
    body: Req,
  ): Promise<{ correlationId: number; body: Res }> {
    this.sendRaw(this.encodeRequest(api.apiKey, apiVersion, api.request, body));
    const frame = await this.nextFrame();
    if (!frame) throw new Error("connection closed before the response");
    const r = new Reader(frame);
    const correlationId = r.int32();
    if (responseHeaderVersion(api.apiKey, apiVersion) >= 1) r.skipTaggedFields();
    return { correlationId, body: decodeMessage(api.response, apiVersion, r) };
  }

  close(): void {
    this.socket.destroy();
  }
}
