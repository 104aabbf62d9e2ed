/**
 * Builds a one-file Go test fixture (test/fixtures/<name>/main.go) offline, in GOPATH mode from
 * Debian's packaged Go sources (/usr/share/gocode), into a temporary directory. Used by the
 * tests that run Go clients (Sarama, nats.go); .ci/run installs the packages.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./run.js";

export const GOCODE = "/usr/share/gocode";
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures");
const GO_BUILD_TIMEOUT_MS = 240_000;

export interface GoFixture {
  readonly binary: string;
  /** Removes the build directory (the binary with it). */
  dispose(): void;
}

/**
 * Builds test/fixtures/`name`/main.go. `source` is a Debian package's source directory the
 * fixture imports; `packages` what to install when it is missing (named in the error).
 */
export async function buildGoFixture(name: string, source: string, packages: string): Promise<GoFixture> {
  const install = `apt-get install -y ${packages} (.ci/run does)`;
  if (!fs.existsSync(source)) throw new Error(`Debian Go sources are missing (${source}): ${install}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `oncedb-${name}-`));
  const binary = path.join(dir, `${name}-fixture`);
  // With cgo on (Go 1.19's default) the standard library golang-go ships prebuilt is used as it
  // is (with it off, net and os/user are compiled again: ~15 s instead of ~3 s here); Sarama's
  // zstd needs it anyway.
  const env: Record<string, string> = {
    GO111MODULE: "off",
    GOPATH: `${path.join(dir, "gopath")}:${GOCODE}`,
    GOCACHE: path.join(dir, "gocache"),
    GOENV: "off",
    GOFLAGS: "",
    GOPROXY: "off",
    CGO_ENABLED: "1",
  };
  const started = Date.now();
  // A file argument builds from any working directory (package "command-line-arguments").
  const built = await run("go", ["build", "-p", "1", "-o", binary, path.join(FIXTURES, name, "main.go")], {
    timeoutMs: GO_BUILD_TIMEOUT_MS,
    env,
  }).catch((err: Error) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot run go (${err.message}): ${install}`);
  });
  if (built.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `go build of test/fixtures/${name} failed (exit ${built.code}; needs ${packages}): ${built.stderr}`,
    );
  }
  console.log(`${name} fixture built in ${Date.now() - started} ms`);
  return { binary, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
