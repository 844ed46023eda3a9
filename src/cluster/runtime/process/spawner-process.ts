// The spawner: a small long-lived Node process that starts every process of the process runtime, so that
// the large process running the API server, scheduler and kubelets never forks. fork(2) of a process of a
// few hundred megabytes costs milliseconds of page-table copying on the caller's thread, and libuv's spawn
// blocks the event loop until the child has exec'd; here that happens on another core, in a process of a
// few tens of megabytes. See spawner.ts for the other end.
//
// Protocol (IPC channel of child_process.fork, JSON):
//   in:  { type: "spawn", id, file, args, env, stdin, mode: "process" | "pause", stdioPath }
//   out: { type: "spawned", id, pid } | { type: "line", id, line } | { type: "exit", id, code, signal, stderr? }
// Mode "process": stdout and stderr (and stdin when asked) are Unix socket connections to the runtime's
// server at stdioPath, each first carrying the line "<id> <fd>\n" so the runtime knows what it is; the
// child gets them as its file descriptors and the spawner closes its own copies at once, so the output
// goes straight from the child to the runtime. File descriptor 3 is the launch scripts' control pipe
// ("started" or "error <why>"), read here and reported as one "line" message.
// Mode "pause": a pod's pause process: its stdin is a pipe the spawner holds (and nobody writes), so it
// reaches end of file when the spawner, and so the runtime, is gone; "ready" on stdout is the line.

import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, type Socket } from "node:net";

interface SpawnRequest {
  type: "spawn";
  id: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  stdin: boolean;
  mode: "process" | "pause";
  stdioPath: string;
}

/** How long the control pipe may stay open after the process exited (a stray that escaped every kill holds it). */
const CONTROL_DRAIN_MS = 2000;

function send(message: object): void {
  if (process.connected) process.send?.(message);
}

function connectOnce(path: string, header: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once("error", reject);
    socket.once("connect", () => socket.write(header, (error) => (error ? reject(error) : resolve(socket))));
  });
}

/**
 * Connects to the runtime. A Unix socket refuses a connection with EAGAIN while the listener's backlog is
 * full (the runtime's event loop is busy in a burst): wait a little and try again, for up to a minute.
 */
async function connect(path: string, header: string): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectOnce(path, header);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || attempt >= 3000) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1 + attempt, 20)));
    }
  }
}

/** The file descriptor under a connected socket (libuv's, Unix only). */
function fdOf(socket: Socket | undefined): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("a connection without a file descriptor");
  return fd;
}

function reportExit(id: number, child: ChildProcess, stderr?: () => string): void {
  child.once("exit", (code, signal) => send({ type: "exit", id, code, signal, ...(stderr ? { stderr: stderr() } : {}) }));
}

async function spawnProcess(request: SpawnRequest): Promise<void> {
  const { id } = request;
  let sockets: Socket[];
  try {
    sockets = await Promise.all([
      request.stdin ? connect(request.stdioPath, `${id} 0\n`) : undefined,
      connect(request.stdioPath, `${id} 1\n`),
      connect(request.stdioPath, `${id} 2\n`),
    ]).then((all) => all.filter((s): s is Socket => s !== undefined));
  } catch (error) {
    send({ type: "line", id, line: `error cannot connect the process's output: ${(error as Error).message}` });
    send({ type: "exit", id, code: 128, signal: null });
    return;
  }
  const [stdin, stdout, stderr] = request.stdin ? sockets : [undefined, ...sockets];
  let child: ChildProcess;
  try {
    // detached: a new session and process group, so one signal to the group reaches every descendant that
    // did not leave it, and nothing the container does can signal the spawner or the runtime.
    // As file descriptor numbers, not sockets: given a socket, Node would also read from it here.
    child = spawn(request.file, request.args, { env: request.env, cwd: "/", detached: true, stdio: [stdin ? fdOf(stdin) : "ignore", fdOf(stdout), fdOf(stderr), "pipe"] });
  } catch (error) {
    send({ type: "line", id, line: `error ${(error as Error).message}` });
    send({ type: "exit", id, code: 128, signal: null });
    return;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  const control = child.stdio[3];
  let text = "";
  let reported = false;
  const report = (line: string): void => {
    if (reported) return;
    reported = true;
    send({ type: "line", id, line });
  };
  if (child.pid === undefined) {
    // The spawn failed (no such program, ...): Node reports why with "error".
    child.once("error", (error) => {
      report(`error ${error.message}`);
      send({ type: "exit", id, code: 128, signal: null });
    });
    return;
  }
  child.on("error", () => {
    // After a successful spawn only a failed kill() could land here; the runtime signals by pid instead.
  });
  send({ type: "spawned", id, pid: child.pid });
  control?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    const newline = text.indexOf("\n");
    if (newline >= 0) report(text.slice(0, newline));
  });
  const ended = (): void => report(text || "error the launcher exited before the command started");
  control?.on("end", ended);
  control?.on("close", ended);
  control?.on("error", ended);
  reportExit(id, child);
  child.once("exit", () => setTimeout(() => control?.destroy(), CONTROL_DRAIN_MS).unref());
}

function spawnPause(request: SpawnRequest): void {
  const { id } = request;
  const child = spawn(request.file, request.args, { env: request.env, cwd: "/", detached: true, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let ready = false;
  let finished = false;
  // Exactly one "line" (ready, or why not) and one "exit" per process, whatever happens.
  const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (finished) return;
    finished = true;
    if (!ready) send({ type: "line", id, line: `error the pause process exited before it was ready` });
    send({ type: "exit", id, code, signal, stderr });
  };
  child.once("error", (error) => {
    stderr += error.message;
    if (child.pid === undefined) finish(128, null);
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!ready && stdout.includes("ready")) {
      ready = true;
      send({ type: "line", id, line: "ready" });
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  if (child.pid !== undefined) send({ type: "spawned", id, pid: child.pid });
  // "close", not "exit": the stderr text is complete then.
  child.once("close", (code, signal) => finish(code, signal));
}

process.on("message", (request: SpawnRequest) => {
  if (request.type !== "spawn") return;
  if (request.mode === "pause") spawnPause(request);
  else void spawnProcess(request);
});
// The runtime is gone (closed, crashed or killed): so is the spawner, which closes every pause process's
// stdin, and the pods go down with it.
process.on("disconnect", () => process.exit(0));
