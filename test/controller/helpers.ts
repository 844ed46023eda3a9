// A build log that keeps its lines, for assertions.
import type { BuildLog } from "../../src/controller/provisioner.ts";

export class Log implements BuildLog {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
  get text(): string {
    return this.lines.join("\n");
  }
}
