import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { duplexPair, type Duplex } from "node:stream";
import { ApiClient, ApiStatusError, type Obj, type WatchEvent } from "../../../src/cluster/client/api.ts";

/** An API-server stand-in reached through in-process connections, as the embedded cluster's components reach theirs. */
function inProcessServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): { client: ApiClient; connections: () => number; close(): void } {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => handler(req, res, body));
  });
  let opened = 0;
  const sockets: Duplex[] = [];
  const connect = (): Duplex => {
    opened++;
    const [clientSide, serverSide] = duplexPair();
    const socket = serverSide as Duplex & Record<string, unknown>;
    for (const method of ["setTimeout", "setNoDelay", "setKeepAlive"]) socket[method] = () => socket;
    sockets.push(clientSide, serverSide);
    server.emit("connection", serverSide);
    return clientSide;
  };
  const client = new ApiClient({ url: "https://127.0.0.1:6443", token: "t0k3n", caCertPem: "", userAgent: "berth/test", connect });
  return {
    client,
    connections: () => opened,
    close: () => {
      client.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

const reply = (res: ServerResponse, code: number, body: Obj): void => {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
};

test("api client over in-process connections: JSON in and out, bearer token, kept-alive connections", async () => {
  const seen: string[] = [];
  const { client, connections, close } = inProcessServer((req, res, body) => {
    seen.push(`${String(req.method)} ${String(req.url)} ${String(req.headers.authorization)} ${String(req.headers["content-type"] ?? "-")} ${body}`);
    reply(res, 200, { kind: "Pod", metadata: { name: "p", resourceVersion: "7" } });
  });
  try {
    const pod = await client.get("/api/v1/namespaces/ci/pods/p");
    assert.equal(pod.metadata.resourceVersion, "7");
    await client.mergePatch("/api/v1/namespaces/ci/pods/p/status", { status: { phase: "Running" } });
    await client.create("/api/v1/namespaces/ci/pods/p/binding", { kind: "Binding" });
    assert.deepEqual(seen, [
      "GET /api/v1/namespaces/ci/pods/p Bearer t0k3n - ",
      'PATCH /api/v1/namespaces/ci/pods/p/status Bearer t0k3n application/merge-patch+json {"status":{"phase":"Running"}}',
      'POST /api/v1/namespaces/ci/pods/p/binding Bearer t0k3n application/json {"kind":"Binding"}',
    ]);
    assert.equal(connections(), 1, "sequential requests reuse one connection");
  } finally {
    close();
  }
});

test("api client: an unread answer is drained, not decoded; an error is decoded either way", async () => {
  let next: { code: number; body: Obj } = { code: 201, body: { kind: "Event" } };
  const { client, close } = inProcessServer((_req, res) => reply(res, next.code, next.body));
  try {
    assert.deepEqual(await client.create("/api/v1/namespaces/ci/events", { kind: "Event" }, { discardResponse: true }), {});
    await client.event("POST", "/api/v1/namespaces/ci/events", { kind: "Event" });
    next = { code: 404, body: { kind: "Status", reason: "NotFound", message: 'pods "p" not found', code: 404 } };
    const error = await client.delete("/api/v1/namespaces/ci/pods/p", undefined, { discardResponse: true }).catch((e: unknown) => e);
    assert.ok(error instanceof ApiStatusError);
    assert.equal(error.code, 404);
    assert.equal(error.reason, "NotFound");
    assert.equal(error.message, 'pods "p" not found');
  } finally {
    close();
  }
});

test("api client: a watch delivers one event per line, however the stream is cut", async () => {
  const lines = [
    { type: "ADDED", object: { metadata: { name: "a", resourceVersion: "2" } } },
    { type: "MODIFIED", object: { metadata: { name: "a", resourceVersion: "3" } } },
    { type: "DELETED", object: { metadata: { name: "a", resourceVersion: "4" } } },
  ].map((e) => JSON.stringify(e) + "\n").join("");
  let query = "";
  const { client, close } = inProcessServer((req, res) => {
    query = String(req.url);
    res.writeHead(200, { "Content-Type": "application/json" });
    // Cut mid-line, so the client has to join the pieces.
    res.write(lines.slice(0, 30));
    setImmediate(() => res.end(lines.slice(30)));
  });
  try {
    const events: WatchEvent[] = [];
    const handle = client.watch("/api/v1/pods", new URLSearchParams({ fieldSelector: "spec.nodeName=node-1" }), (event) => events.push(event));
    await handle.done;
    assert.deepEqual(events.map((e) => `${e.type} ${String(e.object.metadata.resourceVersion)}`), ["ADDED 2", "MODIFIED 3", "DELETED 4"]);
    assert.match(query, /^\/api\/v1\/pods\?fieldSelector=spec.nodeName%3Dnode-1&watch=true&allowWatchBookmarks=true$/);
  } finally {
    close();
  }
});
