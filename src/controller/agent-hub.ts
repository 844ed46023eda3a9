// The controller's end of the agent connection: serves the agent program (GET /agent/berth-agent.mjs),
// accepts agents on one WebSocket each (/agent/connect), verifies that each holds its secret (a MAC over
// name, time and a nonce: a wrong secret, an unknown agent, a stale or replayed hello are refused and
// logged), keeps them alive with heartbeats, and runs commands on them.
//
// Output is delivered in order, exactly once: every chunk carries its byte offset, a reconnecting agent is
// asked to resend from the last offset delivered, and overlaps are cut. A command whose agent comes back
// without it (the agent restarted) fails with a clear error instead of hanging.
//
// Flow control both ways: the agent sends at most 4 MB of output beyond what the controller confirmed, and
// the controller confirms output only once its consumer took it (onOutput may return a promise); input
// streamed to a command (stdin from a file, say) runs at most INPUT_WINDOW bytes ahead of what the agent
// wrote to the command's pipe, and is resent from what the agent received after a reconnect.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stripTypeScriptTypes } from "node:module";
import { timingSafeEqual } from "node:crypto";
import { WebSocketServer, type WebSocket } from "ws";
import { agentMac, type AgentMessage, type ControllerMessage } from "../agent/agent.ts";

export const AGENT_PROGRAM_ROUTE = "/agent/berth-agent.mjs";
export const AGENT_CONNECT_ROUTE = "/agent/connect";

const HELLO_MAX_SKEW_MS = 5 * 60_000;
const HEARTBEAT_MS = 10_000;
const ACK_EVERY_BYTES = 256 * 1024;
/** Streamed input: bytes per message, and how far it may run ahead of what the agent wrote to the command. */
const INPUT_CHUNK_BYTES = 256 * 1024;
const INPUT_WINDOW_BYTES = 4 * 1024 * 1024;

export interface CommandResult {
  code: number | null;
  signal: string | null;
  /** Set when the command could not be started or its outcome is unknown. */
  error?: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Written by the agent (directories created, mode set) before the command starts. */
  files?: { path: string; content: string | Buffer; mode: number }[];
  /** Deleted by the agent once the command ended, before it reports the exit. */
  removeAfter?: string[];
  /**
   * Given to the command on its standard input, which is then closed: all at once, or streamed from an
   * iterable (a file's read stream, say) with flow control, never more than 4 MB ahead of the command.
   */
  stdin?: string | Buffer | AsyncIterable<Uint8Array>;
  /**
   * Receives the output in order. If it returns a promise, the output counts as taken (and the agent may
   * send more) only once it resolves: a slow consumer holds the command back instead of piling up output.
   * The command's result resolves after the last such promise.
   */
  onOutput?: (stream: "stdout" | "stderr", data: Buffer) => unknown;
}

export interface RunningCommand {
  id: string;
  result: Promise<CommandResult>;
  signal(signal: NodeJS.Signals): void;
}

interface TrackedCommand {
  id: string;
  message: Extract<ControllerMessage, { type: "run" }>;
  delivered: number;
  acked: number;
  onOutput?: RunOptions["onOutput"];
  /** Output handed to a consumer that has not taken it yet (its promises, in order). */
  taking?: Promise<void>;
  /** The exit arrived while output was still being taken. */
  exiting: boolean;
  input?: StreamedInput;
  finish: (result: CommandResult) => void;
  done: boolean;
  /** Whether the run request reached an open connection (else it is sent when the agent connects). */
  sent: boolean;
}

/** Input streamed to a command: the chunks the agent has not confirmed yet, kept for a resend. */
interface StreamedInput {
  chunks: { offset: number; data: Buffer }[];
  /** Bytes read from the source so far. */
  queued: number;
  /** Bytes the agent wrote to the command's standard input. */
  written: number;
  ended: boolean;
  error?: string;
  wake?: () => void;
}

/** One agent the controller expects (it holds the agent's secret) and, once it is here, its connection. */
export class AgentConnection {
  readonly name: string;
  readonly connected: Promise<void>;
  private readonly secret: string;
  private socket: WebSocket | undefined;
  private markConnected!: () => void;
  private readonly commands = new Map<string, TrackedCommand>();
  private readonly seenNonces = new Map<string, number>();
  private nextId = 1;
  private connections = 0;

