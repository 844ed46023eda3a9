import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { runProbe, type ProbeTarget } from "../../../src/cluster/kubelet/probes.ts";

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function httpServer(status: number): Promise<number> {
  const server = createServer((req, res) => res.writeHead(req.url === "/healthz" ? status : 404).end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return (server.address() as AddressInfo).port;
}

const target = (ports: { name: string; containerPort: number }[] = []): ProbeTarget => ({ runtime: undefined as never, containerId: "c", podIP: "127.0.0.1", container: { name: "main", ports } });

test("httpGet probes: 2xx/3xx pass, others fail with the kubelet's message; named ports resolve", async () => {
  const ok = await httpServer(204);
  const bad = await httpServer(503);
  assert.deepEqual(await runProbe({ httpGet: { path: "/healthz", port: ok } }, target()), { ok: true, output: "" });
  assert.deepEqual(await runProbe({ httpGet: { path: "/healthz", port: "http" } }, target([{ name: "http", containerPort: ok }])), { ok: true, output: "" });
  assert.deepEqual(await runProbe({ httpGet: { path: "/healthz", port: bad } }, target()), { ok: false, output: "HTTP probe failed with statuscode: 503" });
});

test("tcpSocket probes: a listening port passes, a closed one is refused", async () => {
  const open = await httpServer(200);
  assert.equal((await runProbe({ tcpSocket: { port: open } }, target())).ok, true);
  const closed = await runProbe({ tcpSocket: { port: 1 } }, target());
  assert.equal(closed.ok, false);
  assert.equal(closed.output, "dial tcp 127.0.0.1:1: connect: connection refused");
});
