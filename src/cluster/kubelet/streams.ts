// The Kubernetes WebSocket channel protocols for exec and attach (server side): v5 (with stdin half-close),
// v4, their base64 text variants and the v1 "channel.k8s.io". Every message carries a channel byte
// (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize, 255 close); output goes only to channels the
// client asked for, and the exit status is one JSON Status on channel 3 before a normal close.
import type { WebSocket } from "ws";
import type { StreamingSession } from "../runtime/cri.ts";

/** Subprotocols in order of preference. */
export const CHANNEL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"];

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** The subprotocol to answer with, or false for none (plain binary framing, as upstream allows). */
export function chooseProtocol(offered: Set<string>): string | false {
  return CHANNEL_PROTOCOLS.find((p) => offered.has(p)) ?? false;
}

export function isBase64(protocol: string): boolean {
  return protocol.includes("base64");
}

/** Encodes one message for the negotiated framing. */
export function encodeFrame(protocol: string, channel: number, payload: Buffer): Buffer | string {
  if (isBase64(protocol)) return String.fromCharCode(48 + channel) + payload.toString("base64");
  return Buffer.concat([Buffer.from([channel]), payload]);
}

/** Decodes a client message into channel and payload; undefined if empty or malformed. */
export function decodeFrame(protocol: string, data: Buffer, isBinary: boolean): { channel: number; payload: Buffer } | undefined {
  if (data.length === 0) return undefined;
  if (isBase64(protocol) && !isBinary) {
    const text = data.toString("utf8");
    return { channel: text.charCodeAt(0) - 48, payload: Buffer.from(text.slice(1), "base64") };
  }
  return { channel: data[0] as number, payload: data.subarray(1) };
}

/** The Status written to the error channel when the command ends. */
export function exitStatus(exitCode: number, command: string[]): Record<string, unknown> {
  if (exitCode === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  };
}

/** Parses a resize message; kubectl sends Width/Height, client-node width/height. */
export function parseResize(payload: Buffer): { cols: number; rows: number } | undefined {
  try {
    const raw = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
    const lower = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
    const cols = Number(lower.width);
    const rows = Number(lower.height);
    return cols > 0 && rows > 0 ? { cols, rows } : undefined;
  } catch {
    return undefined;
  }
}

export interface ChannelRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Connects a runtime session to an upgraded WebSocket until the process exits or the client leaves. */
export function pumpSession(ws: WebSocket, protocol: string, request: ChannelRequest, session: StreamingSession, command: string[]): void {
  const send = (channel: number, payload: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(encodeFrame(protocol, channel, payload));
  };
  const jsonStatus = protocol.startsWith("v4") || protocol.startsWith("v5");
  let ended = false;
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const frame = decodeFrame(protocol, Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), isBinary);
    if (!frame) return;
    if (frame.channel === STDIN && request.stdin && session.stdin && !session.stdin.writableEnded) session.stdin.write(frame.payload);
    else if (frame.channel === RESIZE) {
      const size = parseResize(frame.payload);
      if (size) void session.resize(size).catch(() => undefined);
    } else if (frame.channel === CLOSE && protocol === "v5.channel.k8s.io" && frame.payload[0] === STDIN) session.stdin?.end();
  });
  ws.on("close", () => {
    if (!ended) session.close();
  });
  ws.on("error", () => session.close());
  if (request.stdout) session.stdout.on("data", (chunk: Buffer) => send(STDOUT, chunk));
  else session.stdout.resume();
  if (session.stderr) {
    // Never write to a channel the client did not ask for: client-node throws on unknown streams.
    if (request.stderr) session.stderr.on("data", (chunk: Buffer) => send(STDERR, chunk));
    else session.stderr.resume();
  }
  session.stdin?.on("error", () => undefined);
  session.exited.then(
    ({ exitCode }) => {
      ended = true;
      const status = exitStatus(exitCode, command);
      send(ERROR, Buffer.from(jsonStatus ? JSON.stringify(status) : exitCode === 0 ? "" : String(status.message)));
      ws.close(1000);
    },
    (error: unknown) => {
      ended = true;
      const status = { metadata: {}, status: "Failure", message: (error as Error).message, reason: "InternalError", code: 500 };
      send(ERROR, Buffer.from(jsonStatus ? JSON.stringify(status) : status.message));
      ws.close(1000);
    },
  );
}

/** The kubelet's "connection established" signal: one empty message on the lowest writable channel. */
export function sendHello(ws: WebSocket, protocol: string, request: ChannelRequest): void {
  const channel = request.stdout ? STDOUT : request.stderr && !request.tty ? STDERR : ERROR;
  ws.send(encodeFrame(protocol, channel, Buffer.alloc(0)));
}
