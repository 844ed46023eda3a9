// A small JSON client for the Kubernetes API, used by the scheduler and the kubelets.
//
// Why not @kubernetes/client-node here: its v2 API turns every object into typed model classes (Dates,
// renamed fields) and back on each call, which costs real CPU when a burst of a thousand pods goes through
// the scheduler and kubelets, and its Watch puts a 30 s inactivity timeout on every watch. The components
// only need raw JSON over HTTPS with keep-alive, list+watch and merge patches, which node:https gives
// directly. The tests use client-node as a user would.
//
// Components in the API server's own process can pass `connect`: HTTP over an in-process stream pair costs
// about a third of HTTPS over loopback TCP (measured with node:http on both ends, a small GET: 70-115 µs of
// CPU against 270-370 µs), and TLS between two halves of one process protects nothing.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions as HttpRequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { createSecureContext, type SecureContext } from "node:tls";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are open-ended JSON
export type Obj = Record<string, any>;

export interface ApiClientOptions {
  url: string;
  token: string;
  caCertPem: string;
  /** Who writes (kubelet/node-1, default-scheduler); sent as User-Agent. */
  userAgent: string;
  /**
   * Opens a connection to the API server inside this process (the embedded cluster's components): plain
   * HTTP over it, no TLS and no kernel round trip. Without it, HTTPS to `url` with `caCertPem`.
   */
  connect?: () => Duplex;
}

/** The socket methods node:http's client and agent call, as no-ops on a stream that is not a socket. */
function socketLike(stream: Duplex): Duplex {
  const socket = stream as Duplex & Record<string, unknown>;
  for (const method of ["setKeepAlive", "setNoDelay", "setTimeout", "ref", "unref"]) if (typeof socket[method] !== "function") socket[method] = () => socket;
  return socket;
}

/** A non-2xx answer, carrying the metav1.Status the server sent. */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Obj | undefined;
  constructor(code: number, status: Obj | undefined, text: string) {
    super(typeof status?.message === "string" ? status.message : `HTTP ${code}: ${text.slice(0, 200)}`);
    this.name = "ApiStatusError";
    this.code = code;
    this.reason = typeof status?.reason === "string" ? status.reason : "";
    this.status = status;
  }
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: Obj;
}

export interface WatchHandle {
  /** Resolves when the stream ends (server closed, error, or stop()). */
  done: Promise<void>;
  stop(): void;
}

/** How one request is sent and its answer read. */
export interface RequestOptions {
  /** Content-Type of the body (default application/json). */
  contentType?: string;
  /** Send on the one connection kept for events, so a burst of them never queues ahead of status writes. */
  lowPriority?: boolean;
  /**
   * The caller has no use for a successful answer: it is drained without being decoded and the promise
   * resolves with an empty object (a pod is several kilobytes of JSON; errors are still decoded).
   */
  discardResponse?: boolean;
}

export class ApiClient {
  readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly eventAgent: HttpAgent;
  private readonly send: typeof httpRequest;
  /** Headers every request carries, built once. */
  private readonly baseHeaders: Record<string, string>;

  constructor(options: ApiClientOptions) {
    this.url = new URL(options.url);
    this.baseHeaders = { Authorization: `Bearer ${options.token}`, Accept: "application/json", "User-Agent": options.userAgent };
    const { connect } = options;
    // One TLS context for every connection: given only the CA, each new socket of a burst would parse the
    // PEM and build a context of its own (about 1 ms of CPU each).
    let context: SecureContext | undefined;
    const secureContext = (): SecureContext => (context ??= createSecureContext({ ca: options.caCertPem }));
    const agent = (maxSockets: number): HttpAgent => {
      if (!connect) return new HttpsAgent({ keepAlive: true, maxSockets, secureContext: secureContext() });
      const local = new HttpAgent({ keepAlive: true, maxSockets });
      // The agent's own pooling and keep-alive, over the given connections instead of TCP sockets.
      (local as unknown as { createConnection: () => Duplex }).createConnection = () => socketLike(connect());
      return local;
    };
    this.agent = agent(32);
    // Events go out one at a time, in order, as client-go's broadcaster writes them: a count update never
    // overtakes the event it updates, and in a burst the event backlog waits for the writes that start
    // pods instead of taking the API server's time from them (300-pod burst: 440-520 of 1,500 events
    // written by the time all pods ran, against 890-930 with four sockets).
    this.eventAgent = agent(1);
    this.send = connect ? httpRequest : (httpsRequest as typeof httpRequest);
  }

