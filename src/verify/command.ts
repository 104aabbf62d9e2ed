import type { Command } from "commander";

/** Registers `oncedb verify` (being written; see src/verify/README.md). */
export function registerVerifyCommand(program: Command): void {
  void program;
}
