/**
 * `npm run bench [-- scenario...] [--quick] [--out DIR]`: runs the scenarios, prints a table per
 * scenario, writes results JSON and an SVG chart. Nothing here fails on speed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { renderSvg } from "./harness/chart-svg.js";
import { removeDir, tempDir } from "./harness/dirs.js";
import { machineFacts } from "./harness/machine.js";
import { defaultPeerCache, ensurePeer, stopSharedPeers } from "./harness/peers.js";
import { Progress } from "./harness/progress.js";
import { type ResultsFile, renderMarkdown, renderTable, updateDocs, writeResults } from "./harness/report.js";
import { settle } from "./harness/settle.js";
import type { RunOptions, ScenarioResult } from "./harness/types.js";
import { SCENARIOS } from "./scenarios/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

interface CliOptions {
  quick?: boolean;
  out: string;
  runs?: string;
  dataRoot: string;
  oncedb: string;
  peerCache: string;
  list?: boolean;
  updateDocs?: boolean;
  markdown?: boolean;
  verbose?: boolean;
}

async function main(): Promise<number> {
  const program = new Command()
    .name("oncedb-bench")
    .description("OnceDB beside its peers and the machine's own limits, measured in the same run")
    .argument("[scenarios...]", `scenarios to run (default: all): ${SCENARIOS.map((s) => s.name).join(", ")}`)
    .option("--quick", "a short pass of every scenario, one run each (about 2 minutes)")
    .option("--out <dir>", "results directory", path.join(repoRoot, "bench", "results"))
    .option("--runs <n>", "runs per figure (median of these); default 3, or 1 with --quick")
    .option("--data-root <dir>", "where temporary data dirs go (same disk as a real deployment)", os.tmpdir())
    .option("--oncedb <path>", "OnceDB CLI entry", path.join(repoRoot, "dist", "src", "cli", "main.js"))
    .option("--peer-cache <dir>", "where peers are installed", defaultPeerCache())
    .option("--list", "list scenarios and exit")
    .option(
      "--update-docs",
      "rewrite the results section of docs/BENCHMARKS.md from latest.json (after the named scenarios run; alone, without running any)",
    )
    .option("--markdown", "also print the results as markdown tables")
    .option("--verbose", "more output")
    .allowExcessArguments(false);
  program.parse();
  const names = program.args;
  const o = program.opts<CliOptions>();

  if (o.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(24)} ${s.description}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(", ")}; try --list\n`);
    return 2;
  }
  if (o.updateDocs && names.length === 0) {
    // Only the docs: from the results already recorded, no run.
    const latestPath = path.join(o.out, "latest.json");
    if (!existsSync(latestPath)) {
      process.stderr.write(
        `no results to write the docs from: ${latestPath} is missing; run scenarios first\n`,
      );
      return 2;
    }
    const latest = JSON.parse(readFileSync(latestPath, "utf8")) as ResultsFile;
    const doc = path.join(repoRoot, "docs", "BENCHMARKS.md");
    const md = renderMarkdown(latest.scenarios, latest.machine);
    process.stdout.write(updateDocs(doc, md) ? `Updated ${doc}\n` : `No results markers in ${doc}\n`);
    return 0;
  }
  const selected = names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  const quick = Boolean(o.quick);
  const runs = o.runs ? Math.max(1, Math.min(50, Number.parseInt(o.runs, 10) || 1)) : quick ? 1 : 3;
  mkdirSync(o.dataRoot, { recursive: true });
  const scratch = tempDir(o.dataRoot, "oncedb-bench");
  const opts: RunOptions = {
    quick,
    dataRoot: scratch,
    oncedbCli: path.resolve(o.oncedb),
    runs,
    peerCache: o.peerCache,
    verbose: Boolean(o.verbose),
  };
  const serverBuilt = existsSync(opts.oncedbCli);
  const machine = machineFacts(scratch);
  const progress = new Progress(selected.reduce((a, s) => a + s.estimateMs(opts) + 800, 0));
  const log = (line: string) => progress.log(line);
  const results: ScenarioResult[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress.log("interrupted: finishing the current step, then writing what was measured");
  };
  process.once("SIGINT", onSignal);

  log(
    `oncedb-bench: ${selected.map((s) => s.name).join(", ")}; ${quick ? "quick, " : ""}runs per figure: ${runs}; ${machine.cpuModel} x${machine.cores}, ${machine.filesystem}`,
  );
  progress.start();
  try {
    for (const s of selected) {
      if (interrupted) break;
      const t0 = Date.now();
      const skip = (why: string) => {
        progress.addTotal(-s.estimateMs(opts));
        results.push({
          scenario: s.name,
          date: new Date().toISOString(),
          durationMs: 0,
          status: "skipped",
          notes: [why],
          rows: [],
          charts: {},
        });
        log(`${s.name}: skipped: ${why}`);
      };
      if (s.needsServer && !serverBuilt) {
        skip(`OnceDB is not built (${path.relative(repoRoot, opts.oncedbCli)} missing): run npm run build`);
        continue;
      }
      const peerNotes: string[] = [];
      for (const peer of s.peers) {
        const inst = await ensurePeer(peer, opts.peerCache, log);
        if (!inst.ok) peerNotes.push(`peer ${peer} unavailable (${inst.reason}); OnceDB figures only`);
      }
      progress.step(`${s.name}: letting the disk settle (sync)`, 800);
      await settle();
      try {
        const res = await s.run({ opts, progress, log });
        res.notes.push(...peerNotes);
        results.push(res);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        results.push({
          scenario: s.name,
          date: new Date().toISOString(),
          durationMs: Date.now() - t0,
          status: "failed",
          notes: [`failed: ${msg.slice(0, 2000)}`, ...peerNotes],
          rows: [],
          charts: {},
        });
        log(`${s.name}: failed: ${msg.split("\n")[0]}`);
        if (o.verbose) log(msg);
      }
    }
  } finally {
    // peers shared by several scenarios (HarperDB for rest-*) live until here; stopped by PID
    for (const p of await stopSharedPeers()) log(`stopped shared peer ${p}`);
    progress.stop();
    removeDir(scratch);
  }

  const generated = new Date().toISOString();
  const written = writeResults(o.out, {
    generated,
    machine,
    options: { quick, runs, scenarios: selected.map((s) => s.name), interrupted },
    scenarios: results,
  });
  const svgPath = path.join(o.out, "latest.svg");
  writeFileSync(
    svgPath,
    renderSvg(written.scenarios, `${machine.cpuModel} x${machine.cores}, ${generated.slice(0, 10)}`),
  );

  process.stdout.write("\n");
  for (const r of results) process.stdout.write(`${renderTable(r)}\n\n`);
  process.stdout.write(
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${Math.round(machine.memoryTotalMB / 1024)} GiB, ${machine.filesystem}, ${machine.diskFreeGB} GB free; node ${machine.node}, sqlite ${machine.sqlite}; load ${machine.loadAverage.join(" ")}\n`,
  );
  process.stdout.write(`Results: ${path.join(o.out, "latest.json")}, ${svgPath}\n`);
  const md = renderMarkdown(written.scenarios, machine);
  if (o.markdown) process.stdout.write(`\n${md}\n`);
  if (o.updateDocs) {
    const doc = path.join(repoRoot, "docs", "BENCHMARKS.md");
    process.stdout.write(updateDocs(doc, md) ? `Updated ${doc}\n` : `No results markers in ${doc}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
