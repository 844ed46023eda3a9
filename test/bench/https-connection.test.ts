// The benchmark's lean HTTPS client: its answers must end where the server's do, or the latencies it
// reports are wrong (or it hangs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { httpsConnection, parseAnswer } from "../../bench/https-connection.ts";
import { startTestServer } from "../cluster/helpers/server.ts";

test("parseAnswer finds the end of Content-Length, chunked and bodiless answers, and waits for the rest of a chunked one", () => {
  const sized = Buffer.from("HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello");
  assert.deepEqual(parseAnswer(sized), { status: 201, end: sized.length, close: false });
  assert.deepEqual(parseAnswer(sized.subarray(0, sized.length - 1)), { status: 201, end: sized.length, close: false });
  assert.equal(parseAnswer(sized.subarray(0, 30)), undefined);
  const chunked = Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\nHTTP/1.1");
  const end = chunked.length - "HTTP/1.1".length;
  assert.deepEqual(parseAnswer(chunked), { status: 200, end, close: true });
  for (let cut = 0; cut < end; cut++) assert.equal(parseAnswer(chunked.subarray(0, cut))?.end, undefined, `cut at ${cut}`);
  assert.deepEqual(parseAnswer(Buffer.from("HTTP/1.1 204 No Content\r\n\r\n")), { status: 204, end: 27, close: false });
});

test("httpsConnection sends requests on one connection to the API server and to a chunking server, and reports failures", async (t) => {
  const server = await startTestServer();
  t.after(() => server.dispose());
  const send = httpsConnection(server.url, { ca: server.caCertPem, headers: { Authorization: `Bearer ${server.adminToken}`, "Content-Type": "application/json" } });
  assert.equal(await send("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "one" } }), 201);
  assert.equal(await send("GET", "/api/v1/namespaces/default/configmaps/one"), 200);
  for (let i = 0; i < 300; i++) await send("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: `big-${i}` }, data: { text: "x".repeat(1000) } });
  assert.equal(await send("GET", "/api/v1/namespaces/default/configmaps"), 200, "a list larger than one read");
  await assert.rejects(send("GET", "/api/v1/namespaces/default/configmaps/missing"), /404/);
  assert.equal(await send("GET", "/api/v1/namespaces/default/configmaps/one"), 200);

  const pki = (name: string): string => readFileSync(join(server.dataDir, "pki", name), "utf8");
  let connections = 0;
  const chunking = createServer({ cert: pki("apiserver.crt"), key: pki("apiserver.key") }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(201, { "Content-Type": "application/json" });
      res.write('{"kind":');
      res.end('"Status"}');
    });
  });
  chunking.on("connection", () => connections++);
  await new Promise<void>((resolve) => chunking.listen(0, "127.0.0.1", resolve));
  t.after(() => chunking.close());
  const origin = new URL(server.url);
  origin.port = String((chunking.address() as AddressInfo).port);
  const floor = httpsConnection(origin.origin, { ca: server.caCertPem, headers: {} });
  for (let i = 0; i < 3; i++) assert.equal(await floor("POST", "/", { i }), 201);
  assert.equal(connections, 1);
  chunking.closeAllConnections();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await floor("POST", "/", {}), 201, "a connection the server closed is opened again");
  assert.equal(connections, 2);
});
