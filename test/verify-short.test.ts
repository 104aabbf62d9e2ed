/**
 * `oncedb verify` end to end, short: 60 s of workload under kill, pause and net faults against a
 * server it starts itself. Exit 0, no anomaly in report.json, and the faults really happened.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { run } from "./helpers/run.js";
import { CLI_PATH } from "./helpers/server.js";

describe("oncedb verify (short)", { timeout: 400_000 }, () => {
  it("finds no anomaly under kill, pause and net faults, and injects them", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "oncedb-verify-test-"));
    const res = await run(
      process.execPath,
      [
        CLI_PATH,
        "verify",
        "--duration",
        "60s",
        "--faults",
        "kill,pause,net",
        "--seed",
        "1",
        "--out",
        out,
        "--no-progress",
      ],
      { timeoutMs: 380_000 },
    );
    const reportFile = path.join(out, "report.json");
    assert.ok(fs.existsSync(reportFile), `no report; stderr: ${res.stderr}`);
    const report = JSON.parse(fs.readFileSync(reportFile, "utf8"));
    assert.equal(report.anomalies.total, 0, `anomalies: ${JSON.stringify(report.examples, null, 1)}`);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /RESULT: OK/);
    const injected = report.faults.injected as Record<string, number>;
    assert.ok(injected.kill! > 0 && injected.pause! > 0 && injected.net! > 0, JSON.stringify(report.faults));
    assert.ok(report.records.acknowledged > 1000, JSON.stringify(report.records));
    assert.equal(report.records.readFinalDistinct, report.records.readFinal);
    assert.ok(fs.statSync(path.join(out, "history.jsonl")).size > 0);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
