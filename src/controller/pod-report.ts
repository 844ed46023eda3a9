// What happens to an agent pod, in words for the build log, and when to stop waiting for it. Pure: each
// function gets the pod as last seen (and as seen before) and returns lines or a verdict.
//
// The plugin waits out slaveConnectTimeout (1000 s by default) for most failures and prints terse
// `[PodInfo]` dumps; Berth says what changed, once, and fails as soon as the outcome is certain.
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

export interface FailFastPolicy {
  /** Image pull back-offs tolerated before the launch fails (a registry hiccup heals; a wrong tag does not). */
  imagePullBackOffs: number;
  /** How long a pod may stay unschedulable before the launch fails, in milliseconds. */
  unschedulableMs: number;
}

export const DEFAULT_FAIL_FAST: FailFastPolicy = { imagePullBackOffs: 1, unschedulableMs: 60_000 };

/** Waiting reasons that no amount of waiting fixes. */
const HOPELESS_WAITING = new Set(["InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff", "ErrImageNeverPull"]);

/** Reasons for which the pod, not the build, is at fault: the build may be retried on a new pod. */
const INFRASTRUCTURE_REASONS = new Set(["Evicted", "NodeLost", "Preempted", "NodeShutdown", "Terminated", "Shutdown", "UnexpectedAdmissionError", "EvictionByEvictionAPI", "DeletionByTaintManager", "DeletionByPodGC"]);

export interface Verdict {
  reason: string;
  message: string;
  /** True when the pod went away for reasons outside the build (eviction, node loss, preemption). */
  infrastructure: boolean;
  /** Containers whose last log lines explain the failure. */
  showLogsOf?: string[];
}

/** What a launch remembers between observations of its pod. */
export interface LaunchWatch {
  imagePullBackOffs: number;
  inImagePullBackOff: Set<string>;
  unschedulableSince?: number;
}

export function newLaunchWatch(): LaunchWatch {
  return { imagePullBackOffs: 0, inImagePullBackOff: new Set() };
}

function statuses(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

function describeState(s: V1ContainerStatus): string {
  const st = s.state;
  if (st?.terminated) {
    const t = st.terminated;
    return `terminated (${t.reason ?? "exited"}, exit code ${t.exitCode}${t.signal ? `, signal ${t.signal}` : ""})${t.message ? `: ${t.message.trim()}` : ""}`;
  }
  if (st?.running) return "running";
  if (st?.waiting) return `waiting (${st.waiting.reason ?? "unknown"})${st.waiting.message ? `: ${st.waiting.message.trim()}` : ""}`;
  return "unknown";
}

/** The lines worth printing for the change from `previous` to `current`. */
export function describeChanges(previous: V1Pod | undefined, current: V1Pod): string[] {
  const lines: string[] = [];
  const name = `${current.metadata?.namespace}/${current.metadata?.name}`;
  if (current.spec?.nodeName && current.spec.nodeName !== previous?.spec?.nodeName) lines.push(`pod ${name} scheduled to node ${current.spec.nodeName}`);
  const unschedulable = current.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  const before = previous?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unschedulable && unschedulable.message !== before?.message) lines.push(`pod ${name} cannot be scheduled: ${unschedulable.message ?? unschedulable.reason ?? "no reason given"}`);
  const earlier = new Map(statuses(previous).map((s) => [s.name, describeState(s)]));
  for (const s of statuses(current)) {
    const now = describeState(s);
    if (earlier.get(s.name) !== now) lines.push(`container ${s.name}: ${now}${s.restartCount ? ` (restarts: ${s.restartCount})` : ""}`);
  }
  const phase = current.status?.phase;
  if (phase && phase !== previous?.status?.phase && phase !== "Pending") {
    lines.push(`pod ${name} is ${phase}${current.status?.reason ? ` (${current.status.reason}${current.status.message ? `: ${current.status.message}` : ""})` : ""}`);
  }
  return lines;
}

/**
 * Whether the launch of an agent in `pod` has failed for good. `agentContainer` is the container the
 * agent runs in; `agentConnected` says whether it already connected (then only the pod's end matters).
 */
