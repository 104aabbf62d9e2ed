import type { Command } from "commander";

/** Registers `oncedb fuzz` (being written; see src/fuzz/README.md). */
export function registerFuzzCommand(program: Command): void {
  void program;
}