  constructor(name: string, secret: string) {
    this.name = name;
    this.secret = secret;
    this.connected = new Promise((resolve) => (this.markConnected = resolve));
  }

  get isConnected(): boolean {
    return this.socket !== undefined;
  }

  /** How many times the agent has connected (reconnections included). */
  get connectionCount(): number {
    return this.connections;
  }

  /** Checks a hello; returns why it is refused, or undefined to accept it. */
  verify(hello: Extract<AgentMessage, { type: "hello" }>, now: number): string | undefined {
    if (Math.abs(now - hello.timestamp) > HELLO_MAX_SKEW_MS) return "hello is too old or from the future (clock skew over 5 minutes?)";
    for (const [nonce, at] of this.seenNonces) if (now - at > 2 * HELLO_MAX_SKEW_MS) this.seenNonces.delete(nonce);
    if (this.seenNonces.has(hello.nonce)) return "replayed hello";
    const expected = Buffer.from(agentMac(this.secret, this.name, hello.timestamp, hello.nonce), "hex");
    const given = Buffer.from(typeof hello.mac === "string" ? hello.mac : "", "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "wrong secret";
    this.seenNonces.set(hello.nonce, now);
    return undefined;
  }

  attach(socket: WebSocket, hello: Extract<AgentMessage, { type: "hello" }>): void {
    this.socket?.close(4409, "replaced by a newer connection");
    this.socket = socket;
    this.connections++;
    this.send({ type: "welcome" });
    const running = new Map(hello.running.map((r) => [r.id, r]));
    for (const command of this.commands.values()) {
      if (command.done) continue;
      const there = running.get(command.id);
      if (there) {
        this.send({ type: "resume", id: command.id, offset: command.delivered });
        if (command.input) this.resendInput(command, command.input, there.inputReceived ?? 0, there.inputWritten ?? 0);
      } else if (command.sent) this.finish(command, { code: null, signal: null, error: "the agent came back without this command (it restarted); its outcome is unknown" });
      else {
        command.sent = this.send(command.message);
        if (command.sent && command.input) this.resendInput(command, command.input, 0, 0);
      }
    }
    this.markConnected();
  }

  detach(socket: WebSocket): void {
    if (this.socket === socket) this.socket = undefined;
  }

  run(command: string[], options: RunOptions = {}): RunningCommand {
    const id = `c${this.nextId++}`;
    let finish!: (result: CommandResult) => void;
    const result = new Promise<CommandResult>((resolve) => (finish = resolve));
    const message: Extract<ControllerMessage, { type: "run" }> = {
      type: "run",
      id,
      command,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.files ? { files: options.files.map((f) => ({ path: f.path, data: Buffer.from(f.content).toString("base64"), mode: f.mode })) } : {}),
      ...(options.removeAfter ? { remove: options.removeAfter } : {}),
    };
    const source = options.stdin;
    const streamed = source !== undefined && typeof source !== "string" && !Buffer.isBuffer(source) ? source : undefined;
    if (streamed) message.stdinStream = true;
    else if (source !== undefined) message.stdin = Buffer.from(source as string | Buffer).toString("base64");
    const tracked: TrackedCommand = { id, message, delivered: 0, acked: 0, exiting: false, finish, done: false, sent: false, ...(options.onOutput ? { onOutput: options.onOutput } : {}) };
    this.commands.set(id, tracked);
    tracked.sent = this.send(message);
    if (streamed) {
      tracked.input = { chunks: [], queued: 0, written: 0, ended: false };
      void this.pump(tracked, tracked.input, streamed);
    }
    return { id, result, signal: (signal) => this.send({ type: "signal", id, signal }) };
  }

