// The kubelet's own endpoint, which the API server proxies pods/log, pods/exec and pods/attach to (its
// port is the Node's status.daemonEndpoints.kubeletEndpoint.Port). Loopback HTTP with a bearer token
// the API server holds: every kubelet runs in the same process on the same machine, so TLS would add
// nothing but cost. Paths follow the real kubelet: /containerLogs/<ns>/<pod>/<container>,
// /exec/<ns>/<pod>/<container>, /attach/<ns>/<pod>/<container>.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { parseTimestamp } from "../runtime/cri-log.ts";
import type { ContainerRuntime } from "../runtime/cri.ts";
import { streamLog, type LogOptions } from "./logs.ts";
import type { PodWorker } from "./pod-worker.ts";
import { chooseProtocol, pumpSession, sendHello, type ChannelRequest } from "./streams.ts";

export interface KubeletServerOptions {
  token: string;
  runtime: ContainerRuntime;
  findPod(namespace: string, name: string): PodWorker | undefined;
}

class HttpError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

function statusBody(error: HttpError): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: error.message, reason: error.reason, ...(error.details ? { details: error.details } : {}), code: error.code });
}

const badRequest = (message: string): HttpError => new HttpError(400, "BadRequest", message);
const invalidLogOption = (field: string, value: string, message: string): HttpError =>
  new HttpError(422, "Invalid", `PodLogOptions "" is invalid: ${field}: Invalid value: ${value}: ${message}`, { kind: "PodLogOptions", causes: [{ reason: "FieldValueInvalid", message: `Invalid value: ${value}: ${message}`, field }] });

function bool(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value === "true" || value === "1" || value === "True";
}

function integer(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw badRequest(`invalid ${name}: ${value}`);
  return n;
}

/** PodLogOptions from the query, with the API server's validation messages. */
export function parseLogOptions(query: URLSearchParams, now: Date): LogOptions & { previous: boolean } {
  const tailLines = integer(query, "tailLines");
  const limitBytes = integer(query, "limitBytes");
  const sinceSeconds = integer(query, "sinceSeconds");
  const sinceTime = query.get("sinceTime");
  if (tailLines !== undefined && tailLines < 0) throw invalidLogOption("tailLines", String(tailLines), "must be greater than or equal to 0");
  if (limitBytes !== undefined && limitBytes < 1) throw invalidLogOption("limitBytes", String(limitBytes), "must be greater than 0");
  if (sinceSeconds !== undefined && sinceSeconds < 1) throw invalidLogOption("sinceSeconds", String(sinceSeconds), "must be greater than 0");
  if (sinceSeconds !== undefined && sinceTime) throw new HttpError(422, "Invalid", 'PodLogOptions "" is invalid: []: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
  let sinceNs: bigint | undefined;
  if (sinceSeconds !== undefined) sinceNs = BigInt(now.getTime() - sinceSeconds * 1000) * 1_000_000n;
  if (sinceTime) {
    sinceNs = parseTimestamp(sinceTime);
    if (sinceNs === undefined) throw badRequest(`invalid sinceTime: ${sinceTime}`);
  }
  const stream = query.get("stream");
  return {
    follow: bool(query, "follow"),
    previous: bool(query, "previous"),
    timestamps: bool(query, "timestamps"),
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
    ...(sinceNs !== undefined ? { sinceNs } : {}),
    ...(stream === "Stdout" || stream === "Stderr" || stream === "All" ? { stream } : {}),
  };
}

function parsePath(url: URL): { action: string; namespace: string; pod: string; container: string } | undefined {
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length !== 4) return undefined;
  const [action, namespace, pod, container] = parts as [string, string, string, string];
  return { action, namespace, pod, container };
}

export class KubeletServer {
  private readonly options: KubeletServerOptions;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Socket | Duplex>();
  port = 0;

