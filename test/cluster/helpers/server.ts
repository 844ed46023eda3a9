// Starts an embedded API server on a free port in a fresh temporary data directory.
import { startApiServer, type ApiServerOptions, type RunningApiServer } from "../../../src/cluster/apiserver/index.ts";
import { startInDataDir } from "../../support/temp-dir.ts";

export interface TestServer extends RunningApiServer {
  dataDir: string;
  /** Stops the server and removes its data directory. */
  dispose(): Promise<void>;
}

export function startTestServer(options: Partial<ApiServerOptions> = {}): Promise<TestServer> {
  return startInDataDir("berth-apiserver-", (dataDir) => startApiServer({ port: 0, nodes: 1, ...options, dataDir }), options.dataDir);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary Kubernetes JSON
export type Loose = any;

/** A fetch-like JSON call with the admin token, for tests that want the raw wire. */
export async function call(server: RunningApiServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Loose; headers: Headers }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = request(
      `${server.url}${path}`,
      {
        method,
        ca: server.caCertPem,
        headers: {
          Authorization: `Bearer ${server.adminToken}`,
          "Content-Type": "application/json",
          Accept: "application/json",
          ...(payload !== undefined ? { "Content-Length": String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // leave as text
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: h });
        });
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
