// How the runtime's end of the spawner (spawner.ts) talks to its helper process: JSON messages over Node's
// IPC channel to the Node helper (spawner-process.ts), or NUL-separated words and reply lines over pipes
// to the compiled launcher's spawn server (spawn-server.c).

import type { ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { constants } from "node:os";

export type Message =
  | { type: "spawned"; id: number; pid: number }
  | { type: "line"; id: number; line: string }
  | { type: "exit"; id: number; code: number | null; signal: NodeJS.Signals | null; stderr?: string };

/** Signal names by number, for the C spawn server's exit lines. */
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

/** How requests reach the helper and replies come back. */
export interface HelperLink {
  send(request: SpawnRequest): void;
  /** Whether this process stays alive for the helper (only while something it started runs). */
  ref(keepAlive: boolean): void;
  /** Tells the helper to exit (it does when its channel or stdin closes). */
  disconnect(): void;
  connected(): boolean;
}

export interface SpawnRequest {
  type: "spawn";
  id: number;
  mode: "process" | "pause";
  file: string;
  args: string[];
  env: Record<string, string>;
  stdin: boolean;
  stdioPath: string;
  pidNamespace?: "new" | number;
}

/** The Node helper: JSON messages over the IPC channel of child_process.fork. */
export function ipcLink(helper: ChildProcess, onMessage: (message: Message) => void): HelperLink {
  helper.on("message", onMessage);
  const channel = (): { ref?: () => void; unref?: () => void } | undefined => helper.channel as { ref?: () => void; unref?: () => void } | undefined;
  return {
    send: (request) => helper.send(request),
    ref: (keepAlive) => (keepAlive ? channel()?.ref?.() : channel()?.unref?.()),
    disconnect: () => helper.disconnect(),
    connected: () => helper.connected,
  };
}

/** The C spawn server: NUL-separated words on its stdin, one reply line each on its stdout. */
export function pipeLink(helper: ChildProcess, onMessage: (message: Message) => void): HelperLink {
  const stdin = helper.stdin as Socket;
  const stdout = helper.stdout as Socket;
  let pending = "";
  stdout.setEncoding("latin1");
  stdout.on("data", (chunk: string) => {
    // One split per chunk: a burst's chunk holds thousands of lines.
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const space = line.indexOf(" ");
      const second = line.indexOf(" ", space + 1);
      const type = line.slice(0, space);
      const id = Number(line.slice(space + 1, second < 0 ? undefined : second));
      const rest = second < 0 ? "" : line.slice(second + 1);
      if (type === "spawned") onMessage({ type, id, pid: Number(rest) });
      // Control lines are the launch scripts' own text: bytes, read back as UTF-8.
      else if (type === "line") onMessage({ type, id, line: Buffer.from(rest, "latin1").toString() });
      else if (type === "exit") {
        const [code, signal, stderr] = rest.split(" ");
        onMessage({
          type,
          id,
          code: code === "-1" ? null : Number(code),
          signal: SIGNAL_NAMES.get(Number(signal)) ?? null,
          ...(stderr !== undefined ? { stderr: Buffer.from(stderr, "hex").toString() } : {}),
        });
      }
    }
  });
  stdin.on("error", () => {
    // The server is gone: its exit settles everything.
  });
  return {
    send: (request) => {
      const env = Object.entries(request.env).map(([key, value]) => `${key}=${value}`);
      const words = ["spawn", String(request.id), request.mode, request.stdin ? "1" : "0", String(request.pidNamespace ?? ""), request.file, String(request.args.length), ...request.args, String(env.length), ...env];
      // The requests of one event-loop turn (a burst) go out in one write: one wake-up of the server.
      if (stdin.writableCorked === 0) {
        stdin.cork();
        process.nextTick(() => stdin.uncork());
      }
      stdin.write(`${words.join("\0")}\0`);
    },
    ref: (keepAlive) => {
      for (const stream of [stdin, stdout]) {
        if (keepAlive) stream.ref();
        else stream.unref();
      }
    },
    disconnect: () => stdin.end(),
    connected: () => !stdin.writableEnded && !stdin.destroyed,
  };
}