  constructor(options: KubeletServerOptions) {
    this.options = options;
    this.wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => chooseProtocol(offered) });
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async listen(host = "127.0.0.1"): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.options.token}`;
  }

  private worker(namespace: string, name: string, container: string): PodWorker {
    const worker = this.options.findPod(namespace, name);
    if (!worker) throw new HttpError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    if (!worker.container(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    return worker;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!this.authorized(req)) throw new HttpError(401, "Unauthorized", "Unauthorized");
      const url = new URL(req.url ?? "/", "http://kubelet");
      if (url.pathname === "/healthz") {
        res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
        return;
      }
      const target = parsePath(url);
      if (!target || target.action !== "containerLogs" || req.method !== "GET") throw new HttpError(404, "NotFound", "the server could not find the requested resource");
      await this.logs(target.namespace, target.pod, target.container, url.searchParams, res);
    } catch (error) {
      const httpError = error instanceof HttpError ? error : new HttpError(500, "InternalError", (error as Error).message);
      if (res.headersSent) res.end();
      else res.writeHead(httpError.code, { "Content-Type": "application/json" }).end(statusBody(httpError));
    }
  }

  private async logs(namespace: string, podName: string, containerName: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const options = parseLogOptions(query, new Date());
    const worker = this.worker(namespace, podName, containerName);
    const info = worker.container(containerName);
    if (!info) throw badRequest(`container ${containerName} is not valid for pod ${podName}`);
    const attempts = info.attempts;
    let attempt: number;
    if (options.previous) {
      if (attempts.length < 2) throw badRequest(`previous terminated container "${containerName}" in pod "${podName}" not found`);
      attempt = attempts[attempts.length - 2] as number;
    } else {
      if (attempts.length === 0) throw badRequest(`container "${containerName}" in pod "${podName}" is waiting to start: ${info.waitingReason ?? "ContainerCreating"}`);
      attempt = attempts[attempts.length - 1] as number;
    }
    const current = !options.previous;
    res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    await streamLog(
      {
        path: worker.logPath(containerName, attempt),
        running: () => current && !worker.isFinished && (worker.container(containerName)?.running ?? false) && worker.container(containerName)?.attempts.at(-1) === attempt,
        onExit: (callback) => {
          worker.signals.on(`exited:${containerName}`, callback);
          worker.signals.on("finished", callback);
          return () => {
            worker.signals.off(`exited:${containerName}`, callback);
            worker.signals.off("finished", callback);
          };
        },
      },
      options,
      {
        write: (chunk) => res.write(chunk),
        end: () => res.end(),
        onClose: (callback) => res.on("close", callback),
      },
    );
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => undefined);
    const reject = (error: HttpError): void => {
      const body = statusBody(error);
      socket.end(`HTTP/1.1 ${error.code} ${error.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    try {
      if (!this.authorized(req)) throw new HttpError(401, "Unauthorized", "Unauthorized");
      const url = new URL(req.url ?? "/", "http://kubelet");
      const target = parsePath(url);
      if (!target || (target.action !== "exec" && target.action !== "attach")) throw new HttpError(404, "NotFound", "the server could not find the requested resource");
      const query = url.searchParams;
      const request: ChannelRequest = { stdin: bool(query, "stdin"), stdout: bool(query, "stdout"), stderr: bool(query, "stderr"), tty: bool(query, "tty") };
      if (request.tty) request.stderr = false;
      const command = query.getAll("command");
      if (target.action === "exec" && command.length === 0) throw badRequest("you must specify at least 1 command");
      if (!request.stdin && !request.stdout && !request.stderr) throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
      const worker = this.worker(target.namespace, target.pod, target.container);
      const info = worker.container(target.container);
      if (!info?.running || !info.containerId) throw badRequest(`container ${target.container} is not running in pod ${target.pod}`);
      const containerId = info.containerId;
      // Checked last: kubectl 1.30+ retries a failed WebSocket upgrade over SPDY and prints that second
      // answer, so a real problem (pod gone, container not running) must win over this one.
      if (String(req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
        throw badRequest("this kubelet streams exec and attach over WebSocket only (kubectl 1.30 or newer); SPDY is not supported");
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const protocol = ws.protocol || "";
        // Frames the client sends while the runtime is still starting the process (stdin, a resize) are
        // kept and handed over once the session exists.
        const early: [Buffer, boolean][] = [];
        const hold = (data: Buffer, isBinary: boolean): void => void early.push([data, isBinary]);
        ws.on("message", hold);
        void (async () => {
          try {
            const session =
              target.action === "exec"
                ? await this.options.runtime.exec(containerId, { cmd: command, stdin: request.stdin, tty: request.tty })
                : await this.options.runtime.attach(containerId, { stdin: request.stdin });
            ws.off("message", hold);
            if (ws.readyState !== ws.OPEN) {
              // The client left during the start.
              session.close();
              return;
            }
            sendHello(ws, protocol, request);
            pumpSession(ws, protocol, request, session, command);
            for (const [data, isBinary] of early) ws.emit("message", data, isBinary);
          } catch (error) {
            ws.off("message", hold);
            const status = { metadata: {}, status: "Failure", message: (error as Error).message, reason: "InternalError", code: 500 };
            ws.send(protocol.includes("base64") ? `3${Buffer.from(JSON.stringify(status)).toString("base64")}` : Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
            ws.close(1000);
          }
        })();
      });
    } catch (error) {
      reject(error instanceof HttpError ? error : new HttpError(500, "InternalError", (error as Error).message));
    }
  }
}
