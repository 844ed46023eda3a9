// The floor for bench/apiserver.ts: a bare Node HTTPS server in its own process, with the API
// server's certificate, that reads each request and answers 201 with a small JSON body at once. Its
// latency under the same clients and load is what this machine, Node and TLS give before any API
// server work.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: bare-https-process.ts <apiserver-data-dir>");
const pki = (name: string): string => readFileSync(join(dataDir, "pki", name), "utf8");
const server = createServer({ cert: pki("apiserver.crt"), key: pki("apiserver.key"), keepAliveTimeout: 30_000 }, (req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end('{"kind":"Status","status":"Success"}');
  });
});
server.listen(0, "127.0.0.1", () => console.log(`ready ${(server.address() as AddressInfo).port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
