/**
 * nats.go, the reference Go NATS client (Debian's golang-github-nats-io-go-nats-dev 1.22.1 with
 * golang-go 1.19, installed by .ci/run), against OnceDB and against the reference nats-server
 * 2.9.10 with JetStream on, the same expectations for both: wildcard subscriptions, a queue group,
 * request/reply with headers and the no-responders status, multi-valued headers, AutoUnsubscribe,
 * Flush and RTT; JetStream streams (AddStream, StreamInfo, Nats-Msg-Id dedupe, PubAcks) and a
 * durable pull consumer (Fetch, AckSync, Ack, Nak redelivery, ConsumerInfo, deletes). The
 * scenario runs in test/fixtures/nats-go/main.go, built here in GOPATH mode from Debian's packaged
 * sources (no network); this file makes the assertions. Where OnceDB differs on purpose, the
 * comment says why and each side's value is asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NATS_PROTOCOL_VERSION } from "../src/protocol/nats/server.js";
import { buildGoFixture, GOCODE, type GoFixture } from "./helpers/go-fixture.js";
import { NATS_SERVER_VERSION, startNatsServerJs } from "./helpers/nats-targets.js";
import { run } from "./helpers/run.js";
import { startServer } from "./helpers/server.js";

const NATS_GO_SRC = `${GOCODE}/src/github.com/nats-io/nats.go`;

const STREAM = "GOJS";
const QUEUE_MSGS = 300;
/** Go's zero time.Time in Unix milliseconds: what nats.go reads for an absent timestamp. */
const GO_ZERO_TIME_MS = -62_135_596_800_000;

interface StreamView {
  name: string;
  subjects: string[];
  storage: string;
  retention: string;
  discard: string;
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  max_age_ns: number;
  max_msg_size: number;
  replicas: number;
  duplicates_ns: number;
  deny_delete: boolean;
  deny_purge: boolean;
  msgs: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  first_ts: number;
  last_ts: number;
  consumers: number;
  created_in_window: boolean;
}

