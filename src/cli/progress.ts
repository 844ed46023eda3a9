// The terminal side of a build: log lines as they come, and on a TTY one live status line under them
// (the running stages, the current step, the time so far), redrawn in place. Without a TTY (CI logs,
// pipes) only the plain lines are written.
import type { BuildProgress } from "../build/output.ts";

export class TerminalProgress implements BuildProgress {
  private readonly out: NodeJS.WriteStream;
  private readonly live: boolean;
  private readonly started = Date.now();
  private readonly stages: string[] = [];
  private current = "";
  private shown = false;
  private ended = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(out: NodeJS.WriteStream) {
    this.out = out;
    this.live = out.isTTY === true;
    if (this.live) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
  }

  /** Writes one log line, keeping the status line below it. */
  line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.draw();
  }

  stage(path: readonly string[], state: "started" | "finished" | "skipped"): void {
    const name = path.join(" › ");
    if (state === "started") this.stages.push(name);
    else {
      const i = this.stages.lastIndexOf(name);
      if (i >= 0) this.stages.splice(i, 1);
    }
    this.draw();
  }

  step(name: string): void {
    this.current = name;
    this.draw();
  }

  /** Removes the status line for good. */
  end(): void {
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private clear(): void {
    if (this.live && this.shown) this.out.write("\r\x1b[2K");
    this.shown = false;
  }

  private draw(): void {
    if (!this.live || this.ended) return;
    const seconds = Math.round((Date.now() - this.started) / 1000);
    const where = this.stages.length ? this.stages.join(" | ") : "(no stage)";
    const status = `▶ ${where}${this.current ? ` · ${this.current}` : ""} · ${seconds}s`;
    const width = this.out.columns || 80;
    this.clear();
    this.out.write(`\x1b[7m${status.slice(0, Math.max(10, width - 1))}\x1b[0m`);
    this.shown = true;
  }
}
