// Starts the embedded API server over a data directory: storage, PKI, bootstrap objects, the
// HTTPS listener on 127.0.0.1, and the kubeconfig that points at it.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer as createPlainServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { duplexPair, type Duplex } from "node:stream";
import { ADMIN_USER, MastersAuthorizer, TokenAuthenticator } from "./auth.ts";
import { bootstrapCluster } from "./bootstrap.ts";
import { Checkpointer, createWriteGate } from "./checkpointer.ts";
import { createHandler } from "./handler.ts";
import { createKubeletProxy, handleUpgrade } from "./kubelet-proxy.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { loadOrCreatePki } from "./pki.ts";
import { RbacAuthorizer } from "./rbac.ts";
import { RestStore } from "./rest.ts";
import { ServiceAccountTokens } from "./service-account-tokens.ts";
import { Storage, type SyncMode } from "./storage.ts";

export interface ApiServerOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Node objects to register (node-1 … node-N). */
  nodes?: number;
  /** How many changes the watch history keeps. */
  historyLength?: number;
  /** When an acknowledged write reaches the disk (storage.ts): within 100 ms (default), or before its answer. */
  fsync?: SyncMode;
  bookmarkIntervalMs?: number;
}

export interface RunningApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  adminToken: string;
  caCertPem: string;
  store: RestStore;
  /**
   * A connection to this server from inside its own process (the embedded cluster's scheduler and
   * kubelets): plain HTTP over an in-process stream pair, the same handler and authentication as over
   * HTTPS, without TLS and TCP on both ends (a small GET 70-115 µs of CPU for both ends against 270-370).
   */
  connectLocal(): Duplex;
  stop(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const host = options.host ?? "127.0.0.1";
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(options.dataDir);
  const dbFile = join(options.dataDir, "state.db");
  const writeGate = createWriteGate();
  const storage = new Storage(dbFile, { historyLength: options.historyLength, externalCheckpoints: true, writeGate, sync: options.fsync });
  const checkpointer = new Checkpointer(dbFile, { writeGate });
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
    // Idle connections are kept 90 s, as the real server and client-go's transport keep them: closed
    // sooner, a client's whole pool reconnects at its next burst and the TLS handshakes delay it (50
    // clients after 45 s idle: p99 80 ms in the first 4 s at 500 creates/s, against 8 ms kept open).
    { cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 90_000 },
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
  const local = createPlainServer({ keepAliveTimeout: 0 }, handler);
  const localSockets = new Set<Duplex>();
  const connectLocal = (): Duplex => {
    const [clientSide, serverSide] = duplexPair();
    // What node:http asks of a socket beyond a stream; it has no timers or TCP options to set.
    const socket = serverSide as Duplex & Record<string, unknown>;
    for (const method of ["setTimeout", "setNoDelay", "setKeepAlive"]) socket[method] = () => socket;
    socket.remoteAddress = "127.0.0.1";
    localSockets.add(serverSide);
    serverSide.once("close", () => localSockets.delete(serverSide));
    local.emit("connection", serverSide);
    return clientSide;
  };
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
    connectLocal,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const socket of localSockets) socket.destroy();
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