  // The CA lives in the agents only: a `ca` in each request's options would be copied into every
  // connection-pool key lookup (a PEM string hashed per request).
  private options(method: string, path: string, headers: Record<string, string> | undefined, lowPriority = false): HttpRequestOptions {
    return {
      method,
      host: this.url.hostname,
      port: this.url.port,
      path,
      agent: lowPriority ? this.eventAgent : this.agent,
      headers: headers ? { ...this.baseHeaders, ...headers } : this.baseHeaders,
    };
  }

  /** One request with a JSON (or patch) body; resolves with the decoded answer, throws ApiStatusError. */
  request(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<Obj> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? undefined : { "Content-Type": options.contentType ?? "application/json", "Content-Length": String(Buffer.byteLength(payload)) };
    return new Promise((resolve, reject) => {
      const req = this.send(this.options(method, path, headers, options.lowPriority), (res) => {
        const code = res.statusCode ?? 0;
        const ok = code >= 200 && code < 300;
        res.on("error", reject);
        if (ok && options.discardResponse) {
          res.on("end", () => resolve({}));
          res.resume();
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8");
          let parsed: Obj | undefined;
          try {
            parsed = text ? (JSON.parse(text) as Obj) : {};
          } catch {
            parsed = undefined;
          }
          if (ok && parsed) resolve(parsed);
          else reject(new ApiStatusError(code, parsed, text));
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  get(path: string): Promise<Obj> {
    return this.request("GET", path);
  }
  create(path: string, body: Obj, options: RequestOptions = {}): Promise<Obj> {
    return this.request("POST", path, body, options);
  }
  mergePatch(path: string, body: Obj, options: RequestOptions = {}): Promise<Obj> {
    return this.request("PATCH", path, body, { ...options, contentType: "application/merge-patch+json" });
  }
  strategicPatch(path: string, body: Obj, options: RequestOptions = {}): Promise<Obj> {
    return this.request("PATCH", path, body, { ...options, contentType: "application/strategic-merge-patch+json" });
  }
  delete(path: string, deleteOptions?: Obj, options: RequestOptions = {}): Promise<Obj> {
    return this.request("DELETE", path, deleteOptions, options);
  }

  /** Streams watch events of a collection path from a resourceVersion; one callback per line. */
  watch(path: string, query: URLSearchParams, onEvent: (event: WatchEvent) => void): WatchHandle {
    const params = new URLSearchParams(query);
    params.set("watch", "true");
    params.set("allowWatchBookmarks", "true");
    let response: IncomingMessage | undefined;
    let stopped = false;
    const req = this.send(this.options("GET", `${path}?${params.toString()}`, undefined));
    const done = new Promise<void>((resolve) => {
      req.on("error", () => resolve());
      req.on("response", (res) => {
        response = res;
        if (res.statusCode !== 200) {
          res.resume();
          res.on("end", () => resolve());
          onEvent({ type: "ERROR", object: { code: res.statusCode, reason: res.statusCode === 410 ? "Expired" : "Error" } });
          return;
        }
        let pending = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          pending += chunk;
          let newline: number;
          while ((newline = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (!line.trim() || stopped) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (error) {
              // A handler bug must not kill the stream silently; report it and carry on.
              console.error("berth: watch handler failed", error);
            }
          }
        });
        res.on("end", () => resolve());
        res.on("error", () => resolve());
        res.on("close", () => resolve());
      });
    });
    req.end();
    return {
      done,
      stop: () => {
        stopped = true;
        response?.destroy();
        req.destroy();
      },
    };
  }

  /** Event writes: best effort, on the low-priority sockets; nobody reads the stored event back. */
  event(method: "POST" | "PATCH", path: string, body: Obj): Promise<void> {
    return this.request(method, path, body, { contentType: method === "PATCH" ? "application/merge-patch+json" : "application/json", lowPriority: true, discardResponse: true }).then(() => undefined);
  }

  close(): void {
    this.agent.destroy();
    this.eventAgent.destroy();
  }
}

/** Path helpers for the few resources the components use. */
export const paths = {
  pods: (namespace?: string): string => (namespace ? `/api/v1/namespaces/${namespace}/pods` : "/api/v1/pods"),
  pod: (namespace: string, name: string): string => `/api/v1/namespaces/${namespace}/pods/${name}`,
  nodes: (): string => "/api/v1/nodes",
  node: (name: string): string => `/api/v1/nodes/${name}`,
  events: (namespace: string): string => `/api/v1/namespaces/${namespace}/events`,
  lease: (name: string): string => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`,
  leases: (): string => "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
  named: (namespace: string, plural: string, name: string): string => `/api/v1/namespaces/${namespace}/${plural}/${name}`,
};

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiStatusError && error.code === 404;
}
