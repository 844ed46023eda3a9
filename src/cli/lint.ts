// `berth lint <Jenkinsfile>…`: check files without running them — syntax, the declarative model, and
// every step and method against what Berth implements. One finding per line,
// `file:line:column: message`; exit 0 when clean, 1 with findings, 2 when a file cannot be read.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { lintSource } from "../pipeline/lint.ts";
import { formatDiagnostic } from "../pipeline/diagnostics.ts";
import { EXIT_BAD_INPUT } from "./errors.ts";

export function registerLintCommands(program: Command): void {
  program
    .command("lint")
    .description("Check Jenkinsfiles without running them: syntax, declarative structure, and steps Berth supports.")
    .argument("<jenkinsfile...>", "files to check")
    .action((files: string[]) => {
      let findings = 0;
      let unreadable = false;
      for (const file of files) {
        let text: string;
        try {
          text = readFileSync(file, "utf8");
        } catch (error) {
          process.stderr.write(`berth: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
          unreadable = true;
          continue;
        }
        const { diagnostics } = lintSource(file, text);
        for (const d of diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
        findings += diagnostics.length;
      }
      process.exitCode = unreadable ? EXIT_BAD_INPUT : findings > 0 ? 1 : 0;
    });
}
