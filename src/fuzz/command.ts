import type { Command } from "commander";
import { FRAME_BYTES_MAX_DEFAULT } from "./mutators.js";
import { type FuzzOptions, runFuzz, summarize } from "./runner.js";

/** "30s", "3m", "1h", "500ms" or plain seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration ${s}: use e.g. 30s, 3m, 1h`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${s}`);
  return n;
}

/** Registers `oncedb fuzz` (see src/fuzz/README.md). */
export function registerFuzzCommand(program: Command): void {
  program
    .command("fuzz")
    .description(
      "fuzz the Kafka listener with mutated and random frames; exits non-zero on a crash, hang or failed health check",
    )
    .option("--duration <d>", "how long to fuzz (30s, 3m, 1h)", "30s")
    .option("--seed <n>", "seed of the case generator (a run is replayable from it)", "1")
    .option("--kafka <host:port>", "fuzz this server instead of starting one")
    .option("--out <dir>", "write report.json here")
    .option("--concurrency <n>", "cases in flight at once (connections)", "6")
    .option("--corpus <which>", "seed corpus: codec, kafkajs or both", "both")
    .option("--case <n>", "replay one case of the seed and print it")
    .option(
      "--stuck-timeout <d>",
      "a connection owed an answer or a close that gets neither this long is slow (6 times this: stuck)",
      "10s",
    )
    .option("--health-timeout <d>", "a health round trip slower than this fails the run", "10s")
    .option("--rss-max-mb <n>", "fail when the server's peak RSS exceeds this", "1536")
    .option(
      "--frame-max-bytes <n>",
      "the server's largest accepted frame (for --kafka targets)",
      String(FRAME_BYTES_MAX_DEFAULT),
    )
    .option(
      "--server-log-level <level>",
      "log level of the server started by the fuzzer (lines go to <out>/server.log)",
      "error",
    )
    .option("--strict", "also fail on handler failures, unreadable stored batches and undecodable responses")
    .action(async (opts) => {
      let o: FuzzOptions;
      try {
        if (!["codec", "kafkajs", "both"].includes(opts.corpus))
          throw new Error("--corpus must be codec, kafkajs or both");
        o = {
          durationMs: parseDuration(opts.duration),
          seed: positiveInt("--seed", opts.seed),
          kafka: opts.kafka,
          out: opts.out,
          concurrency: Math.max(1, positiveInt("--concurrency", opts.concurrency)),
          corpus: opts.corpus,
          frameMax: positiveInt("--frame-max-bytes", opts.frameMaxBytes),
          stuckMs: parseDuration(opts.stuckTimeout),
          healthTimeoutMs: parseDuration(opts.healthTimeout),
          rssMaxBytes: positiveInt("--rss-max-mb", opts.rssMaxMb) * 1024 * 1024,
          caseIndex: opts.case !== undefined ? positiveInt("--case", opts.case) : undefined,
          strict: opts.strict === true,
          serverLogLevel: opts.serverLogLevel,
          progress: (line) => process.stderr.write(`${line}\n`),
        };
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exit(2);
      }
      const report = await runFuzz(o);
      if (report.replayed) process.stdout.write(`${JSON.stringify(report.replayed, null, 2)}\n`);
      process.stdout.write(`${summarize(report)}\n`);
      if (o.out) process.stdout.write(`report: ${o.out}/report.json\n`);
      process.exit(report.ok ? 0 : 1);
    });
}
