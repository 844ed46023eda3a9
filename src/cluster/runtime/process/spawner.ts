// The runtime's end of the spawner: every process the runtime starts is started by a small helper process,
// so this (large) process never forks. The helper is the compiled launcher's spawn server
// (spawn-server.c) when the launcher could be built, else the Node one (spawner-process.ts); both speak
// the same protocol, the C one over pipes instead of Node's IPC channel. Output and stdin do not pass through the
// helper: they are Unix socket connections the helper opens to a server here and hands to the child as its
// file descriptors 0-2 (what libuv would have made them anyway: a socket pair), so the runtime reads a
// container's output straight from the container.

import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ipcLink, pipeLink, type HelperLink, type Message } from "./spawner-links.ts";

export interface SpawnOptions {
  file: string;
  args: string[];
  env: Record<string, string>;
  stdin: boolean;
  /** The C spawn server only: see SpawnPlan.pidNamespace. */
  pidNamespace?: "new" | number;
}

export interface ProcessExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Pause processes only: what they wrote on stderr. */
  stderr?: string;
}

/** A process the spawner started: its pid, streams, the first control line, and its exit. */
export interface SpawnedProcess {
  pid: number | undefined;
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  /** The launch script's first line on fd 3 ("started" / "error <why>"), or "ready" from a pause process. */
  line: Promise<string>;
  exit: Promise<ProcessExitStatus>;
}

interface Pending {
  expectedSockets: number;
  sockets: Map<number, Socket>;
  pid?: number;
  spawned: boolean;
  failed: boolean;
  ready: () => void;
  line: (line: string) => void;
  exit: (status: ProcessExitStatus) => void;
  exited: boolean;
  lined: boolean;
}

/** An already-ended stream (reading) that swallows what is written, for a process that never started. */
function endedStream(): PassThrough {
  const stream = new PassThrough();
  stream.end();
  return stream;
}

export class Spawner {
  private readonly helper: ChildProcess;
  private readonly link: HelperLink;
  /** The C spawn server (it can fork into pid namespaces), not the Node helper. */
  private readonly native: boolean;
  private readonly server: Server;
  private readonly stdioPath: string;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private helperGone: string | undefined;

  private constructor(helper: ChildProcess, server: Server, stdioPath: string, native: boolean) {
    this.helper = helper;
    this.server = server;
    this.stdioPath = stdioPath;
    this.native = native;
    const onMessage = (message: Message): void => this.onMessage(message);
    this.link = native ? pipeLink(helper, onMessage) : ipcLink(helper, onMessage);
    helper.once("exit", (code, signal) => {
      this.helperGone = `the runtime's spawner process exited (${signal ?? `code ${code}`})`;
      // Nothing more will be reported: settle what is still waiting, so no caller hangs.
      for (const [id, pending] of this.pending) {
        pending.line(`error ${this.helperGone}`);
        pending.exit({ code: 137, signal: null });
        this.pending.delete(id);
      }
      this.updateRef();
    });
    server.on("connection", (socket) => this.onConnection(socket));
  }

