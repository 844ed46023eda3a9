// The scheduler component: watches nodes and pods through the API, keeps the per-node accounting of
// bound pods, places each pending pod with `schedulePod` and binds it through pods/binding. Pods no node
// accepts wait in an unschedulable set until a node or a pod changes in a way that could help (the
// watch drives every retry; nothing polls).
import { ApiStatusError, paths, type ApiClient, type Obj } from "../client/api.ts";
import { EventRecorder } from "../client/events.ts";
import { Informer, keyOf } from "../client/informer.ts";
import { nodeAllocatable, podRequests, type Resources } from "./resources.ts";
import { nodeName, type NodeInfo } from "./filters.ts";
import { schedulePod } from "./schedule.ts";

export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

export interface SchedulerOptions {
  client: ApiClient;
  schedulerName?: string;
}

interface Placement {
  node: string;
  request: Resources;
}

function isTerminal(pod: Obj): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

/** What about a node matters for placement (heartbeats alone must not re-queue every pending pod). */
function nodeFingerprint(node: Obj): string {
  const ready = ((node.status?.conditions ?? []) as Obj[]).find((c) => c.type === "Ready")?.status;
  return JSON.stringify([node.metadata?.labels, node.spec?.taints, node.spec?.unschedulable, node.status?.allocatable, ready]);
}

export class Scheduler {
  private readonly client: ApiClient;
  private readonly name: string;
  private readonly events: EventRecorder;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  /** Pods occupying a node: bound ones from the watch, plus those whose binding is in flight. */
  private readonly placements = new Map<string, Placement>();
  private readonly assumed = new Set<string>();
  private readonly usage = new Map<string, { requested: Resources; podCount: number }>();
  private readonly active = new Set<string>();
  private readonly unschedulable = new Set<string>();
  /** Per-pod back-off after failed attempts (1 s doubling to 10 s), so churn cannot hot-loop retries. */
  private readonly attempts = new Map<string, { count: number; until: number }>();
  /** Unschedulable pods that a change made worth retrying, waiting only for their back-off. */
  private readonly retryPending = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private stopped = false;

  constructor(options: SchedulerOptions) {
    this.client = options.client;
    this.name = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.events = new EventRecorder(this.client, { component: this.name });
    this.nodes = new Informer(this.client, paths.nodes(), {}, {
      add: () => this.retryUnschedulable(),
      update: (oldNode, newNode) => {
        if (nodeFingerprint(oldNode) !== nodeFingerprint(newNode)) this.retryUnschedulable();
      },
      delete: () => undefined,
    });
    // As kube-scheduler does: a pod that ended holds no room, so it leaves the watch (as a deletion) when it
    // ends, and the scheduler decodes none of its later changes (the kubelet's final delete among them).
    this.pods = new Informer(this.client, paths.pods(), { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" }, {
      add: (pod) => this.podChanged(undefined, pod),
      update: (oldPod, newPod) => this.podChanged(oldPod, newPod),
      delete: (pod) => this.podDeleted(pod),
    });
  }

  async start(): Promise<void> {
    this.nodes.start();
    await this.nodes.synced;
    this.pods.start();
    await this.pods.synced;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.events.close();
    this.nodes.stop();
    this.pods.stop();
  }

  // -------------------------------------------------------------------------------- accounting

  private setPlacement(key: string, placement: Placement | undefined): void {
    const previous = this.placements.get(key);
    if (previous) this.adjust(previous, -1);
    if (placement) {
      this.placements.set(key, placement);
      this.adjust(placement, 1);
    } else this.placements.delete(key);
  }

  private adjust(placement: Placement, sign: 1 | -1): void {
    const usage = this.usage.get(placement.node) ?? { requested: {}, podCount: 0 };
    usage.podCount += sign;
    for (const [name, value] of Object.entries(placement.request)) usage.requested[name] = (usage.requested[name] ?? 0) + sign * value;
    this.usage.set(placement.node, usage);
  }

  private podChanged(oldPod: Obj | undefined, pod: Obj): void {
    const key = keyOf(pod);
    const node = pod.spec?.nodeName as string | undefined;
    if (node) {
      this.assumed.delete(key);
      this.unschedulable.delete(key);
      this.attempts.delete(key);
      this.retryPending.delete(key);
      this.active.delete(key);
      if (isTerminal(pod)) {
        if (this.placements.has(key)) {
          this.setPlacement(key, undefined);
          this.retryUnschedulable();
        }
      } else if (!this.placements.has(key)) this.setPlacement(key, { node, request: podRequests(pod) });
      return;
    }
    if (!this.isOurs(pod)) return;
    // Our own status patch (PodScheduled=False) comes back as an update; only a spec change is news.
    if (oldPod && this.unschedulable.has(key) && JSON.stringify(oldPod.spec) === JSON.stringify(pod.spec)) return;
    this.unschedulable.delete(key);
    this.active.add(key);
    this.kick();
  }

