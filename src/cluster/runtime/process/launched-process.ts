// One process the runtime launched through a launch script (a container's main process or an exec),
// with the start handshake on fd 3, its exit, and the signals needed to stop it and everything it started.

import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import type { ContainerCgroup } from "./cgroups.ts";
import type { SpawnPlan } from "./launch-scripts.ts";
import { childrenOf, signalGroup, signalProcess } from "./process-tree.ts";
import type { SpawnedProcess, Spawner } from "./spawner.ts";

export interface LaunchOptions {
  plan: SpawnPlan;
  env: Record<string, string>;
  stdin: boolean;
  /** True when the command runs as a child of the launched process (nsenter, or the launcher forking into a pid namespace). */
  behindNsenter: boolean;
  cgroup?: ContainerCgroup;
  /**
   * An exec: what it started and left running (`cmd &`, nohup, setsid) keeps running after it exits, as in
   * a real container runtime; the container kills it when it stops. A container's main process (false)
   * takes everything with it.
   */
  leftoversSurvive?: boolean;
  /** Called once when the process exited, before anything else happens (the container's clean-up). */
  onExit?: (launcherPid: number | undefined) => void;
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
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Host pid of the launcher (the process the spawner started; undefined if it could not be started). */
  readonly pid: number | undefined;
  /** Resolves when the command is running; rejects with the launch script's message if it could not start. */
  readonly started: Promise<void>;
  /** Resolves once the process exited and its output streams ended. */
  readonly exited: Promise<ProcessExit>;
  private readonly behindNsenter: boolean;
  private readonly cgroup: ContainerCgroup | undefined;
  private hasExited = false;

  /** Starts the plan through the spawner; resolves as soon as the process exists (not yet when it started). */
  static async launch(spawner: Spawner, options: LaunchOptions): Promise<LaunchedProcess> {
    const { file, args, pidNamespace } = options.plan;
    const spawned = await spawner.spawn({ file, args, env: options.env, stdin: options.stdin, ...(pidNamespace !== undefined ? { pidNamespace } : {}) });
    return new LaunchedProcess(spawned, options);
  }

  private constructor(spawned: SpawnedProcess, options: LaunchOptions) {
    this.behindNsenter = options.behindNsenter;
    this.cgroup = options.cgroup;
    this.pid = spawned.pid;
    this.stdin = spawned.stdin;
    this.stdout = spawned.stdout;
    this.stderr = spawned.stderr;
    this.stdin?.on("error", () => {
      // Writing to a process that exited is not an error worth crashing for.
    });
    for (const stream of [this.stdout, this.stderr]) {
      stream.on("error", () => {
        // A reset connection is the end of the output.
      });
    }
    // The first line on fd 3 settles the start: "started", or "error <why>".
    const startError = (line: string): string | undefined => (line === "started" ? undefined : line.replace(/^error /, ""));
    this.started = spawned.line.then((line) => {
      const error = startError(line);
      if (error !== undefined) throw new Error(error);
    });
    this.started.catch(() => {
      // Observed through `exited` too; avoid an unhandled rejection when nobody awaits the start.
    });

    const exitStatus = spawned.exit.then(({ code, signal }) => {
      this.hasExited = true;
      // The container ends with its main process: whatever it left running is killed, as runc does.
      if (!options.leftoversSurvive) this.killAll();
      options.onExit?.(this.pid);
      setTimeout(() => {
        this.stdout.destroy();
        this.stderr.destroy();
      }, OUTPUT_DRAIN_MS).unref();
      return code ?? 128 + (signal ? constants.signals[signal] : 0);
    });
    this.exited = Promise.all([exitStatus, spawned.line, streamClosed(this.stdout), streamClosed(this.stderr)]).then(([exitCode, line]) => {
      const error = startError(line);
      return error !== undefined ? { exitCode, startError: error } : { exitCode };
    });
  }

  /** Host pid of the process that runs the command (behind nsenter it is nsenter's only child). */
  mainPid(): number | undefined {
    const launcher = this.pid;
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
    if (this.pid !== undefined) signalGroup(this.pid, "SIGKILL");
  }
}

function streamClosed(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.readableEnded) return resolve();
    stream.once("close", () => resolve());
  });
}