export function judgeLaunch(pod: V1Pod, watch: LaunchWatch, policy: FailFastPolicy, now: number, agentContainer: string, agentConnected: boolean): Verdict | undefined {
  const status = pod.status;
  const disrupted = status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
  if (pod.metadata?.deletionTimestamp && !disrupted) {
    // Someone or something deleted the pod under the build (the build's own clean-up is not watched).
    return { reason: "PodDeleted", message: `pod ${pod.metadata.namespace}/${pod.metadata.name} was deleted`, infrastructure: true };
  }
  if (status?.phase === "Failed" || status?.phase === "Succeeded" || (disrupted && pod.metadata?.deletionTimestamp)) {
    const ended = statuses(pod).filter((s) => s.state?.terminated && s.state.terminated.exitCode !== 0);
    const reason = status?.reason ?? disrupted?.reason ?? ended[0]?.state?.terminated?.reason ?? (status?.phase === "Succeeded" ? "Completed" : "Failed");
    const infrastructure = INFRASTRUCTURE_REASONS.has(reason) || Boolean(disrupted);
    // Without a reason of its own, the pod failed because its containers did: say which and how.
    const detail = status?.message ?? disrupted?.message ?? (ended.length ? ended.map((s) => `container ${s.name} ${describeState(s)}`).join("; ") : undefined);
    return {
      reason,
      message: `pod ${pod.metadata?.name} ${status?.phase === "Succeeded" ? "finished" : "failed"}: ${detail && !status?.reason && !disrupted ? detail : `${reason}${detail ? `: ${detail}` : ""}`}`,
      infrastructure,
      showLogsOf: terminatedContainers(pod),
    };
  }
  if (agentConnected) return undefined;

  for (const s of statuses(pod)) {
    const waiting = s.state?.waiting;
    if (waiting?.reason === "ImagePullBackOff" || waiting?.reason === "ErrImagePull") {
      if (waiting.reason === "ImagePullBackOff" && !watch.inImagePullBackOff.has(s.name)) {
        watch.inImagePullBackOff.add(s.name);
        watch.imagePullBackOffs++;
      } else if (waiting.reason === "ErrImagePull") {
        watch.inImagePullBackOff.delete(s.name);
      }
      if (watch.imagePullBackOffs >= policy.imagePullBackOffs && waiting.reason === "ImagePullBackOff") {
        return { reason: "ImagePullBackOff", message: `cannot pull image "${s.image}" for container ${s.name}${waiting.message ? `: ${waiting.message}` : ""}`, infrastructure: false };
      }
    } else if (waiting?.reason && HOPELESS_WAITING.has(waiting.reason)) {
      return {
        reason: waiting.reason,
        message: `container ${s.name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`,
        infrastructure: false,
        ...(waiting.reason === "CrashLoopBackOff" ? { showLogsOf: [s.name] } : {}),
      };
    }
    const terminated = s.state?.terminated;
    // A helper container that finished its work (exit 0) is fine; the agent's container ending is not.
    if (terminated && (s.name === agentContainer || terminated.exitCode !== 0)) {
      return {
        reason: terminated.reason ?? "Terminated",
        message: `container ${s.name} ${describeState(s)} before the agent connected`,
        infrastructure: false,
        showLogsOf: [s.name],
      };
    }
  }

  const unschedulable = status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable");
  if (unschedulable) {
    watch.unschedulableSince ??= now;
    if (now - watch.unschedulableSince >= policy.unschedulableMs) {
      return {
        reason: "Unschedulable",
        message: `pod ${pod.metadata?.name} could not be scheduled for ${Math.round(policy.unschedulableMs / 1000)}s: ${unschedulable.message ?? "no reason given"}`,
        infrastructure: false,
      };
    }
  } else {
    delete watch.unschedulableSince;
  }
  return undefined;
}

function terminatedContainers(pod: V1Pod): string[] {
  return statuses(pod)
    .filter((s) => s.state?.terminated && s.state.terminated.exitCode !== 0)
    .map((s) => s.name);
}
