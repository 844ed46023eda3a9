// The Berth agent: the program in a pod's agent container. It reads the variables the pod template gives
// it (JENKINS_URL, JENKINS_SECRET, JENKINS_AGENT_NAME, JENKINS_AGENT_WORKDIR), opens one outbound
// WebSocket to the controller (so it works through HTTP proxies and ingresses), proves it holds the secret
// without sending it, runs the commands the controller sends, and streams their output back.
//
// Nothing is lost when the connection drops: commands keep running, their output is kept with byte
// offsets, and after reconnecting the agent resends from the last offset the controller confirmed.
//
// This file is served to agents as one module (the controller strips its types), so it imports only
// Node built-ins, and it needs only `node` (22 or newer, for the global WebSocket) from the image.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, watch, writeFileSync, writeSync, type FSWatcher } from "node:fs";
import { dirname } from "node:path";

export const PROTOCOL = "berth-agent-v1";

/** What proves an agent holds its secret: a MAC over its name, the time and a one-off nonce. */
export function agentMac(secret: string, name: string, timestamp: number, nonce: string): string {
  return createHmac("sha256", secret).update(`${PROTOCOL}\n${name}\n${timestamp}\n${nonce}`).digest("hex");
}

// Messages, agent -> controller.
export type AgentMessage =
  | { type: "hello"; name: string; timestamp: number; nonce: string; mac: string; running: RunningReport[] }
  | { type: "output"; id: string; offset: number; stream: "stdout" | "stderr"; data: string }
  | { type: "exit"; id: string; code: number | null; signal: string | null; error?: string }
  /** Streamed input up to `offset` went into the command's standard input. */
  | { type: "input-ack"; id: string; offset: number }
  | { type: "pong" };

/** A file the agent writes before starting a command (a step's script, say): base64 data, octal mode. */
export interface FileToWrite {
  path: string;
  data: string;
  mode: number;
}

/** A command still known to a (re)connecting agent: output produced, streamed input received and written. */
export interface RunningReport {
  id: string;
  produced: number;
  inputReceived?: number;
  inputWritten?: number;
}

// Messages, controller -> agent.
export type ControllerMessage =
  | { type: "welcome" }
  | { type: "refused"; reason: string }
  /** stdin: all of the input (base64); stdinStream: the input follows in `input` messages, then `input-end`. */
  // files: written (directories created) before the command starts; remove: deleted once it ended.
  | { type: "run"; id: string; command: string[]; cwd?: string; env?: Record<string, string>; stdin?: string; stdinStream?: boolean; files?: FileToWrite[]; remove?: string[] }
  | { type: "input"; id: string; offset: number; data: string }
  | { type: "input-end"; id: string; offset: number }
  | { type: "resume"; id: string; offset: number }
  | { type: "ack"; id: string; offset: number }
  | { type: "signal"; id: string; signal: NodeJS.Signals }
  | { type: "forget"; id: string }
  | { type: "ping" }
  | { type: "stop" };

interface Chunk {
  offset: number;
  stream: "stdout" | "stderr";
  data: Buffer;
}

interface Command {
  id: string;
  child?: ChildProcess;
  chunks: Chunk[];
  produced: number;
  /** Bytes the controller has confirmed; output runs at most UNACKED_LIMIT ahead of it. */
  acked: number;
  exit?: { type: "exit"; id: string; code: number | null; signal: string | null; error?: string };
  /** Streamed input: bytes taken from the controller, bytes the pipe accepted, where the input ends. */
  input?: { received: number; written: number; endAt?: number };
}

export interface AgentEnvironment {
  JENKINS_URL?: string;
  JENKINS_SECRET?: string;
  JENKINS_AGENT_NAME?: string;
  JENKINS_AGENT_WORKDIR?: string;
  [key: string]: string | undefined;
}

/** The pseudo-command that follows a step's output files instead of running a program. */
export const FOLLOW = "berth:follow";
const FOLLOW_POLL_MS = 5;
/**
 * The pseudo-command that starts a step in another container without pods/exec: it writes the step's
 * files on the shared volume and hands the step to that container's dispatcher (a FIFO), then waits for
 * the step's pid file. Exit codes: 0 started, 3 no dispatcher listens, 4 the dispatcher did not start it.
 */
export const START = "berth:start";
export const START_NO_DISPATCHER = 3;
export const START_NOT_STARTED = 4;
const START_WAIT_MS = 3000;
// Flow control: a command's output may run this far ahead of what the controller confirmed. Beyond
// it the command's pipes are paused (it blocks on write), so neither side buffers a flood.
const UNACKED_LIMIT = 4 * 1024 * 1024;
const SILENCE_LIMIT_MS = 30_000;
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5_000;
const GIVE_UP_AFTER_MS = 10 * 60_000;

