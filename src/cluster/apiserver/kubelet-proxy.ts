// pods/log, pods/exec and pods/attach: like the real API server, this server does not read logs or run
// commands itself; it checks the request against the stored pod, then proxies it to the kubelet of the
// pod's node (the port the node publishes in status.daemonEndpoints.kubeletEndpoint). Log requests are
// streamed through; exec and attach WebSocket upgrades become a byte tunnel to the kubelet, which speaks
// the channel protocol. The proxy authenticates to kubelets with a token they were given at start.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ServerResponse as HttpServerResponse, request } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { RestStore } from "./rest.ts";
import { findResource, type ResourceType } from "./resources.ts";
import { ApiError, badRequest } from "./status.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";

const NODES = findResource("", "v1", "nodes") as ResourceType;

/** Upgrade requests handed to the ordinary handler keep their socket and first bytes here. */
const upgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

/**
 * Runs an HTTP upgrade request (WebSocket exec/attach) through the normal request handler, so it gets the
 * same authentication, authorization and error answers; only the subresource proxy takes the socket over.
 */
export function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  socket.on("error", () => undefined);
  upgrades.set(req, { socket, head });
  const res = new HttpServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.on("finish", () => {
    if (upgrades.has(req)) socket.end();
  });
  handler(req, res);
}

function containerNames(spec: JsonRecord, key: "containers" | "initContainers"): string[] {
  return (Array.isArray(spec[key]) ? (spec[key] as JsonRecord[]) : []).map((c) => String(c.name));
}

/** The container a request addresses, with the API server's defaulting and messages. */
export function selectContainer(pod: KubeObject, requested: string | null): string {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const name = String(pod.metadata.name);
  const containers = containerNames(spec, "containers");
  const inits = containerNames(spec, "initContainers");
  if (!requested) {
    if (containers.length === 1) return containers[0] as string;
    const initText = inits.length > 0 ? ` or one of the init containers: [${inits.join(" ")}]` : "";
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]${initText}`);
  }
  if (!containers.includes(requested) && !inits.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
  return requested;
}

function kubeletAddress(store: RestStore, pod: KubeObject): { host: string; port: number } {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  const nodeName = typeof spec.nodeName === "string" ? spec.nodeName : "";
  if (!nodeName) throw badRequest(`pod ${String(pod.metadata.name)} does not have a host assigned`);
  const node = store.storage.get(NODES.storageKey, "", nodeName);
  const status = isRecord(node?.status) ? node.status : {};
  const endpoints = isRecord(status.daemonEndpoints) && isRecord(status.daemonEndpoints.kubeletEndpoint) ? status.daemonEndpoints.kubeletEndpoint : {};
  const port = Number(endpoints.Port ?? 0);
  if (!port) throw new ApiError(503, "ServiceUnavailable", `no kubelet is serving node "${nodeName}"`);
  const addresses = Array.isArray(status.addresses) ? (status.addresses as JsonRecord[]) : [];
  const internal = addresses.find((a) => a.type === "InternalIP");
  return { host: typeof internal?.address === "string" ? internal.address : "127.0.0.1", port };
}

export interface KubeletProxy {
  (req: IncomingMessage, res: ServerResponse, pod: KubeObject, subresource: string, query: URLSearchParams): Promise<undefined>;
}

export function createKubeletProxy(store: RestStore, kubeletToken: string): KubeletProxy {
  return async (req, res, pod, subresource, query) => {
    if (subresource === "portforward") throw new ApiError(501, "NotImplemented", "port-forward is not supported by this cluster's kubelets");
    const container = selectContainer(pod, query.get("container"));
    const { host, port } = kubeletAddress(store, pod);
    const action = subresource === "log" ? "containerLogs" : subresource;
    const forwarded = new URLSearchParams(query);
    forwarded.delete("container");
    const path = `/${action}/${encodeURIComponent(String(pod.metadata.namespace))}/${encodeURIComponent(String(pod.metadata.name))}/${encodeURIComponent(container)}?${forwarded.toString()}`;
    const upgrade = upgrades.get(req);
    if (subresource !== "log") {
      if (!upgrade) throw badRequest("Upgrade request required");
      upgrades.delete(req);
      res.detachSocket(upgrade.socket as Socket);
      tunnel(req, upgrade.socket, upgrade.head, host, port, path, kubeletToken);
      return undefined;
    }
    await new Promise<void>((resolve, reject) => {
      const upstream = request({ host, port, path, method: "GET", headers: { Authorization: `Bearer ${kubeletToken}` } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, { "Content-Type": String(answer.headers["content-type"] ?? "text/plain"), "Cache-Control": "no-cache, private" });
        // Followers must see the headers before the first line arrives.
        res.flushHeaders();
        answer.pipe(res);
        answer.on("end", () => resolve());
        answer.on("error", () => resolve());
      });
      upstream.on("error", (error) => (res.headersSent ? resolve() : reject(new ApiError(503, "ServiceUnavailable", `error dialing kubelet: ${error.message}`))));
      res.on("close", () => {
        upstream.destroy();
        resolve();
      });
      upstream.end();
    });
    return undefined;
  };
}

/** Replays the upgrade request to the kubelet and splices the two connections together. */
function tunnel(req: IncomingMessage, client: Duplex, head: Buffer, host: string, port: number, path: string, token: string): void {
  const upstream = connect({ host, port });
  const lines = [`${req.method ?? "GET"} ${path} HTTP/1.1`, `Host: ${host}:${port}`, `Authorization: Bearer ${token}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    if (/^(host|authorization)$/i.test(name)) continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1] as string}`);
  }
  upstream.on("error", () => client.destroy());
  client.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
  upstream.on("connect", () => {
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
}
