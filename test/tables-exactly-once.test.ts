/**
 * Exactly-once processing of a stream into tables, through the library API: a processor adds
 * each payment to an account balance (not idempotent) and records it, committing the rows and the
 * input offset in one commit (engine.tables.commit). It is killed with SIGKILL several times in
 * mid-stream and restarted; afterwards every balance is exactly the sum of its payments, every
 * payment is recorded once, and the committed offset is the end of the input.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const PROCESSOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "helpers/table-processor.js");
const PAYMENTS = 3000;
const ACCOUNTS = 7;

function run(args: string[]): { proc: ChildProcess; lines: string[]; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [PROCESSOR, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  readline.createInterface({ input: proc.stdout! }).on("line", (l) => lines.push(l));
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(err);
      resolve(code);
    }),
  );
  return { proc, lines, exit };
}

describe("processing a stream into tables exactly once", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-eos-tables-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("survives SIGKILL mid-stream: every payment applied once", async () => {
    assert.equal(await run(["seed", dir, String(PAYMENTS)]).exit, 0);
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const r = run(["process", dir]);
      // Let it commit a few slices, then kill it between (or inside) commits.
      const deadline = Date.now() + 15_000;
      const target = r.lines.length + 3 + round * 2;
      while (r.lines.filter((l) => l.startsWith("committed")).length < target && Date.now() < deadline) {
        if (r.lines.includes("done")) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      if (r.lines.includes("done")) {
        await r.exit;
        break;
      }
      await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 15)));
      r.proc.kill("SIGKILL");
      await r.exit;
      kills++;
    }
    assert.ok(kills >= 2, `the processor was killed ${kills} times`);
    const last = run(["process", dir]);
    assert.equal(await last.exit, 0);
    assert.ok(last.lines.includes("done"));

    const report = run(["report", dir]);
    assert.equal(await report.exit, 0);
    const { balances, applied, committed } = JSON.parse(report.lines[0]!) as {
      balances: Record<string, number>;
      applied: number;
      committed: number;
    };
    const expected: Record<string, number> = {};
    for (let j = 0; j < PAYMENTS; j++)
      expected[`acct-${j % ACCOUNTS}`] = (expected[`acct-${j % ACCOUNTS}`] ?? 0) + j + 1;
    assert.deepEqual(balances, expected);
    assert.equal(applied, PAYMENTS);
    assert.equal(committed, PAYMENTS);
  });
});
