// The `berth` command line: parses arguments and hands off to the layers below.
// May import every other folder except the embedded cluster's internals (it only starts it).
import { Command } from "commander";

const program = new Command("berth")
  .description("Run CI pipelines in ephemeral Kubernetes pods built from pod templates.")
  .version("0.1.0");

await program.parseAsync(process.argv);