  /** Streams a command's input, at most INPUT_WINDOW_BYTES ahead of what the agent wrote to it. */
  private async pump(command: TrackedCommand, input: StreamedInput, source: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const piece of source) {
        for (let at = 0; at < piece.length; at += INPUT_CHUNK_BYTES) {
          if (command.done) return; // leaving the loop closes the source
          const data = Buffer.from(piece.buffer, piece.byteOffset + at, Math.min(INPUT_CHUNK_BYTES, piece.length - at));
          const chunk = { offset: input.queued, data };
          input.queued += data.length;
          input.chunks.push(chunk);
          if (command.sent) this.send({ type: "input", id: command.id, offset: chunk.offset, data: data.toString("base64") });
          while (input.queued - input.written > INPUT_WINDOW_BYTES && !command.done) await new Promise<void>((resolve) => (input.wake = resolve));
        }
      }
    } catch (e) {
      // The source failed: the command must not take a truncated input for a whole one.
      input.error = `its input could not be read: ${(e as Error).message}`;
      this.send({ type: "signal", id: command.id, signal: "SIGKILL" });
    }
    input.ended = true;
    if (command.sent && !command.done) this.send({ type: "input-end", id: command.id, offset: input.queued });
  }

  private resendInput(command: TrackedCommand, input: StreamedInput, received: number, written: number): void {
    input.written = Math.max(input.written, written);
    input.chunks = input.chunks.filter((c) => c.offset + c.data.length > input.written);
    for (const chunk of input.chunks) {
      const end = chunk.offset + chunk.data.length;
      if (end <= received) continue;
      const from = Math.max(0, received - chunk.offset);
      this.send({ type: "input", id: command.id, offset: chunk.offset + from, data: chunk.data.subarray(from).toString("base64") });
    }
    if (input.ended) this.send({ type: "input-end", id: command.id, offset: input.queued });
    input.wake?.();
  }

  receive(message: AgentMessage): void {
    if (message.type === "output") {
      const command = this.commands.get(message.id);
      if (!command || command.done) return;
      let data = Buffer.from(message.data, "base64");
      const end = message.offset + data.length;
      if (end <= command.delivered) return; // already delivered before a reconnect
      if (message.offset > command.delivered) {
        // A gap: ask again from what we have rather than deliver out of order.
        this.send({ type: "resume", id: command.id, offset: command.delivered });
        return;
      }
      data = data.subarray(command.delivered - message.offset);
      command.delivered = end;
      const returned = command.onOutput?.(message.stream, data);
      const taking = returned instanceof Promise ? returned : undefined;
      if (taking || command.taking) {
        // Confirmed once the consumer took it, and after everything before it.
        command.taking = (command.taking ?? Promise.resolve())
          .then(() => taking)
          .catch(() => undefined) // the consumer's own failure is the consumer's to report
          .then(() => this.taken(command, end));
      } else this.taken(command, end);
    } else if (message.type === "exit") {
      const command = this.commands.get(message.id);
      if (!command || command.done || command.exiting) return;
      const result = { code: message.code, signal: message.signal, ...(message.error ? { error: message.error } : {}) };
      if (!command.taking) return this.finish(command, result);
      command.exiting = true;
      void command.taking.then(() => this.finish(command, result));
    } else if (message.type === "input-ack") {
      const input = this.commands.get(message.id)?.input;
      if (!input || message.offset <= input.written) return;
      input.written = message.offset;
      input.chunks = input.chunks.filter((c) => c.offset + c.data.length > input.written);
      input.wake?.();
    }
  }

  private taken(command: TrackedCommand, offset: number): void {
    if (offset - command.acked < ACK_EVERY_BYTES || command.done) return;
    command.acked = offset;
    this.send({ type: "ack", id: command.id, offset });
  }

  private finish(command: TrackedCommand, result: CommandResult): void {
    if (command.done) return;
    if (command.input?.error && !result.error) result = { ...result, error: command.input.error };
    command.done = true;
    command.input?.wake?.();
    this.commands.delete(command.id);
    this.send({ type: "forget", id: command.id });
    command.finish(result);
  }

  /** Sends if connected; returns whether it was sent. */
  send(message: ControllerMessage): boolean {
    if (this.socket?.readyState !== 1) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Fails every command still running (the pod is gone: no agent will answer for them). */
  failAll(error: string): void {
    for (const command of [...this.commands.values()]) this.finish(command, { code: null, signal: null, error });
  }

  /** Tells the agent to exit; commands still running fail. */
  stop(): void {
    this.send({ type: "stop" });
    this.failAll("the agent was stopped");
  }
}

