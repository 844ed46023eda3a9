// The embedded cluster as the CLI sees it: one call that brings up the control plane over a data
// directory — the API server, then the scheduler and one kubelet per node (node-1 … node-N), all in this
// process and all talking to the API server over HTTPS like separate components would.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startApiServer, type RunningApiServer } from "./apiserver/index.ts";
import type { SyncMode } from "./apiserver/storage.ts";
import { ApiClient } from "./client/api.ts";
import { Kubelet } from "./kubelet/kubelet.ts";
import { ProcessRuntime, type ProcessRuntimeOptions } from "./runtime/process/process-runtime.ts";
import { Scheduler } from "./scheduler/scheduler.ts";

export interface ClusterOptions {
  dataDir: string;
  port?: number;
  /** Nodes to register, each with its kubelet; default 1. */
  nodes?: number;
  /** Pods each node accepts (default 110, like the real kubelet). */
  maxPodsPerNode?: number;
  /** When an acknowledged API write reaches the disk: within 100 ms (default), or before its answer. */
  fsync?: SyncMode;
  /** Options of the process runtime, e.g. `{ imagePolicy: { unavailable: ["*:broken"] } }`. */
  runtime?: ProcessRuntimeOptions;
}

export interface RunningCluster extends RunningApiServer {
  runtime: ProcessRuntime;
  scheduler: Scheduler;
  kubelets: Kubelet[];
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const nodes = options.nodes ?? 1;
  const api = await startApiServer({ dataDir: options.dataDir, port: options.port, nodes, fsync: options.fsync });
  // The runtime's scratch (container roots, probes) lives in the data dir, not the OS temp dir, so a
  // cluster killed with -9 leaves nothing behind there; a killed run's scratch is cleared here.
  const runtimeDir = join(options.dataDir, "runtime");
  rmSync(runtimeDir, { recursive: true, force: true });
  const runtime = await ProcessRuntime.create({ stateDirectory: runtimeDir, ...options.runtime });
  // The components share the API server's process: they reach it through in-process connections.
  const client = (component: string): ApiClient => new ApiClient({ url: api.url, token: api.adminToken, caCertPem: api.caCertPem, userAgent: `berth/${component}`, connect: api.connectLocal });
  const schedulerClient = client("scheduler");
  const clients: ApiClient[] = [schedulerClient];
  const scheduler = new Scheduler({ client: schedulerClient });
  const kubelets: Kubelet[] = [];
  for (let i = 1; i <= nodes; i++) {
    const kubeletClient = client(`kubelet-node-${i}`);
    clients.push(kubeletClient);
    kubelets.push(new Kubelet({ nodeName: `node-${i}`, client: kubeletClient, runtime, dataDir: options.dataDir, serverToken: api.adminToken, apiServer: { host: "127.0.0.1", port: api.port }, ...(options.maxPodsPerNode !== undefined ? { maxPods: options.maxPodsPerNode } : {}) }));
  }
  try {
    // Kubelets first, so nodes are Ready when the scheduler makes its first decisions.
    await Promise.all(kubelets.map((k) => k.start()));
    await scheduler.start();
  } catch (error) {
    await Promise.all(kubelets.map((k) => k.stop()));
    scheduler.stop();
    await runtime.close();
    rmSync(runtimeDir, { recursive: true, force: true });
    await api.stop();
    throw error;
  }
  let stopped = false;
  return {
    ...api,
    runtime,
    scheduler,
    kubelets,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      scheduler.stop();
      await Promise.all(kubelets.map((k) => k.stop()));
      await runtime.close();
      rmSync(runtimeDir, { recursive: true, force: true });
      for (const c of clients) c.close();
      await api.stop();
    },
  };
}
