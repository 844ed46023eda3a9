// The kubelet's side of the Node object: registration (when the API server has not registered the node
// already), the status it owns (Ready and pressure conditions, addresses, the kubelet endpoint, runtime
// info), and the heartbeat: a Lease in kube-node-lease renewed every 10 s, with the node status itself
// rewritten only every 5 minutes, as the real kubelet does to keep writes few.
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { isNotFound, paths, type ApiClient, type Obj } from "../client/api.ts";
import { formatTime } from "./status.ts";

export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_MS = 10_000;
export const STATUS_REPORT_MS = 5 * 60_000;

const goArch = (): string => (arch() === "x64" ? "amd64" : arch());

function microTime(date: Date): string {
  return date.toISOString().replace(/Z$/, "000Z");
}

/** Labels every node carries. */
export function nodeLabels(name: string): Record<string, string> {
  return { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": goArch(), "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": goArch() };
}

/** Capacity from the machine: all CPUs, all memory, 110 pods. */
export function machineCapacity(): Record<string, string> {
  return { cpu: String(cpus().length), memory: `${Math.floor(totalmem() / 1024)}Ki`, pods: "110", "ephemeral-storage": "100Gi" };
}

export interface NodeStatusInput {
  port: number;
  hostIP: string;
  runtimeName: string;
  runtimeVersion: string;
  kubeletVersion: string;
  previous?: Obj;
  now: Date;
  /** Overrides the pod capacity (default 110, as the real kubelet's --max-pods). */
  maxPods?: number;
}

/** The status fields the kubelet owns, keeping transition times of conditions that did not change. */
export function nodeStatus(input: NodeStatusInput): Obj {
  const now = formatTime(input.now);
  const old = ((input.previous?.status?.conditions ?? []) as Obj[]);
  const condition = (type: string, status: string, reason: string, message: string): Obj => {
    const previous = old.find((c) => c.type === type);
    return { type, status, lastHeartbeatTime: now, lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now, reason, message };
  };
  const pods = input.maxPods !== undefined ? { pods: String(input.maxPods) } : {};
  const capacity = { ...((input.previous?.status?.capacity as Obj | undefined) ?? machineCapacity()), ...pods };
  return {
    capacity,
    allocatable: { ...((input.previous?.status?.allocatable as Obj | undefined) ?? capacity), ...pods },
    conditions: [
      condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ],
    addresses: [
      { type: "InternalIP", address: input.hostIP },
      { type: "Hostname", address: hostname() },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: input.port } },
    nodeInfo: {
      ...((input.previous?.status?.nodeInfo ?? {}) as Obj),
      kernelVersion: release(),
      operatingSystem: "linux",
      architecture: goArch(),
      containerRuntimeVersion: `${input.runtimeName}://${input.runtimeVersion}`,
      kubeletVersion: input.kubeletVersion,
    },
  };
}

export class NodeHeartbeat {
  private readonly client: ApiClient;
  private readonly name: string;
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private nodeUid = "";

  constructor(client: ApiClient, name: string) {
    this.client = client;
    this.name = name;
  }

  /** Registers the node if needed and posts its status; returns the node as stored. */
  async register(status: Omit<NodeStatusInput, "previous" | "now">): Promise<Obj> {
    let node: Obj;
    try {
      node = await this.client.get(paths.node(this.name));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      node = await this.client.create(paths.nodes(), { apiVersion: "v1", kind: "Node", metadata: { name: this.name, labels: nodeLabels(this.name) }, spec: {} });
    }
    const labels = (node.metadata?.labels ?? {}) as Record<string, string>;
    const missing = Object.entries(nodeLabels(this.name)).filter(([k]) => labels[k] === undefined);
    if (missing.length > 0) node = await this.client.mergePatch(paths.node(this.name), { metadata: { labels: Object.fromEntries(missing) } });
    const post = async (): Promise<Obj> => {
      const current = await this.client.get(paths.node(this.name));
      return this.client.strategicPatch(`${paths.node(this.name)}/status`, { status: nodeStatus({ ...status, previous: current, now: new Date() }) });
    };
    node = await post();
    this.nodeUid = String(node.metadata?.uid ?? "");
    await this.renewLease();
    this.leaseTimer = setInterval(() => void this.renewLease().catch(() => undefined), LEASE_RENEW_MS);
    this.leaseTimer.unref();
    this.statusTimer = setInterval(() => void post().catch(() => undefined), STATUS_REPORT_MS);
    this.statusTimer.unref();
    return node;
  }

  private async renewLease(): Promise<void> {
    if (this.stopped) return;
    const spec = { holderIdentity: this.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(new Date()) };
    try {
      await this.client.mergePatch(paths.lease(this.name), { spec }, { discardResponse: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.client.create(paths.leases(), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.name, namespace: "kube-node-lease", ...(this.nodeUid ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: this.name, uid: this.nodeUid }] } : {}) },
        spec,
      });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
  }
}