  /** Starts the helper: the launcher's spawn server when `launcher` (a compiled launcher.c) is given, else the Node one. */
  static async start(launcher?: string): Promise<Spawner> {
    // Abstract Unix socket (Linux): no file to create or clean up.
    const name = `berth-spawner-${process.pid}-${randomBytes(6).toString("hex")}`;
    const stdioPath = `\0${name}`;
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // A deep backlog: in a burst the runtime's busy event loop accepts connections late (the helper
      // also retries a connection the backlog refused).
      server.listen({ path: stdioPath, backlog: 65535 }, () => resolve());
    });
    // A process group of its own, so a Ctrl-C meant for Berth does not take the pods down before Berth
    // has stopped them.
    const helper = launcher
      ? spawn(launcher, ["serve", name], { detached: true, stdio: ["pipe", "pipe", "inherit"] })
      : fork(fileURLToPath(new URL("./spawner-process.ts", import.meta.url)), [], {
          // Not the runtime's flags (--cpu-prof, --test, ...).
          execArgv: [],
          detached: true,
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
    await new Promise<void>((resolve, reject) => {
      helper.once("spawn", resolve);
      helper.once("error", reject);
    });
    // The runtime's event loop need not stay alive for the helper; close() ends it.
    helper.unref();
    server.unref();
    const spawner = new Spawner(helper, server, stdioPath, launcher !== undefined);
    spawner.updateRef();
    return spawner;
  }

  private onMessage(message: Message): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === "spawned") {
      pending.pid = message.pid;
      pending.spawned = true;
      this.checkReady(message.id, pending);
    } else if (message.type === "line") {
      pending.lined = true;
      pending.line(message.line);
      this.checkReady(message.id, pending);
    } else if (message.type === "exit") {
      pending.exited = true;
      if (!pending.spawned) {
        // The spawn failed: the sockets (if any arrived) end at once; nothing else is coming.
        pending.failed = true;
        pending.ready();
      }
      pending.exit({ code: message.code, signal: message.signal, ...(message.stderr !== undefined ? { stderr: message.stderr } : {}) });
      this.checkReady(message.id, pending);
    }
  }

  private checkReady(id: number, pending: Pending): void {
    if (pending.failed || (pending.spawned && pending.sockets.size === pending.expectedSockets)) pending.ready();
    // Forgotten once nothing more can come: the exit, the control line (it may come after the exit: the
    // control pipe ends when the last process holding it does) and every connection.
    if (pending.exited && pending.lined && (pending.failed || pending.sockets.size === pending.expectedSockets)) {
      this.pending.delete(id);
      this.updateRef();
    }
  }

  /** The helper's channel keeps this process alive only while something it started is running. */
  private updateRef(): void {
    this.link.ref(this.pending.size > 0);
  }

  private onConnection(socket: Socket): void {
    // The first line names the process and the file descriptor; the rest is the stream itself. Read with
    // "readable" (not "data", not pause()), so that the stream is left neither flowing nor paused for
    // whoever consumes it next.
    let header = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        header = Buffer.concat([header, chunk]);
        const newline = header.indexOf(10);
        if (newline < 0) {
          if (header.length > 64) socket.destroy();
          continue;
        }
        socket.off("readable", onReadable);
        const rest = header.subarray(newline + 1);
        if (rest.length > 0) socket.unshift(rest);
        const [id, fd] = header.subarray(0, newline).toString().split(" ").map(Number) as [number, number];
        const pending = this.pending.get(id);
        if (!pending) {
          socket.destroy();
          return;
        }
        pending.sockets.set(fd, socket);
        this.checkReady(id, pending);
        return;
      }
    };
    socket.on("readable", onReadable);
    socket.on("error", () => {
      // A peer that went away is an ended stream, nothing more.
    });
  }

  /** Starts a process; resolves once it runs (or failed to) with its output connected. */
  spawn(options: SpawnOptions, mode: "process" | "pause" = "process"): Promise<SpawnedProcess> {
    if (this.helperGone) return Promise.reject(new Error(this.helperGone));
    // As child_process.spawn would; to the C helper a NUL would also end a word early.
    if ([options.file, ...options.args, ...Object.entries(options.env).flat()].some((word) => word.includes("\0"))) {
      return Promise.reject(new TypeError("a program, argument or environment variable contains a null byte"));
    }
    if (options.pidNamespace !== undefined && !this.native) return Promise.reject(new Error("only the compiled spawn server forks into pid namespaces"));
    const id = this.nextId++;
    let settleLine!: (line: string) => void;
    let settleExit!: (status: ProcessExitStatus) => void;
    const line = new Promise<string>((resolve) => (settleLine = resolve));
    const exit = new Promise<ProcessExitStatus>((resolve) => (settleExit = resolve));
    return new Promise((resolve) => {
      const pending: Pending = {
        expectedSockets: mode === "pause" ? 0 : options.stdin ? 3 : 2,
        sockets: new Map(),
        spawned: false,
        failed: false,
        exited: false,
        lined: false,
        line: settleLine,
        exit: settleExit,
        ready: () => {
          const stream = (fd: number): Socket | PassThrough => pending.sockets.get(fd) ?? endedStream();
          resolve({
            pid: pending.pid,
            stdin: options.stdin ? stream(0) : null,
            stdout: stream(1),
            stderr: stream(2),
            line,
            exit,
          });
        },
      };
      this.pending.set(id, pending);
      this.updateRef();
      this.link.send({ type: "spawn", id, mode, file: options.file, args: options.args, env: options.env, stdin: options.stdin, stdioPath: this.stdioPath, ...(options.pidNamespace !== undefined ? { pidNamespace: options.pidNamespace } : {}) });
    });
  }

  /** Pid of the helper process. */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  /** Ends the helper (it exits when its channel closes) and the server; resolves once the helper is gone. */
  async close(): Promise<void> {
    this.server.close();
    if (this.helper.exitCode !== null || this.helper.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.helper.once("exit", () => resolve()));
    // Keep this process alive until the helper is gone (it is unreferenced while idle).
    this.helper.ref();
    if (this.link.connected()) this.link.disconnect();
    else this.helper.kill("SIGKILL");
    await exited;
  }
}
