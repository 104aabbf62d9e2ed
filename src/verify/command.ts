/**
 * `oncedb verify`: runs an exactly-once verification against a fresh OnceDB server (or
 * `--kafka HOST:PORT`) under injected faults, and exits 0 only when the checker finds no anomaly.
 * Exit codes: 0 no anomaly, 1 anomalies, 2 usage or setup error. See src/verify/README.md.
 */
import path from "node:path";
import type { Command } from "commander";
import {
  LIMITS,
  parseAddress,
  parseCount,
  parseDuration,
  parseFaults,
  UsageError,
  type VerifyOptions,
} from "./options.js";
import { abortRun, runVerify } from "./run.js";

/** Ctrl-C: stop every child and unmount, within this bound, then exit 130. */
const ABORT_CLEANUP_MS = 30_000;

function exitOnSignal(signal: NodeJS.Signals): void {
  process.once(signal, () => {
    process.stderr.write(`\nverify: ${signal}: stopping the server and workers\n`);
    const done = () => process.exit(130);
    setTimeout(done, ABORT_CLEANUP_MS).unref();
    (abortRun ? abortRun() : Promise.resolve()).then(done, done);
  });
}

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description("check exactly-once delivery under crashes, pauses, network and disk faults")
    .option("--duration <time>", "how long to run the workload under faults (e.g. 60s, 5m)", "60s")
    .option("--faults <kinds>", "comma-separated: kill,pause,net,disk (or none)", "kill,pause,net")
    .option("--seed <n>", "seed of the fault schedule and the proxy (default: random)")
    .option(
      "--out <dir>",
      "where history.jsonl, report.json and logs go (default: ./verify-out/<seed>-<time>)",
    )
    .option("--kafka <host:port>", "target an existing server (server faults are skipped)")
    .option("--producers <n>", "idempotent producers", "3")
    .option("--copiers <n>", "transactional copiers in one group", "2")
    .option("--readers <n>", "read_committed readers of the output", "2")
    .option("--partitions <n>", "partitions of the input and output topics", "4")
    .option("--rate <n>", "records per second, all producers together", "1000")
    .option("--heal-timeout <time>", "liveness bound: healing plus the final read", "120s")
    .option("--client-log <level>", "kafkajs log level in the workers (to workers.log)", "nothing")
    .option("--no-progress", "no progress line on stderr")
    .action(async (raw) => {
      let opts: VerifyOptions;
      try {
        const seed =
          raw.seed === undefined
            ? Math.floor(Math.random() * 2 ** 31)
            : parseCount(raw.seed, "--seed", 0, 2 ** 31 - 1);
        const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
        opts = {
          durationMs: parseDuration(raw.duration, "--duration"),
          faults: parseFaults(raw.faults),
          seed,
          out: path.resolve(raw.out ?? path.join("verify-out", `${seed}-${stamp}`)),
          kafka: raw.kafka === undefined ? null : parseAddress(raw.kafka),
          producers: parseCount(raw.producers, "--producers", 1, LIMITS.workersMax),
          copiers: parseCount(raw.copiers, "--copiers", 1, LIMITS.workersMax),
          readers: parseCount(raw.readers, "--readers", 0, LIMITS.workersMax),
          partitions: parseCount(raw.partitions, "--partitions", 1, LIMITS.partitionsMax),
          rate: parseCount(raw.rate, "--rate", 1, LIMITS.rateMax),
          healTimeoutMs: parseDuration(raw.healTimeout, "--heal-timeout"),
          progress: raw.progress !== false,
          clientLog: String(raw.clientLog),
        };
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(
        `verify: seed ${opts.seed} (replay with --seed ${opts.seed}), faults ${opts.faults.join(",") || "none"}`,
      );
      exitOnSignal("SIGINT");
      exitOnSignal("SIGTERM");
      try {
        const { report, table } = await runVerify(opts, log);
        process.stdout.write(table);
        process.exit(report.ok ? 0 : 1);
      } catch (err) {
        process.stderr.write(`verify: ${(err as Error).stack ?? err}\n`);
        process.exit(2);
      }
    });
}