/** Runs the agent until the controller says stop; resolves with the process exit code to use. */
export async function runAgent(env: AgentEnvironment): Promise<number> {
  const url = env.JENKINS_URL;
  const secret = env.JENKINS_SECRET;
  const name = env.JENKINS_AGENT_NAME;
  if (!url || !secret || !name) {
    console.error("berth-agent: JENKINS_URL, JENKINS_SECRET and JENKINS_AGENT_NAME must be set");
    return 2;
  }
  if (typeof WebSocket !== "function") {
    console.error(`berth-agent: this Node (${process.version}) has no WebSocket client; the agent needs Node 22 or newer`);
    return 2;
  }
  const workdir = env.JENKINS_AGENT_WORKDIR || process.cwd();
  // The workspace is shared with the pod's other containers, which may run as other users: what the
  // agent and its steps create there must be theirs to read and write too (as for steps in them).
  process.umask(0);
  mkdirSync(workdir, { recursive: true });
  const endpoint = new URL("agent/connect", url);
  endpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  const commands = new Map<string, Command>();
  let socket: WebSocket | undefined;
  let stopping = false;
  let lastFailureStart: number | undefined;
  let delay = RECONNECT_MIN_MS;

  const send = (message: AgentMessage): void => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };
  const sendFrom = (command: Command, offset: number): void => {
    for (const chunk of command.chunks) {
      const end = chunk.offset + chunk.data.length;
      if (end <= offset) continue;
      const data = chunk.data.subarray(Math.max(0, offset - chunk.offset));
      send({ type: "output", id: command.id, offset: end - data.length, stream: chunk.stream, data: data.toString("base64") });
    }
    if (command.exit) send(command.exit);
  };

  const run = (message: Extract<ControllerMessage, { type: "run" }>): void => {
    if (commands.has(message.id)) return; // a repeated request after a reconnect: already running
    const command: Command = { id: message.id, chunks: [], produced: 0, acked: 0 };
    commands.set(message.id, command);
    if (message.command[0] === FOLLOW) return follow(command, message.command.slice(1));
    if (message.command[0] === START) return start(command, message.command.slice(1), message.stdin);
    const [file, ...args] = message.command;
    const ended = (exit: NonNullable<Command["exit"]>) => {
      for (const path of message.remove ?? []) {
        try {
          rmSync(path, { recursive: true, force: true });
        } catch {
          // left behind: not the command's outcome
        }
      }
      command.exit ??= exit;
      send(command.exit);
    };
    for (const f of message.files ?? []) {
      try {
        mkdirSync(dirname(f.path), { recursive: true });
        writeFileSync(f.path, Buffer.from(f.data, "base64"));
        chmodSync(f.path, f.mode);
      } catch (e) {
        return ended({ type: "exit", id: message.id, code: null, signal: null, error: `could not save ${f.path}: ${(e as Error).message}` });
      }
    }
    const cwd = message.cwd ?? workdir;
    let child: ChildProcess;
    try {
      // Its own process group, so that a signal reaches everything the command started.
      child = spawn(file!, args, {
        cwd,
        env: { ...process.env, ...message.env },
        detached: true,
        stdio: [message.stdin === undefined && !message.stdinStream ? "ignore" : "pipe", "pipe", "pipe"],
      });
      // Input (a script to save, say) goes in once and is closed, so the command sees its end.
      if (message.stdin !== undefined) child.stdin!.end(Buffer.from(message.stdin, "base64"));
      if (message.stdinStream) command.input = { received: 0, written: 0 };
      // A command that exits without reading all of its input: its outcome says so, not an EPIPE.
      child.stdin?.on("error", () => {});
    } catch (e) {
      return ended({ type: "exit", id: message.id, code: null, signal: null, error: (e as Error).message });
    }
    command.child = child;
    const collect = (stream: "stdout" | "stderr") => (data: Buffer) => {
      const chunk = { offset: command.produced, stream, data };
      command.produced += data.length;
      command.chunks.push(chunk);
      send({ type: "output", id: command.id, offset: chunk.offset, stream, data: data.toString("base64") });
      if (command.produced - command.acked > UNACKED_LIMIT) {
        child.stdout!.pause();
        child.stderr!.pause();
      }
    };
    child.stdout!.on("data", collect("stdout"));
    child.stderr!.on("data", collect("stderr"));
    child.on("error", (e) => {
      // Node says "spawn x ENOENT" also when the working directory is missing: say which.
      const error = (e as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(cwd) ? `the working directory ${cwd} does not exist` : e.message;
      ended({ type: "exit", id: command.id, code: null, signal: null, error });
    });
    child.on("close", (code, signal) => ended({ type: "exit", id: command.id, code, signal }));
  };

  // A step running in another container of the pod writes its output and, at the end, its exit code
  // to files on the shared workspace volume; the agent follows those files as if they were a command.
  const follow = (command: Command, [exitFile, ...files]: string[]): void => {
    const sources = files.map((path, i) => ({ path, stream: (i === 0 ? "stdout" : "stderr") as "stdout" | "stderr", offset: 0 }));
    const buffer = Buffer.alloc(64 * 1024);
    /** Sends what the files hold beyond what was sent; false if flow control stopped it short. */
    const drain = (): boolean => {
      if (command.produced - command.acked > UNACKED_LIMIT) return false;
      for (const source of sources) {
        if (!existsSync(source.path)) continue;
        const fd = openSync(source.path, "r");
        try {
          for (let n; (n = readSync(fd, buffer, 0, buffer.length, source.offset)) > 0; ) {
            source.offset += n;
            const chunk = { offset: command.produced, stream: source.stream, data: Buffer.from(buffer.subarray(0, n)) };
            command.produced += n;
            command.chunks.push(chunk);
            send({ type: "output", id: command.id, offset: chunk.offset, stream: chunk.stream, data: chunk.data.toString("base64") });
            if (command.produced - command.acked > UNACKED_LIMIT) return false;
          }
        } finally {
          closeSync(fd);
        }
      }
      return true;
    };
    const tick = (): void => {
      if (command.exit) return;
      // Read the exit code first, then the output: whatever was written before the code is then read.
      const done = existsSync(exitFile!) ? readFileSync(exitFile!, "utf8").trim() : undefined;
      const caughtUp = drain();
      if (done === undefined || done === "" || !caughtUp) return;
      clearInterval(poll);
      watcher?.close();
      command.exit = { type: "exit", id: command.id, code: Number.parseInt(done, 10), signal: null };
      send(command.exit);
    };
    // Polled, and looked at as soon as the step's directory changes where the file system tells (inotify
    // on a local volume; a network file system may not, hence the poll).
    const poll = setInterval(tick, FOLLOW_POLL_MS);
    let watcher: FSWatcher | undefined;
    let scheduled = false;
    try {
      watcher = watch(dirname(exitFile!), () => {
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          tick();
        });
      });
      watcher.on("error", () => watcher?.close());
    } catch {
      // no notifications here: the poll does it
    }
  };

  // Streamed input goes to the command's pipe in order, once; the controller sends more only as the pipe
  // takes it (input-ack), so a command that reads slowly holds the sender back.
  const input = (message: Extract<ControllerMessage, { type: "input" | "input-end" }>): void => {
    const command = commands.get(message.id);
    const state = command?.input;
    const stdin = command?.child?.stdin;
    if (!command || !state || !stdin) return;
    if (message.type === "input-end") state.endAt = message.offset;
    else {
      const data = Buffer.from(message.data, "base64");
      const end = message.offset + data.length;
      if (end <= state.received || message.offset > state.received) return; // a repeat, or a gap the resend fills
      const fresh = data.subarray(state.received - message.offset);
      state.received = end;
      stdin.write(fresh, () => {
        state.written = Math.max(state.written, end);
        send({ type: "input-ack", id: command.id, offset: state.written });
      });
    }
    if (state.endAt !== undefined && state.received === state.endAt && stdin.writable) stdin.end();
  };

  // [fifo, step directory here, step directory in the target container, supervise.sh]; the script comes
  // as stdin. Everything is made readable and writable by all: the target may run as another user.
  const start = (command: Command, [fifo, dir, targetDir, supervise]: string[], script: string | undefined): void => {
    const finish = (code: number, error?: string) => {
      command.exit = { type: "exit", id: command.id, code, signal: null, ...(error ? { error } : {}) };
      send(command.exit);
    };
    try {
      // Each level from .berth down open to all users (what `umask 0000; mkdir -p` gives).
      const base = Math.max(0, dir!.indexOf("/.berth/"));
      let path = dir!.slice(0, base);
      mkdirSync(path || "/", { recursive: true });
      for (const part of dir!.slice(base + 1).split("/")) {
        path = `${path}/${part}`;
        if (existsSync(path)) continue;
        try {
          mkdirSync(path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        chmodSync(path, 0o777);
      }
      const write = (name: string, content: string | Buffer, mode: number) => {
        writeFileSync(`${dir}/${name}`, content);
        chmodSync(`${dir}/${name}`, mode);
      };
      write("script.sh", Buffer.from(script ?? "", "base64"), 0o777);
      write("supervise.sh", `${supervise}\n`, 0o666);
    } catch (e) {
      return finish(125, (e as Error).message);
    }
    let fd: number;
    try {
      // Non-blocking: with no reader the open fails at once (ENXIO) instead of waiting.
      fd = openSync(fifo!, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      return finish(START_NO_DISPATCHER);
    }
    try {
      writeSync(fd, `${targetDir}\n`); // one short line: written whole
    } catch {
      return finish(START_NO_DISPATCHER);
    } finally {
      closeSync(fd);
    }
    const deadline = Date.now() + START_WAIT_MS;
    const check = () => {
      if (existsSync(`${dir}/pid`)) return finish(0);
      if (Date.now() > deadline) return finish(START_NOT_STARTED);
      setTimeout(check, 1);
    };
    check();
  };

  const handle = (message: ControllerMessage): void => {
    switch (message.type) {
      case "run":
        return run(message);
      case "input":
      case "input-end":
        return input(message);
      case "resume": {
        const command = commands.get(message.id);
        if (command) sendFrom(command, message.offset);
        else send({ type: "exit", id: message.id, code: null, signal: null, error: "the agent does not know this command (it restarted?)" });
        return;
      }
      case "ack": {
        // Output the controller has stored need not be kept for a resend.
        const command = commands.get(message.id);
        if (!command) return;
        command.chunks = command.chunks.filter((c) => c.offset + c.data.length > message.offset);
        command.acked = Math.max(command.acked, message.offset);
        if (command.produced - command.acked <= UNACKED_LIMIT) {
          command.child?.stdout?.resume();
          command.child?.stderr?.resume();
        }
        return;
      }
      case "signal": {
        const pid = commands.get(message.id)?.child?.pid;
        if (pid !== undefined) {
          try {
            process.kill(-pid, message.signal);
          } catch {
            // already gone
          }
        }
        return;
      }
      case "forget":
        commands.delete(message.id);
        return;
      case "ping":
        return send({ type: "pong" });
      case "stop":
        stopping = true;
        socket?.close(1000, "stopped by the controller");
        return;
      case "welcome":
      case "refused":
        return;
    }
  };

  return new Promise<number>((resolve) => {
    const connect = (): void => {
      const timestamp = Date.now();
      const nonce = randomBytes(16).toString("hex");
      const ws = new WebSocket(endpoint);
      socket = ws;
      let silence: NodeJS.Timeout | undefined;
      const alive = () => {
        clearTimeout(silence);
        silence = setTimeout(() => ws.close(4000, "no word from the controller"), SILENCE_LIMIT_MS);
      };
      let refused = false;
      ws.onopen = () => {
        alive();
        const running = [...commands.values()].map((c): RunningReport => ({
          id: c.id,
          produced: c.produced,
          ...(c.input ? { inputReceived: c.input.received, inputWritten: c.input.written } : {}),
        }));
        send({ type: "hello", name, timestamp, nonce, mac: agentMac(secret, name, timestamp, nonce), running });
      };
      ws.onmessage = (event) => {
        alive();
        const message = JSON.parse(String(event.data)) as ControllerMessage;
        if (message.type === "welcome") {
          if (lastFailureStart !== undefined) console.error(`berth-agent: reconnected to ${endpoint.origin}`);
          else console.error(`berth-agent: ${name} connected to ${endpoint.origin}`);
          lastFailureStart = undefined;
          delay = RECONNECT_MIN_MS;
        }
        if (message.type === "refused") {
          refused = true;
          console.error(`berth-agent: the controller refused this agent: ${message.reason}`);
        }
        handle(message);
      };
      ws.onclose = () => {
        clearTimeout(silence);
        if (stopping) return resolve(0);
        if (refused) return resolve(1);
        lastFailureStart ??= Date.now();
        if (Date.now() - lastFailureStart > GIVE_UP_AFTER_MS) {
          console.error(`berth-agent: no connection to ${endpoint.origin} for ${GIVE_UP_AFTER_MS / 60_000} minutes; giving up`);
          return resolve(1);
        }
        setTimeout(connect, delay);
        delay = Math.min(RECONNECT_MAX_MS, delay * 2);
      };
      ws.onerror = () => {
        // onclose follows and reconnects
      };
    };
    connect();
  });
}
