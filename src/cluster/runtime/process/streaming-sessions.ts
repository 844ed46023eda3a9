// The stream plumbing of exec and attach: turning a launched process (exec) or a running container's
// live output (attach) into the StreamingSession the API server maps onto its channels.

import type { EventEmitter } from "node:events";
import { PassThrough, type Writable } from "node:stream";
import type { ExecSyncResult, StreamingSession, TerminalSize } from "../cri.ts";
import type { HostTools } from "./host-capabilities.ts";
import type { LaunchedProcess } from "./launched-process.ts";
import { resizeTerminal } from "./terminal.ts";

/** Exit code of an exec whose command could not be started, as runc reports it. */
const EXEC_START_FAILED = 126;

/** Waits for an exec and collects its output; kills it (not its container) after the timeout. */
export async function collectExec(launched: LaunchedProcess, timeoutSeconds: number): Promise<ExecSyncResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  launched.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  launched.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  let timedOut = false;
  const timer =
    timeoutSeconds > 0
      ? setTimeout(() => {
          timedOut = true;
          launched.killAll();
        }, timeoutSeconds * 1000)
      : undefined;
  const exit = await launched.exited;
  clearTimeout(timer);
  if (exit.startError) stderr.push(Buffer.from(`${exit.startError}\n`));
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitCode: exit.startError ? EXEC_START_FAILED : exit.exitCode, timedOut };
}

export function execSession(launched: LaunchedProcess, tty: boolean, tools: HostTools): StreamingSession {
  // Own streams, ended only after the exit, so a launch failure can still be reported on them.
  const stdout = new PassThrough();
  const stderr = tty ? null : new PassThrough();
  launched.stdout.pipe(stdout, { end: false });
  if (stderr) launched.stderr.pipe(stderr, { end: false });
  else launched.stderr.resume();
  const exited = launched.exited.then((exit) => {
    if (exit.startError) (stderr ?? stdout).write(`${exit.startError}\n`);
    stdout.end();
    stderr?.end();
    return { exitCode: exit.startError ? EXEC_START_FAILED : exit.exitCode };
  });
  return {
    stdin: launched.stdin,
    stdout,
    stderr,
    exited,
    resize: async (size: TerminalSize) => {
      if (tty && launched.pid !== undefined) await resizeTerminal(tools, launched.pid, size);
    },
    close: () => launched.killAll(),
  };
}

export interface AttachTarget {
  /** Emits "stdout"/"stderr" with Buffers while the container runs, and "exit" with its exit code. */
  output: EventEmitter;
  /** The main process's stdin when the caller asked for it and the container has one. */
  containerStdin: Writable | null;
  stdinOnce: boolean;
  tty: boolean;
  launcherPid: number | undefined;
  tools: HostTools;
}

export function attachSession(target: AttachTarget): StreamingSession {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const forwardOut = (chunk: Buffer): void => void stdout.write(chunk);
  const forwardErr = (chunk: Buffer): void => void stderr.write(chunk);
  target.output.on("stdout", forwardOut);
  target.output.on("stderr", forwardErr);
  const detach = (): void => {
    target.output.off("stdout", forwardOut);
    target.output.off("stderr", forwardErr);
    stdout.end();
    stderr.end();
  };
  const exited = new Promise<{ exitCode: number }>((resolve) =>
    target.output.once("exit", (exitCode: number) => {
      detach();
      resolve({ exitCode });
    }),
  );
  let stdin: PassThrough | null = null;
  const containerStdin = target.containerStdin;
  if (containerStdin) {
    stdin = new PassThrough();
    stdin.on("data", (chunk: Buffer) => containerStdin.write(chunk));
    stdin.on("end", () => {
      // stdinOnce: the first attach that closes stdin closes it for the container.
      if (target.stdinOnce) containerStdin.end();
    });
  }
  return {
    stdin,
    stdout,
    // On a terminal both streams arrive merged on stdout.
    stderr: target.tty ? null : stderr,
    exited,
    resize: async (size: TerminalSize) => {
      if (target.tty && target.launcherPid !== undefined) await resizeTerminal(target.tools, target.launcherPid, size);
    },
    close: detach,
  };
}
