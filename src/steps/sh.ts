// The `sh` step in the agent container, as Jenkins runs it: the script is saved to a file next to the
// workspace and run with `sh -xe` (so each command is echoed as `+ cmd` and the first failure stops it),
// or run directly when it starts with `#!`. A non-zero exit fails the step with "script returned exit
// code N" unless returnStatus; returnStdout returns stdout as it is (not trimmed) instead of logging it.
import { randomBytes } from "node:crypto";
import { TextDecoder } from "node:util";
import type { BuildLog, LeasedAgent } from "../controller/provisioner.ts";
import type { SecretMasker } from "./masker.ts";
import { LogLines } from "./output.ts";
import { shInContainer } from "./container-sh.ts";

export interface StepContext {
  agent: LeasedAgent;
  log: BuildLog;
  /** The step's working directory, as the agent container sees it. */
  cwd: string;
  /** The container the step runs in (`container('x') { ... }`); unset: the agent container. */
  container?: string;
  /** The shell that runs scripts without a `#!` line (`container('x', shell: '/bin/bash')`); default `sh`. */
  shell?: string;
  env: Record<string, string>;
  masker: SecretMasker;
  signal?: AbortSignal;
}

export interface ShOptions {
  script: string;
  returnStdout?: boolean;
  returnStatus?: boolean;
  label?: string;
  encoding?: string;
}

/** A step failed; the message is what the build log and the build's result show. */
export class StepError extends Error {
  readonly exitCode: number | undefined;

  constructor(message: string, exitCode?: number) {
    super(message);
    this.name = "StepError";
    this.exitCode = exitCode;
  }
}

/** After an abort, how long the script gets to end on SIGTERM before everything it started is killed. */
const KILL_AFTER_MS = 3000;

// The agent saves the script (its directory created) and starts the shell on it directly, or the script
// itself when it has its own #! line, then removes the script's directory whatever the outcome: no
// process but the script's own.

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGABRT: 6, SIGSEGV: 11 };

export async function sh(ctx: StepContext, options: ShOptions): Promise<string | number | undefined> {
  if (ctx.container && ctx.container !== ctx.agent.agentContainer) return shInContainer(ctx, ctx.container, options);
  const id = randomBytes(4).toString("hex");
  const dir = `${ctx.cwd}@tmp/durable-${id}`;
  const path = `${dir}/script.sh`;
  const direct = options.script.startsWith("#!");
  if (ctx.shell && !direct) await requireShell(ctx, ctx.shell);
  const stderr = new LogLines(ctx.log, ctx.masker, options.encoding);
  const stdout = options.returnStdout ? undefined : new LogLines(ctx.log, ctx.masker, options.encoding);
  const captured: Buffer[] = [];
  const command = direct ? [path] : [ctx.shell ?? "sh", "-xe", path];
  // One stream for the log, as Jenkins' durable task writes it: `+ cmd` traces (stderr) and the output
  // they precede (stdout) would otherwise race each other through two pipes.
  const merged = options.returnStdout ? command : ["sh", "-c", 'exec "$@" 2>&1', "sh", ...command];
  const running = ctx.agent.run(merged, {
    cwd: ctx.cwd,
    env: ctx.env,
    files: [{ path, content: options.script, mode: 0o777 }],
    removeAfter: [dir],
    onOutput: (stream, data) => {
      if (stream === "stderr") stderr.write(data);
      else if (stdout) stdout.write(data);
      else captured.push(data);
    },
  });
  const result = await stoppable(ctx, running.result, (signal) => running.signal(`SIG${signal}`));
  stderr.end();
  stdout?.end();
  if (result.error?.startsWith("could not save")) throw new StepError(`could not save the script to ${path}: ${result.error.replace(/^could not save [^:]*: /, "")}`);
  if (result.error) throw new StepError(`sh step could not run: ${result.error}`);
  const code = result.code ?? 128 + (SIGNAL_NUMBERS[result.signal ?? ""] ?? 0);
  return stepResult(ctx, options, code, captured);
}

/**
 * Waits for a step's process; if the build aborts meanwhile, sends it SIGTERM, and SIGKILL for everything
 * it started when it is still running 3 s later, saying so in the log.
 */
export async function stoppable<T>(ctx: StepContext, done: Promise<T>, kill: (signal: "TERM" | "KILL") => unknown): Promise<T> {
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    ctx.log.line("Sending interrupt signal to process");
    void kill("TERM");
    killTimer = setTimeout(() => {
      ctx.log.line("After 3s the process is still running: killing it and everything it started");
      void kill("KILL");
    }, KILL_AFTER_MS);
  };
  ctx.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await done;
  } finally {
    clearTimeout(killTimer);
    ctx.signal?.removeEventListener("abort", onAbort);
  }
}

/** A shell chosen for the agent container must be there (else the step would fail with a bare 127). */
async function requireShell(ctx: StepContext, shell: string): Promise<void> {
  const found = await ctx.agent.run(["sh", "-c", 'command -v "$1" >/dev/null 2>&1', "sh", shell]).result;
  if (found.code !== 0) throw new StepError(missingShell(shell, ctx.agent.agentContainer));
}

export function missingShell(shell: string, container: string): string {
  return `the shell ${shell} was not found in container ${container}`;
}

/** What a finished sh step returns or throws, wherever it ran. */
export function stepResult(ctx: StepContext, options: ShOptions, code: number, stdout: Buffer[]): string | number | undefined {
  if (ctx.signal?.aborted) throw new StepError(`script was aborted (exit code ${code})`, code);
  if (code !== 0 && !options.returnStatus) throw new StepError(`script returned exit code ${code}`, code);
  if (options.returnStatus) return code;
  if (options.returnStdout) return new TextDecoder(options.encoding ?? "utf-8").decode(Buffer.concat(stdout));
  return undefined;
}
