/**
 * Runs a Python client scenario (test/fixtures/<script>) against a server with Debian's
 * interpreter and returns the JSON object it prints last. The Python packages (python3-kafka,
 * python3-confluent-kafka) install for /usr/bin/python3, whatever `python3` on PATH is.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures");
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** `debianPackage` is named in the error when the script fails (most often: not installed). */
export async function runPythonFixture<T>(
  script: string,
  args: string[],
  timeoutMs: number,
  debianPackage: string,
): Promise<T> {
  const { stdout } = await promisify(execFile)(PYTHON, [path.join(FIXTURES, script), ...args], {
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`${script} failed (is ${debianPackage} installed?): ${err.stderr ?? err.message}`);
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as T;
}
