/** Temporary data directories under the bench's data root, removed after use. */
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";

export function tempDir(root: string, prefix: string): string {
  return mkdtempSync(path.join(root, `${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
