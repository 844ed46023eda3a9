// One kubelet: registers its node, serves logs and exec, watches the pods bound to its node and gives each
// a PodWorker. Several kubelets may share one container runtime (the embedded cluster runs them all in
// one process); each only handles the sandboxes it created.
import { join } from "node:path";
import { paths, type ApiClient, type Obj } from "../client/api.ts";
import { EventRecorder } from "../client/events.ts";
import { Informer } from "../client/informer.ts";
import type { ContainerRuntime } from "../runtime/cri.ts";
import { Backoff } from "./backoff.ts";
import { NodeHeartbeat } from "./node.ts";
import { PodWorker, type KubeletContext } from "./pod-worker.ts";
import { KubeletServer } from "./server.ts";

export interface KubeletOptions {
  nodeName: string;
  client: ApiClient;
  runtime: ContainerRuntime;
  /** The cluster's data directory; the kubelet keeps its files under kubelet/<node>. */
  dataDir: string;
  /** Token the API server presents when it proxies logs and exec to this kubelet. */
  serverToken: string;
  /** Where pods reach the API server (KUBERNETES_SERVICE_HOST/PORT). */
  apiServer: { host: string; port: number };
  kubeletVersion?: string;
  /** Pod capacity of the node (default 110). */
  maxPods?: number;
  /** Back-off schedule override (tests); default 10 s doubling to 5 min. */
  backoff?: Backoff;
}

export class Kubelet {
  readonly nodeName: string;
  private readonly options: KubeletOptions;
  private readonly workers = new Map<string, PodWorker>();
  private readonly byName = new Map<string, PodWorker>();
  private readonly heartbeat: NodeHeartbeat;
  private readonly server: KubeletServer;
  private informer: Informer | undefined;
  private unsubscribe: (() => void) | undefined;
  private ctx: KubeletContext | undefined;

  constructor(options: KubeletOptions) {
    this.options = options;
    this.nodeName = options.nodeName;
    this.heartbeat = new NodeHeartbeat(options.client, options.nodeName);
    this.server = new KubeletServer({ token: options.serverToken, runtime: options.runtime, findPod: (ns, name) => this.byName.get(`${ns}/${name}`) });
  }

  async start(): Promise<void> {
    const { client, runtime, nodeName } = this.options;
    const port = await this.server.listen();
    const hostIP = "127.0.0.1";
    const info = runtime.info();
    const node = await this.heartbeat.register({ port, hostIP, runtimeName: info.runtimeName, runtimeVersion: info.runtimeVersion, kubeletVersion: this.options.kubeletVersion ?? "v1.35.0", ...(this.options.maxPods !== undefined ? { maxPods: this.options.maxPods } : {}) });
    const { host, port: apiPort } = this.options.apiServer;
    this.ctx = {
      nodeName,
      client,
      runtime,
      events: new EventRecorder(client, { component: "kubelet", host: nodeName }),
      rootDir: join(this.options.dataDir, "kubelet", nodeName),
      claimsDir: join(this.options.dataDir, "volumes"),
      hostIP,
      nodeAllocatable: (node.status?.allocatable ?? {}) as Record<string, string>,
      serviceEnv: {
        KUBERNETES_SERVICE_HOST: host,
        KUBERNETES_SERVICE_PORT: String(apiPort),
        KUBERNETES_SERVICE_PORT_HTTPS: String(apiPort),
        KUBERNETES_PORT: `tcp://${host}:${apiPort}`,
      },
      canMount: process.getuid?.() === 0,
      backoff: this.options.backoff ?? new Backoff(),
      containers: new Map(),
    };
    this.unsubscribe = runtime.onContainerEvent((event) => {
      if (event.type !== "stopped") return;
      const worker = this.ctx?.containers.get(event.containerId);
      if (worker?.owns(event.containerId)) void worker.containerStopped(event.containerId);
    });
    this.informer = new Informer(client, paths.pods(), { fieldSelector: `spec.nodeName=${nodeName}` }, {
      add: (pod) => this.podSeen(pod),
      update: (_old, pod) => this.podSeen(pod),
      delete: (pod) => {
        const worker = this.workers.get(String(pod.metadata?.uid));
        worker?.removed();
      },
    });
    this.informer.start();
    await this.informer.synced;
  }

  private podSeen(pod: Obj): void {
    const uid = String(pod.metadata?.uid);
    const existing = this.workers.get(uid);
    if (existing) {
      existing.update(pod);
      return;
    }
    // A pod that already ended (for example before a restart of Berth) is history, not work.
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return;
    const worker = new PodWorker(this.ctx as KubeletContext, pod);
    this.workers.set(uid, worker);
    this.byName.set(`${String(pod.metadata.namespace)}/${String(pod.metadata.name)}`, worker);
    worker.signals.once("finished", () => {
      this.workers.delete(uid);
      if (this.byName.get(`${worker.namespace}/${worker.name}`) === worker) this.byName.delete(`${worker.namespace}/${worker.name}`);
    });
    worker.requestSync();
  }

  /** Pods this kubelet runs right now (for tests and benchmarks). */
  get podCount(): number {
    return this.workers.size;
  }

  async stop(): Promise<void> {
    this.informer?.stop();
    this.heartbeat.stop();
    this.ctx?.events.close();
    this.unsubscribe?.();
    for (const worker of this.workers.values()) worker.shutdown();
    await this.server.close();
  }
}
