#!/usr/bin/env node
// Runs every compiled *.test.js under dist/src and dist/test with Node's test runner.
// Node 20's --test takes no glob patterns, and given a directory it would also run every .js
// file under a `test/` folder (helpers, fixtures), so the file list is built here.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

function find(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) find(p, out);
    else if (entry.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filter = process.env.TEST_FILTER;
const files = [...find("dist/src"), ...find("dist/test")].filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error("no compiled test files found: run `npm run build` first");
  process.exit(1);
}
const args = ["--test", "--test-concurrency=1", "--test-timeout=600000", ...process.argv.slice(2), ...files];
const r = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