interface PubAck {
  err: string;
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface JsMsg {
  subject: string;
  data: string;
  header: Record<string, string[]>;
  meta_err: string;
  stream: string;
  consumer: string;
  sseq: number;
  cseq: number;
  delivered: number;
  pending: number;
  ts: number;
}

interface FetchView {
  err: string;
  msgs: JsMsg[];
  ms: number;
}

interface Seq {
  consumer: number;
  stream: number;
}

interface ConsumerView {
  err: string;
  stream: string;
  name: string;
  durable: string;
  deliver_policy: string;
  ack_policy: string;
  ack_wait_ns: number;
  max_deliver: number;
  filter_subject: string;
  replay_policy: string;
  max_waiting: number;
  max_ack_pending: number;
  delivered: Seq;
  ack_floor: Seq;
  num_ack_pending: number;
  num_redelivered: number;
  num_waiting: number;
  num_pending: number;
}

interface Seen {
  server: { version: string; id_set: boolean; max_payload: number; headers_supported: boolean };
  wildcards: Record<string, string[]>;
  queue: { members: string[][]; plain: string[] };
  request: {
    data: string;
    responder_reply: string;
    answer_subject: string;
    header_data: string;
    header_answer: Record<string, string[]>;
    no_responders_err: string;
    no_responders_is: boolean;
    no_responders_ms: number;
  };
  headers: {
    subject: string;
    data: string;
    header: Record<string, string[]>;
    empty_data: string;
    empty_header: Record<string, string[]>;
  };
  auto: { received: string[]; valid: boolean; in_msgs: number; in_msgs_later: number };
  flush: { flush_err: string; rtt_err: string; rtt_ok: boolean };
  jetstream: {
    created: StreamView;
    create_again_err: string;
    create_again_same: boolean;
    create_other_err: string;
    create_other_is: boolean;
    acks: PubAck[];
    info: StreamView;
    consumer_new: ConsumerView;
    first: FetchView;
    ack_sync_err: string;
    ack_again_err: string;
    ack_err: string;
    nak_err: string;
    ack_sync_last_err: string;
    after_acks: ConsumerView;
    redelivered: FetchView;
    during_redelivery: ConsumerView;
    ack_redelivered_err: string;
    after_redelivered: ConsumerView;
    ack_rest_err: string;
    after_all: ConsumerView;
    empty: FetchView;
    delete_consumer_err: string;
    consumer_after_delete: ConsumerView;
    delete_consumer_again_err: string;
    info_after_consumer_delete: StreamView;
    delete_stream_err: string;
    info_after_delete_err: string;
    delete_stream_again_err: string;
    publish_after_delete: PubAck;
    push: {
      subscribe: string[];
      subscribe_err: string;
      queue: string[];
      queue_err: string;
      queue_members: number;
      ordered: string[];
      ordered_err: string;
      consumers_after: number;
    };
  };
  start_ms: number;
  end_ms: number;
}

type Target = "nats-server" | "OnceDB";

/** Starts a target, runs the fixture against it, stops it; rejects with both sides' output. */
async function runAgainst(binary: string, target: Target): Promise<Seen> {
  let address: string;
  let log: () => string;
  let stop: () => Promise<void>;
  if (target === "OnceDB") {
    const s = await startServer({ nats: true });
    address = s.natsAddress;
    log = () => s.logLines.join("\n");
    stop = () => s.dispose();
  } else {
    const t = await startNatsServerJs();
    address = t.address;
    log = () => t.log();
    stop = () => t.stop();
  }
  try {
    const { code, stdout, stderr } = await run(binary, [`nats://${address}`], { timeoutMs: 120_000 });
    if (code !== 0)
      throw new Error(`nats.go scenario against ${target} failed (exit ${code}): ${stderr}\n${log()}`);
    return JSON.parse(stdout.trim().split("\n").pop()!) as Seen;
  } finally {
    await stop();
  }
}

/** The durable pull consumer's config as PullSubscribe("gojs.>", "worker") creates it. */
const consumerConfig = {
  err: "",
  stream: STREAM,
  name: "worker",
  durable: "worker",
  deliver_policy: "all",
  ack_policy: "explicit",
  ack_wait_ns: 30e9,
  max_deliver: -1,
  filter_subject: "gojs.>",
  replay_policy: "instant",
  max_waiting: 512,
  // nats.go sets MaxAckPending to its subscription channel's capacity (64K).
  max_ack_pending: 65_536,
};

/** The consumer's state, all other fields as created. */
const consumerState = (
  delivered: Seq,
  ackFloor: Seq,
  numAckPending: number,
  numRedelivered: number,
  numPending: number,
): ConsumerView => ({
  ...consumerConfig,
  delivered,
  ack_floor: ackFloor,
  num_ack_pending: numAckPending,
  num_redelivered: numRedelivered,
  num_waiting: 0,
  num_pending: numPending,
});

const range = (n: number): string[] => Array.from({ length: n }, (_, i) => `q${i}`);

describe("nats.go (Go)", { timeout: 300_000 }, () => {
  let fixture: GoFixture | undefined;

  // Builds the fixture once; each target's describe runs it once, the tests check its parts.
  before(async () => {
    fixture = await buildGoFixture("nats-go", NATS_GO_SRC, "golang-go golang-github-nats-io-go-nats-dev");
  });

  after(() => {
    fixture?.dispose();
  });

  for (const target of ["nats-server", "OnceDB"] as const) {
    describe(target, () => {
      let seen: Seen;
      const inWindow = (ms: number, what: string) =>
        assert.ok(
          ms >= seen.start_ms && ms <= seen.end_ms,
          `${what} ${ms} is not within the scenario [${seen.start_ms}, ${seen.end_ms}]`,
        );

      before(async () => {
        seen = await runAgainst(fixture!.binary, target);
      });

      it("connects: INFO's version, max_payload and headers", () => {
        // OnceDB announces the nats-server version whose client protocol it speaks (a feature
        // level clients read), not nats-server's own build.
        const version = target === "OnceDB" ? NATS_PROTOCOL_VERSION : NATS_SERVER_VERSION;
        assert.deepEqual(seen.server, {
          version,
          id_set: true,
          max_payload: 1024 * 1024,
          headers_supported: true,
        });
      });

      it("wildcard subscriptions: '*' matches one token, '>' one or more", () => {
        assert.deepEqual(seen.wildcards, {
          "gow.*": ["gow.a"],
          "gow.>": ["gow.a", "gow.a.b", "gow.a.b.c", "gow.x.b"],
          "gow.*.b": ["gow.a.b", "gow.x.b"],
          "gow.a.b": ["gow.a.b"],
        });
      });

      it("a queue group of 3 gets each of 300 messages once; a plain subscriber gets all", () => {
        const { members, plain } = seen.queue;
        assert.equal(members.length, 3);
        // Random choice: each member gets some ((2/3)^300 odds of none).
        for (const [i, m] of members.entries()) assert.ok(m.length > 0, `member ${i} got nothing`);
        const all = members.flat();
        assert.equal(all.length, QUEUE_MSGS, `queue members got ${all.length} in all`);
        assert.deepEqual(
          [...all].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
          range(QUEUE_MSGS),
        );
        // Each member in publish order.
        for (const m of members)
          assert.deepEqual(
            m,
            [...m].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
          );
        assert.deepEqual(plain, range(QUEUE_MSGS));
      });

      it("request/reply: nc.Request, RequestMsg with headers, and ErrNoResponders at once", () => {
        const r = seen.request;
        assert.equal(r.data, "echo:hi");
        // nats.go's request mux: one wildcard inbox subscription, a token per request.
        assert.match(r.responder_reply, /^_INBOX\.[A-Za-z0-9]{22}\.[A-Za-z0-9]{8}$/);
        assert.equal(r.answer_subject, r.responder_reply);
        assert.equal(r.header_data, "echo:h");
        assert.deepEqual(r.header_answer, { "X-Req": ["1", "2"], "X-Responder": ["go"] });
        assert.equal(r.no_responders_err, "nats: no responders available for request");
        assert.equal(r.no_responders_is, true);
        // The 503 status comes at once, long before the 5 s request timeout.
        assert.ok(r.no_responders_ms < 1000, `no responders after ${r.no_responders_ms} ms`);
      });

      it("headers: several values per name and case kept; headers without a payload", () => {
        assert.deepEqual(seen.headers, {
          subject: "gohdr.one",
          data: "payload",
          header: { "X-Multi": ["a", "b", "c"], "X-Case": ["MiXeD Value"], "x-lower": ["l"] },
          empty_data: "",
          empty_header: { "X-Only": ["1"] },
        });
      });

      it("AutoUnsubscribe(3): the server sends 3 of 5 messages and nothing later", () => {
        // in_msgs counts every MSG the server sent on that connection.
        assert.deepEqual(seen.auto, {
          received: ["a0", "a1", "a2"],
          valid: false,
          in_msgs: 3,
          in_msgs_later: 3,
        });
      });

      it("Flush and RTT", () => {
        assert.deepEqual(seen.flush, { flush_err: "", rtt_err: "", rtt_ok: true });
      });

      it("AddStream (file storage) with the server's defaults; again the same; other config refused", () => {
        const js = seen.jetstream;
        assert.deepEqual(js.created, {
          name: STREAM,
          subjects: ["gojs.>"],
          storage: "File",
          retention: "Limits",
          discard: "DiscardOld",
          // nats.go sends 0 (no omitempty); the server's default for it is -1 (unlimited).
          max_consumers: -1,
          max_msgs: -1,
          max_bytes: -1,
          max_age_ns: 0,
          max_msg_size: -1,
          replicas: 1,
          duplicates_ns: 120e9,
          // A stream on OnceDB is a Kafka log: single messages cannot be deleted (no
          // STREAM.MSG.DELETE), so its config says deny_delete. nats-server's default is false.
          deny_delete: target === "OnceDB",
          deny_purge: false,
          msgs: 0,
          bytes: 0,
          first_seq: 0,
          last_seq: 0,
          first_ts: GO_ZERO_TIME_MS,
          last_ts: GO_ZERO_TIME_MS,
          consumers: 0,
          created_in_window: true,
        });
        assert.equal(js.create_again_err, "");
        assert.equal(js.create_again_same, true, "the same config again answers the same stream");
        assert.equal(js.create_other_err, "nats: stream name already in use");
        assert.equal(js.create_other_is, true, "errors.Is(err, nats.ErrStreamNameAlreadyInUse)");
      });

      it("Publish: PubAcks with sequences; a repeated MsgId is a duplicate with the first sequence", () => {
        const ack = (seq: number, duplicate = false): PubAck => ({ err: "", stream: STREAM, seq, duplicate });
        assert.deepEqual(seen.jetstream.acks, [ack(1), ack(1, true), ack(2), ack(3), ack(4), ack(5)]);
      });

      it("StreamInfo: messages, sequences, bytes and the first and last message times", () => {
        const { info, first } = seen.jetstream;
        assert.equal(info.name, STREAM);
        assert.equal(info.msgs, 5);
        assert.equal(info.first_seq, 1);
        assert.equal(info.last_seq, 5);
        assert.equal(info.consumers, 0);
        // The byte count is each server's own storage measure; 5 stored messages are not 0 bytes.
        assert.ok(info.bytes > 0, `bytes ${info.bytes} with ${info.msgs} messages`);
        // The times of the first and last stored messages (as the consumer sees them too).
        assert.equal(info.first_ts, first.msgs[0]?.ts, "first_ts is the first message's time");
        assert.equal(info.last_ts, first.msgs[4]?.ts, "last_ts is the last message's time");
        inWindow(info.first_ts, "first_ts");
        inWindow(info.last_ts, "last_ts");
      });

      it("PullSubscribe with a durable creates the consumer", () => {
        assert.deepEqual(
          seen.jetstream.consumer_new,
          consumerState({ consumer: 0, stream: 0 }, { consumer: 0, stream: 0 }, 0, 0, 5),
        );
      });

      it("Fetch(10): the 5 messages with subjects, headers and ack metadata", () => {
        const { first } = seen.jetstream;
        assert.equal(first.err, "");
        const msg = (seq: number, subject: string, header: Record<string, string[]>): Omit<JsMsg, "ts"> => ({
          subject,
          data: `m${seq}`,
          header,
          meta_err: "",
          stream: STREAM,
          consumer: "worker",
          sseq: seq,
          cseq: seq,
          delivered: 1,
          // Messages left in the stream after this one.
          pending: 5 - seq,
        });
        assert.deepEqual(
          first.msgs.map(({ ts: _, ...m }) => m),
          [
            // The stored message keeps its Nats-Msg-Id header.
            msg(1, "gojs.a", { "Nats-Msg-Id": ["id-1"] }),
            msg(2, "gojs.b", {}),
            msg(3, "gojs.c.d", { "Nats-Msg-Id": ["id-3"], "X-Multi": ["a", "b"] }),
            msg(4, "gojs.b", {}),
            msg(5, "gojs.a", {}),
          ],
        );
        for (const m of first.msgs) inWindow(m.ts, `timestamp of ${m.data}`);
        assert.ok(first.ms < 2000, `the fetch of available messages took ${first.ms} ms`);
      });

      it("AckSync (double ack), Ack and Nak; ConsumerInfo's ack floor and pending", () => {
        const js = seen.jetstream;
        assert.equal(js.ack_sync_err, "");
        // A second ack of the same message is refused by the client itself.
        assert.equal(js.ack_again_err, "nats: message was already acknowledged");
        assert.equal(js.ack_err, "");
        assert.equal(js.nak_err, "");
        assert.equal(js.ack_sync_last_err, "");
        // 1 and 2 acked in order (floor 2 in both sequences), 5 acked above the floor, 3 NAKed
        // and 4 unacknowledged: 2 pending, nothing new to deliver.
        assert.deepEqual(
          js.after_acks,
          consumerState({ consumer: 5, stream: 5 }, { consumer: 2, stream: 2 }, 2, 0, 0),
        );
      });

      it("a NAKed message is delivered again (NumDelivered 2, a new consumer sequence)", () => {
        const js = seen.jetstream;
        assert.equal(js.redelivered.err, "");
        assert.deepEqual(
          js.redelivered.msgs.map(({ ts: _, ...m }) => m),
          [
            {
              subject: "gojs.c.d",
              data: "m3",
              header: { "Nats-Msg-Id": ["id-3"], "X-Multi": ["a", "b"] },
              meta_err: "",
              stream: STREAM,
              consumer: "worker",
              sseq: 3,
              cseq: 6,
              delivered: 2,
              pending: 0,
            },
          ],
        );
        assert.equal(js.redelivered.msgs[0]?.ts, js.first.msgs[2]?.ts, "the same stored message");
        // Redelivered and not yet acknowledged: counted in num_redelivered; the floor stays.
        assert.deepEqual(
          js.during_redelivery,
          consumerState({ consumer: 6, stream: 5 }, { consumer: 2, stream: 2 }, 2, 1, 0),
        );
        assert.equal(js.ack_redelivered_err, "");
        // Acked: the floor moves up to 3 (just below 4, first delivered as consumer sequence
        // 4), and num_redelivered counts redelivered messages still pending, so none.
        assert.deepEqual(
          js.after_redelivered,
          consumerState({ consumer: 6, stream: 5 }, { consumer: 3, stream: 3 }, 1, 0, 0),
        );
        assert.equal(js.ack_rest_err, "");
        // All acknowledged: the floor is the last delivery.
        assert.deepEqual(
          js.after_all,
          consumerState({ consumer: 6, stream: 5 }, { consumer: 6, stream: 5 }, 0, 0, 0),
        );
        // Nothing left: the fetch waits out its 1 s and times out.
        assert.deepEqual(js.empty.msgs, []);
        assert.equal(js.empty.err, "nats: timeout");
        assert.ok(js.empty.ms >= 900 && js.empty.ms < 3000, `empty fetch took ${js.empty.ms} ms`);
      });

      it("push consumers: js.Subscribe, a durable QueueSubscribe of 2 members, an ordered consumer", () => {
        const p = seen.jetstream.push;
        assert.deepEqual([p.subscribe_err, p.queue_err, p.ordered_err], ["", "", ""]);
        // The stream's 5 messages, in order, each once, under their own subjects.
        assert.deepEqual(
          p.subscribe.map((x) => Number(x.split(":")[0])),
          [1, 2, 3, 4, 5],
        );
        assert.ok(
          p.subscribe.every((x) => x.split(":")[1]!.startsWith("gojs.")),
          p.subscribe.join(),
        );
        const byData = p.subscribe.map((x) => `${x.split(":")[0]}:${x.split(":").slice(2).join(":")}`);
        assert.deepEqual(p.queue, [...byData].sort());
        assert.ok(p.queue_members >= 1 && p.queue_members <= 2);
        assert.deepEqual(
          p.ordered,
          p.subscribe.map((x) => x.split(":").slice(2).join(":")),
        );
        // The ephemeral consumers went with their subscriptions; the pull durable remains.
        assert.equal(p.consumers_after, 1);
      });

      it("DeleteConsumer and DeleteStream; what is gone is not found", () => {
        const js = seen.jetstream;
        assert.equal(js.delete_consumer_err, "");
        assert.equal(js.consumer_after_delete.err, "nats: consumer not found");
        assert.equal(js.delete_consumer_again_err, "nats: consumer not found");
        assert.equal(js.info_after_consumer_delete.consumers, 0);
        assert.equal(js.info_after_consumer_delete.msgs, 5);
        assert.equal(js.delete_stream_err, "");
        assert.equal(js.info_after_delete_err, "nats: stream not found");
        assert.equal(js.delete_stream_again_err, "nats: stream not found");
        // No stream captures the subject any more: no responders, which nats.go reports so.
        assert.deepEqual(js.publish_after_delete, {
          err: "nats: no response from stream",
          stream: "",
          seq: 0,
          duplicate: false,
        });
      });
    });
  }
});