  private podDeleted(pod: Obj): void {
    const key = keyOf(pod);
    this.active.delete(key);
    this.unschedulable.delete(key);
    this.assumed.delete(key);
    this.attempts.delete(key);
    this.retryPending.delete(key);
    this.events.forget(String(pod.metadata?.uid ?? ""));
    if (this.placements.has(key)) {
      this.setPlacement(key, undefined);
      this.retryUnschedulable();
    }
  }

  private isOurs(pod: Obj): boolean {
    return (
      !pod.spec?.nodeName &&
      !pod.metadata?.deletionTimestamp &&
      !isTerminal(pod) &&
      (pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME) === this.name &&
      ((pod.spec?.schedulingGates ?? []) as unknown[]).length === 0
    );
  }

  private retryUnschedulable(): void {
    if (this.unschedulable.size === 0) return;
    const now = Date.now();
    for (const key of this.unschedulable) {
      if ((this.attempts.get(key)?.until ?? 0) <= now) this.active.add(key);
      else this.retryPending.add(key);
    }
    for (const key of this.active) this.unschedulable.delete(key);
    this.armRetryTimer();
    this.kick();
  }

  /** One timer for the earliest back-off among pods already due for a retry. */
  private armRetryTimer(): void {
    if (this.retryTimer || this.retryPending.size === 0 || this.stopped) return;
    const earliest = Math.min(...[...this.retryPending].map((key) => this.attempts.get(key)?.until ?? 0));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const now = Date.now();
      for (const key of this.retryPending) {
        if ((this.attempts.get(key)?.until ?? 0) > now) continue;
        this.retryPending.delete(key);
        if (this.unschedulable.delete(key)) this.active.add(key);
      }
      this.armRetryTimer();
      this.kick();
    }, Math.max(1, earliest - Date.now()));
    this.retryTimer.unref();
  }

  // -------------------------------------------------------------------------------- scheduling

  private kick(): void {
    if (this.draining || this.stopped) return;
    this.draining = true;
    // One macrotask later, so a burst of watch events is scheduled as one batch.
    setImmediate(() => {
      this.draining = false;
      this.drain();
    });
  }

  private nodeInfos(): NodeInfo[] {
    return [...this.nodes.cache.values()].map((node) => {
      const usage = this.usage.get(nodeName(node));
      return { node, allocatable: nodeAllocatable(node), requested: usage?.requested ?? {}, podCount: usage?.podCount ?? 0 };
    });
  }

  private drain(): void {
    while (this.active.size > 0 && !this.stopped) {
      const key = this.active.values().next().value as string;
      this.active.delete(key);
      const pod = this.pods.cache.get(key);
      if (!pod || !this.isOurs(pod) || this.assumed.has(key)) continue;
      const request = podRequests(pod);
      const result = schedulePod(pod, request, this.nodeInfos());
      if (result.node === undefined) {
        this.unschedulable.add(key);
        const count = (this.attempts.get(key)?.count ?? 0) + 1;
        this.attempts.set(key, { count, until: Date.now() + Math.min(1000 * 2 ** (count - 1), 10_000) });
        this.reportUnschedulable(pod, result.message);
        continue;
      }
      this.assumed.add(key);
      this.setPlacement(key, { node: result.node, request });
      void this.bind(key, pod, result.node);
    }
  }

  private async bind(key: string, pod: Obj, node: string): Promise<void> {
    const { namespace, name, uid } = pod.metadata as Obj;
    try {
      await this.client.create(`${paths.pod(namespace, name)}/binding`, {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name, namespace, uid },
        target: { apiVersion: "v1", kind: "Node", name: node },
      }, { discardResponse: true });
      this.events.emit({ kind: "Pod", namespace, name, uid }, "Normal", "Scheduled", `Successfully assigned ${namespace}/${name} to ${node}`);
    } catch (error) {
      if (!this.assumed.has(key)) return;
      this.assumed.delete(key);
      this.setPlacement(key, undefined);
      // Gone or bound elsewhere: the watch tells the rest. Anything else is retried shortly.
      if (error instanceof ApiStatusError && (error.code === 404 || error.code === 409)) return;
      setTimeout(() => {
        this.active.add(key);
        this.kick();
      }, 1000).unref();
    }
  }

  private reportUnschedulable(pod: Obj, message: string): void {
    const { namespace, name, uid } = pod.metadata as Obj;
    this.events.emit({ kind: "Pod", namespace, name, uid }, "Warning", "FailedScheduling", message);
    const current = ((pod.status?.conditions ?? []) as Obj[]).find((c) => c.type === "PodScheduled");
    if (current?.status === "False" && current.reason === "Unschedulable" && current.message === message) return;
    const condition = { type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastProbeTime: null, lastTransitionTime: current?.status === "False" ? current.lastTransitionTime : new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
    void this.client.strategicPatch(`${paths.pod(namespace, name)}/status`, { status: { conditions: [condition] } }, { discardResponse: true }).catch(() => undefined);
  }
}
