/**
 * A minimal Kafka client over our own codec: one connection, requests answered in order.
 * The CLI's operator commands (transactions list/describe/abort) use it; it is not a general
 * purpose client (use kafkajs or librdkafka for that).
 */
import net from "node:net";
import { decodeMessage, encodeMessage } from "./codec/codec.js";
import { requestHeaderVersion, responseHeaderVersion } from "./codec/header.js";
import { Reader } from "./codec/reader.js";
import type { MessageSchema } from "./codec/schema.js";
import { Writer } from "./codec/writer.js";

/** Responses larger than this are refused: an operator command never needs more. */
export const CLIENT_RESPONSE_BYTES_MAX = 64 * 1024 * 1024;

export interface ApiSchemas<Req, Res> {
  readonly apiKey: number;
  readonly request: MessageSchema<Req>;
  readonly response: MessageSchema<Res>;
}

export class KafkaClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: { resolve: (f: Buffer) => void; reject: (e: Error) => void }[] = [];
  private readonly frames: Buffer[] = [];
  private closed = false;
  private nextCorrelationId = 1;

  protected constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error("connection closed"));
    });
    socket.on("error", () => {});
  }

  static connect(address: string, timeoutMs = 5000): Promise<KafkaClient> {
    const i = address.lastIndexOf(":");
    const host = address.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(address.slice(i + 1));
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`could not connect to ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(new KafkaClient(s));
      });
      s.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readInt32BE(0);
      if (len < 0 || len > CLIENT_RESPONSE_BYTES_MAX) {
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 4 + len) break;
      const frame = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const w = this.waiters.shift();
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    }
  }

  /** The next response frame (without its length prefix). */
  nextFrame(timeoutMs = 5000): Promise<Buffer> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        resolve: (frame) => {
          clearTimeout(t);
          resolve(frame);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
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
      .int32(correlationId ?? this.nextCorrelationId++);
    const hv = requestHeaderVersion(apiKey, apiVersion);
    if (hv >= 1) w.nullableString("oncedb-cli");
    if (hv >= 2) w.uvarint(0);
    encodeMessage(schema, apiVersion, body, w);
    return w.toBuffer();
  }

  /** Sends a request and decodes its response. */
  async request<Req, Res>(
    api: ApiSchemas<Req, Res>,
    apiVersion: number,
    body: Req,
    timeoutMs = 30_000,
  ): Promise<Res> {
    this.sendRaw(this.encodeRequest(api.apiKey, apiVersion, api.request, body));
    const frame = await this.nextFrame(timeoutMs);
    const r = new Reader(frame);
    r.int32(); // correlation id: responses come in request order
    if (responseHeaderVersion(api.apiKey, apiVersion) >= 1) r.skipTaggedFields();
    return decodeMessage(api.response, apiVersion, r);
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

  close(): void {
    this.socket.destroy();
  }
}
