// One process the runtime launched through a launch script (a container's main process or an exec),
// with the start handshake on fd 3, its exit, and the signals needed to stop it and everything it started.

import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import type { ContainerCgroup } from "./cgroups.ts";
import type { SpawnPlan } from "./launch-scripts.ts";
import { childrenOf, signalGroup, signalProcess } from "./process-tree.ts";

export interface LaunchOptions {
  plan: SpawnPlan;
  env: Record<string, string>;
  /** Spawn working directory of the launcher itself (the command's own cwd is set by the script). */
  cwd?: string;
  stdin: boolean;
  /** True when the command runs as a child of nsenter (pid namespaces need that extra process). */
  behindNsenter: boolean;
  cgroup?: ContainerCgroup;
  /**
   * An exec: what it started and left running (`cmd &`, nohup, setsid) keeps running after it exits, as in
   * a real container runtime; the container kills it when it stops. A container's main process (false)
   * takes everything with it.
   */
  leftoversSurvive?: boolean;
  /** Called once when the process exited, before anything else happens (the container's clean-up). */
  onExit?: () => void;
}

export interface ProcessExit {
  /** Exit status, or 128 + signal number. */
  exitCode: number;
  /** Message from the launch script when the command never started. */
  startError?: string;
}

/** How long output may stay open after the main process exited (a stray that escaped every kill holds it). */
const OUTPUT_DRAIN_MS = 2000;

export class LaunchedProcess {
  readonly child: ChildProcess;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the command is running; rejects with the launch script's message if it could not start. */
  readonly started: Promise<void>;
  /** Resolves once the process exited and its output streams ended. */
  readonly exited: Promise<ProcessExit>;
  private readonly behindNsenter: boolean;
  private readonly cgroup: ContainerCgroup | undefined;
  private hasExited = false;

  constructor(options: LaunchOptions) {
    this.behindNsenter = options.behindNsenter;
    this.cgroup = options.cgroup;
    // detached: a new session and process group, so one signal to the group reaches every descendant that
    // did not leave it, and nothing the container does can signal the runtime's own group.
    this.child = spawn(options.plan.file, options.plan.args, {
      env: options.env,
      cwd: options.cwd ?? "/",
      detached: true,
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe", "pipe"],
    });
    this.stdin = this.child.stdin;
    this.stdout = this.child.stdout as Readable;
    this.stderr = this.child.stderr as Readable;
    this.stdin?.on("error", () => {
      // Writing to a process that exited is not an error worth crashing for.
    });
    const control = this.child.stdio[3] as Readable;
    let controlText = "";
    const controlEnded = new Promise<void>((resolve) => {
      control.on("end", resolve);
      control.on("error", () => resolve());
      control.on("close", () => resolve());
    });
    // The first line on fd 3 settles the start: "started", or "error <why>". End of file before any line
    // means the launcher died first (killed, or the spawn itself failed).
    const firstLine = new Promise<string>((resolve) => {
      control.on("data", (chunk: Buffer) => {
        controlText += chunk.toString();
        const newline = controlText.indexOf("\n");
        if (newline >= 0) resolve(controlText.slice(0, newline));
      });
      void controlEnded.then(() => resolve(controlText || "error the launcher exited before the command started"));
      this.child.once("error", (error) => resolve(`error ${error.message}`));
    });
    const startError = (line: string): string | undefined => (line === "started" ? undefined : line.replace(/^error /, ""));
    this.started = firstLine.then((line) => {
      const error = startError(line);
      if (error !== undefined) throw new Error(error);
    });
    this.started.catch(() => {
      // Observed through `exited` too; avoid an unhandled rejection when nobody awaits the start.
    });

    const exitStatus = new Promise<number>((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.hasExited = true;
        // The container ends with its main process: whatever it left running is killed, as runc does.
        if (!options.leftoversSurvive) this.killAll();
        options.onExit?.();
        setTimeout(() => {
          this.stdout.destroy();
          this.stderr.destroy();
          control.destroy();
        }, OUTPUT_DRAIN_MS);
        resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
      this.child.once("error", () => {
        this.hasExited = true;
        resolve(128);
      });
    });
    this.exited = Promise.all([exitStatus, firstLine, streamClosed(this.stdout), streamClosed(this.stderr)]).then(([exitCode, line]) => {
      const error = startError(line);
      return error !== undefined ? { exitCode, startError: error } : { exitCode };
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Host pid of the process that runs the command (behind nsenter it is nsenter's only child). */
  mainPid(): number | undefined {
    const launcher = this.child.pid;
    if (launcher === undefined || this.hasExited) return undefined;
    if (!this.behindNsenter) return launcher;
    return childrenOf(launcher)[0];
  }

  /** Sends a signal to the main process only, as CRI's StopContainer does with SIGTERM. */
  signalMain(signal: NodeJS.Signals): void {
    const main = this.mainPid();
    if (main !== undefined) signalProcess(main, signal);
  }

  /** SIGKILL to everything: the cgroup (which catches processes that changed group) and the process group. */
  killAll(): void {
    this.cgroup?.killAll();
    if (this.child.pid !== undefined) signalGroup(this.child.pid, "SIGKILL");
  }
}

function streamClosed(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.readableEnded) return resolve();
    stream.once("close", () => resolve());
  });
}