export interface AgentHubOptions {
  log?: (line: string) => void;
  now?: () => number;
}

export class AgentHub {
  private readonly agents = new Map<string, AgentConnection>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private heartbeat: NodeJS.Timeout | undefined;
  private program: string | undefined;

  constructor(options: AgentHubOptions = {}) {
    this.log = options.log ?? ((line) => console.error(line));
    this.now = options.now ?? Date.now;
    this.heartbeat = setInterval(() => {
      for (const ws of this.wss.clients) ws.send(JSON.stringify({ type: "ping" } satisfies ControllerMessage));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Registers an agent about to be launched; it may connect from now on. */
  expect(name: string, secret: string): AgentConnection {
    const agent = new AgentConnection(name, secret);
    this.agents.set(name, agent);
    return agent;
  }

  forget(name: string): void {
    this.agents.delete(name);
  }

  /** Handles the agent routes of an HTTP server. */
  attach(server: Server): void {
    server.on("upgrade", (req, socket, head) => {
      if (new URL(req.url ?? "/", "http://x").pathname !== AGENT_CONNECT_ROUTE) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
  }

  /** Serves the agent program; returns false for other paths. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "GET" || new URL(req.url ?? "/", "http://x").pathname !== AGENT_PROGRAM_ROUTE) return false;
    this.program ??= agentProgram();
    res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" });
    res.end(this.program);
    return true;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const from = req.socket.remoteAddress ?? "unknown address";
    let agent: AgentConnection | undefined;
    ws.once("message", (raw) => {
      let hello: AgentMessage;
      try {
        hello = JSON.parse(String(raw)) as AgentMessage;
      } catch {
        return this.refuse(ws, undefined, from, "the first message is not JSON");
      }
      if (hello.type !== "hello" || typeof hello.name !== "string") return this.refuse(ws, undefined, from, "the first message must be a hello");
      const expected = this.agents.get(hello.name);
      if (!expected) return this.refuse(ws, hello.name, from, "no such agent is expected (finished, or never launched)");
      const reason = expected.verify({ ...hello, running: Array.isArray(hello.running) ? hello.running : [] }, this.now());
      if (reason) return this.refuse(ws, hello.name, from, reason);
      agent = expected;
      agent.attach(ws, { ...hello, running: Array.isArray(hello.running) ? hello.running : [] });
      ws.on("message", (data) => {
        try {
          agent!.receive(JSON.parse(String(data)) as AgentMessage);
        } catch {
          this.log(`agent ${hello.name}: ignored a message that is not JSON`);
        }
      });
    });
    ws.on("close", () => agent?.detach(ws));
    ws.on("error", () => agent?.detach(ws));
  }

  private refuse(ws: WebSocket, name: string | undefined, from: string, reason: string): void {
    this.log(`agent ${name ?? "(unnamed)"}: refused connection from ${from}: ${reason}`);
    ws.send(JSON.stringify({ type: "refused", reason } satisfies ControllerMessage));
    ws.close(4401, reason.slice(0, 100));
  }

  /** Cuts every agent connection (tests: a network drop). Agents reconnect by themselves. */
  dropConnections(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}

/** The agent source as one JavaScript module that runs itself. */
function agentProgram(): string {
  const source = readFileSync(new URL("../agent/agent.ts", import.meta.url), "utf8");
  return `${stripTypesQuietly(source)}\nprocess.exit(await runAgent(process.env));\n`;
}

/** Node's own type stripper (the one that runs Berth), without its "experimental" warning on every start. */
function stripTypesQuietly(source: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source);
  } finally {
    process.emitWarning = emitWarning;
  }
}

export interface AgentEndpoint {
  url: string;
  hub: AgentHub;
  close(): Promise<void>;
}

/** A standalone HTTP server for agents (until the Berth server hosts these routes). */
export async function startAgentEndpoint(options: AgentHubOptions & { host?: string; port?: number } = {}): Promise<AgentEndpoint> {
  const hub = new AgentHub(options);
  const server = createServer((req, res) => {
    if (!hub.serve(req, res)) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
    }
  });
  hub.attach(server);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`the agent endpoint cannot listen on ${host}:${options.port ?? 0}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`)));
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    hub,
    close: async () => {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
