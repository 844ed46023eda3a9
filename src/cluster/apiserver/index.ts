// Starts the embedded API server over a data directory: storage, PKI, bootstrap objects, the
// HTTPS listener on 127.0.0.1, and the kubeconfig that points at it.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ADMIN_USER, MastersAuthorizer, TokenAuthenticator } from "./auth.ts";
import { bootstrapCluster } from "./bootstrap.ts";
import { Checkpointer } from "./checkpointer.ts";
import { createHandler } from "./handler.ts";
import { createKubeletProxy, handleUpgrade } from "./kubelet-proxy.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { loadOrCreatePki } from "./pki.ts";
import { RbacAuthorizer } from "./rbac.ts";
import { RestStore } from "./rest.ts";
import { ServiceAccountTokens } from "./service-account-tokens.ts";
import { Storage } from "./storage.ts";

export interface ApiServerOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Node objects to register (node-1 … node-N). */
  nodes?: number;
  /** How many changes the watch history keeps. */
  historyLength?: number;
  bookmarkIntervalMs?: number;
}

export interface RunningApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  adminToken: string;
  caCertPem: string;
  store: RestStore;
  stop(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const host = options.host ?? "127.0.0.1";
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(options.dataDir);
  const dbFile = join(options.dataDir, "state.db");
  const storage = new Storage(dbFile, { historyLength: options.historyLength, externalCheckpoints: true });
  const checkpointer = new Checkpointer(dbFile);
  const store = new RestStore(storage);
  const controllers = bootstrapCluster(store, pki.caCertPem, options.nodes ?? 0);

  let address = `${host}:${options.port ?? 0}`;
  const serviceAccountTokens = new ServiceAccountTokens(storage, pki.serviceAccountKeyPem);
  const rbac = new RbacAuthorizer(storage);
  const handler = createHandler({
    store,
    authenticator: new TokenAuthenticator([[pki.adminToken, ADMIN_USER]], [serviceAccountTokens]),
    authorizer: new MastersAuthorizer(rbac),
    issueToken: (namespace, sa, request) => serviceAccountTokens.issue(namespace, sa, request),
    rulesFor: (user, namespace) => rbac.rulesFor(user, namespace),
    serverAddress: () => address,
    bookmarkIntervalMs: options.bookmarkIntervalMs,
    kubeletProxy: createKubeletProxy(store, pki.adminToken),
  });
  const server: Server = createServer(
    // Client certificates are optional: asked for, checked against the cluster CA, never required.
    { cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 30_000 },
    handler,
  );
  // WebSocket exec/attach: the same handler, which hands the socket to the kubelet proxy.
  server.on("upgrade", (req, socket, head) => handleUpgrade(req, socket, head, handler));
  // Malformed HTTP never reaches the handler; answer it as Node would by default, without logging.
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  address = `${host}:${port}`;
  const url = `https://${host}:${port}`;
  const kubeconfigPath = join(options.dataDir, "kubeconfig");
  writeFileSync(kubeconfigPath, renderKubeconfig(url, pki.caCertPem, pki.adminToken), { mode: 0o600 });

  let stopped = false;
  return {
    url,
    port,
    kubeconfigPath,
    adminToken: pki.adminToken,
    caCertPem: pki.caCertPem,
    store,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      controllers.stop();
      storage.close();
      await checkpointer.stop();
    },
  };
}
