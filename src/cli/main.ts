// The `berth` command line: parses arguments and hands off to the layers below.
// May import every other folder; it only starts the embedded cluster, never reaches into it.
import { Command } from "commander";
import { registerTemplateCommands } from "./template.ts";
import { registerClusterCommands } from "./cluster.ts";
import { registerLintCommands } from "./lint.ts";
import { registerRunCommand } from "./run.ts";
import { exitCodeFor } from "./errors.ts";

const program = new Command("berth")
  .description("Run CI pipelines in ephemeral Kubernetes pods built from pod templates.")
  .version("0.1.0")
  .exitOverride()
  .showHelpAfterError();

registerTemplateCommands(program);
registerClusterCommands(program);
registerLintCommands(program);
registerRunCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { code, message } = exitCodeFor(error);
  if (message) process.stderr.write(`${message}\n`);
  process.exitCode = code;
}
