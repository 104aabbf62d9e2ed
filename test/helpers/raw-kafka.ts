/**
 * A raw Kafka connection for tests that must send what no well-behaved client sends:
 * arbitrary frames, wrong lengths, unknown API keys. It is the product's minimal client
 * (src/protocol/kafka/client.ts) with a test-friendly `request` that also returns the
 * correlation id.
 */
import { KafkaClient } from "../../src/protocol/kafka/client.js";
import type { MessageSchema } from "../../src/protocol/kafka/codec/schema.js";

export class RawKafka {
  private constructor(private readonly client: KafkaClient) {}

  static async connect(address: string): Promise<RawKafka> {
    return new RawKafka(await KafkaClient.connect(address));
  }

  get isClosed(): boolean {
    return this.client.isClosed;
  }

  sendRaw(bytes: Buffer): void {
    this.client.sendRaw(bytes);
  }

  /** Next response frame, or null when the server closed the connection first. */
  nextFrame(timeoutMs = 5000): Promise<Buffer | null> {
    return this.client.nextFrame(timeoutMs).catch((err: Error) => {
      if (this.client.isClosed) return null;
      throw err;
    });
  }

  waitClosed(timeoutMs = 5000): Promise<boolean> {
    return this.client.waitClosed(timeoutMs);
  }

  encodeRequest<T>(
    apiKey: number,
    apiVersion: number,
    schema: MessageSchema<T>,
    body: T,
    correlationId?: number,
  ): Buffer {
    return this.client.encodeRequest(apiKey, apiVersion, schema, body, correlationId);
  }

  async request<Req, Res>(
    api: { apiKey: number; request: MessageSchema<Req>; response: MessageSchema<Res> },
    apiVersion: number,
    body: Req,
  ): Promise<{ body: Res }> {
    return { body: await this.client.request(api, apiVersion, body) };
  }

  close(): void {
    this.client.close();
  }
}
