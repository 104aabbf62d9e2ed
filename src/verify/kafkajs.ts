/**
 * The kafkajs the verifier and its workers use: the stock client, as users run it.
 *
 * kafkajs 2.2.4 applies at most one aborted transaction per record when it filters a
 * read_committed fetch. The verifier first found aborted reads through it; the broker now lists
 * each aborted range from its producer's first data batch in the response (engine.ts,
 * `narrowAborted`), which is equivalent for a protocol-following client and leaves kafkajs
 * nothing to get wrong. Checking through the stock client keeps that fix honest.
 */
import { createRequire } from "node:module";
import type * as KafkaJS from "kafkajs";

const require = createRequire(import.meta.url);

export const kafkajs: typeof KafkaJS = require("kafkajs") as typeof KafkaJS;
