// The build log: every line a build prints goes through here, masked with the secrets the build has
// bound so far, to a sink (the terminal, a file, a test's array). Stage and step progress goes to an
// optional listener, which `berth run` turns into its live status line.
import type { BuildLog } from "../controller/provisioner.ts";
import { SecretMasker } from "../steps/masker.ts";

export interface BuildProgress {
  stage?(path: readonly string[], state: "started" | "finished" | "skipped", detail?: string): void;
  step?(name: string): void;
}

export class BuildOutput implements BuildLog {
  private readonly sink: (line: string) => void;
  private readonly secrets = new Set<string>();
  private masker = new SecretMasker([]);
  readonly progress: BuildProgress;

  constructor(sink: (line: string) => void, progress: BuildProgress = {}) {
    this.sink = sink;
    this.progress = progress;
  }

  line(text: string): void {
    for (const line of this.masker.mask(text).split("\n")) this.sink(line);
  }

  /** Secrets masked from now on, in this log and in step output (see `secretValues`). */
  addSecrets(values: Iterable<string>): void {
    for (const v of values) if (v) this.secrets.add(v);
    this.masker = new SecretMasker(this.secrets);
  }

  secretValues(): string[] {
    return [...this.secrets];
  }

  private readonly stages: { name: string; result: string; ms: number }[] = [];

  stageFinished(name: string, result: string, ms: number): void {
    this.stages.push({ name, result, ms });
  }

  /** One line per stage, in the order they ended: what `berth run` prints before `Finished`. */
  stageSummary(): string[] {
    return this.stages.map((s) => `  ${s.name.padEnd(Math.max(...this.stages.map((x) => x.name.length)))}  ${s.result}${s.result === "skipped" ? "" : ` (${(s.ms / 1000).toFixed(1)}s)`}`);
  }
}

/** A parallel branch's lines, tagged with its name as Jenkins does. */
export function branchLog(log: BuildLog, branch: string): BuildLog {
  return { line: (text) => { for (const line of text.split("\n")) log.line(`[${branch}] ${line}`); } };
}
