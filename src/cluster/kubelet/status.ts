// The pod status the kubelet reports, computed from what it knows about the pod's containers: phase
// (kubelet getPhase rules), the conditions in upstream order, container and init container statuses.
// Pure: the pod worker keeps the container views up to date and calls `buildPodStatus`.
import type { Obj } from "../client/api.ts";

export type ContainerStateObj = { waiting: { reason: string; message?: string } } | { running: { startedAt: string } } | { terminated: TerminatedState };

export interface TerminatedState {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

export interface ContainerView {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  state: ContainerStateObj;
  lastState?: TerminatedState;
  restartCount: number;
  ready: boolean;
  started: boolean;
  /** An init container with restartPolicy Always (a native sidecar). */
  sidecar: boolean;
}

export interface PodView {
  sandboxReady: boolean;
  podIP?: string;
  hostIP: string;
  startTime?: string;
  initContainers: ContainerView[];
  containers: ContainerView[];
  /** Set when the kubelet ended the pod itself (deadline, deletion): the phase is then fixed. */
  terminal?: { phase: "Succeeded" | "Failed"; reason?: string; message?: string };
}

export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function isSucceeded(view: ContainerView): boolean {
  return "terminated" in view.state && view.state.terminated.exitCode === 0;
}

/** Regular init containers that have not completed (and sidecars not yet started). */
export function incompleteInit(view: PodView): string[] {
  return view.initContainers.filter((c) => (c.sidecar ? !c.started : !isSucceeded(c))).map((c) => c.name);
}

/** The pod phase (kubelet getPhase). */
export function podPhase(spec: Obj, view: PodView): "Pending" | "Running" | "Succeeded" | "Failed" {
  if (view.terminal) return view.terminal.phase;
  const policy = String(spec.restartPolicy ?? "Always");
  for (const init of view.initContainers) {
    if (init.sidecar) continue;
    if (policy === "Never" && "terminated" in init.state && init.state.terminated.exitCode !== 0) return "Failed";
  }
  if (view.initContainers.some((c) => !c.sidecar && !isSucceeded(c))) return "Pending";
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of view.containers) {
    if ("running" in c.state) running++;
    else if ("terminated" in c.state) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState) stopped++;
    else waiting++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (policy === "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

function containerStatus(c: ContainerView): Obj {
  return {
    name: c.name,
    state: c.state,
    lastState: c.lastState ? { terminated: c.lastState } : {},
    ready: c.ready,
    restartCount: c.restartCount,
    image: c.image,
    imageID: c.imageID,
    ...(c.containerID ? { containerID: c.containerID } : {}),
    started: c.started,
  };
}

/** The full status to write, keeping fields and conditions the kubelet does not own from `previous`. */
export function buildPodStatus(pod: Obj, view: PodView, now: Date): Obj {
  const spec = (pod.spec ?? {}) as Obj;
  const previous = (pod.status ?? {}) as Obj;
  const phase = podPhase(spec, view);
  const terminal = phase === "Succeeded" || phase === "Failed";
  const oldConditions = (previous.conditions ?? []) as Obj[];
  const condition = (type: string, ok: boolean, reason?: string, message?: string): Obj => {
    const old = oldConditions.find((c) => c.type === type);
    const status = ok ? "True" : "False";
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: old?.status === status ? old.lastTransitionTime : formatTime(now),
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  };
  const incomplete = incompleteInit(view);
  const unready = view.containers.filter((c) => !c.ready).map((c) => c.name);
  const readyReason = terminal ? "PodCompleted" : unready.length > 0 ? "ContainersNotReady" : undefined;
  const readyMessage = !terminal && unready.length > 0 ? `containers with unready status: [${unready.join(" ")}]` : undefined;
  const allReady = !terminal && unready.length === 0;
  // Readiness gates: conditions other controllers set; Ready needs them True too (ContainersReady does not).
  const gateProblems = ((spec.readinessGates ?? []) as Obj[]).flatMap((gate) => {
    const found = oldConditions.find((c) => c.type === gate.conditionType);
    if (!found) return [`corresponding condition of pod readiness gate "${String(gate.conditionType)}" does not exist.`];
    return found.status === "True" ? [] : [`the status of pod readiness gate "${String(gate.conditionType)}" is not "True", but ${String(found.status)}`];
  });
  const podReady = allReady && gateProblems.length === 0;
  const podReadyReason = allReady && gateProblems.length > 0 ? "ReadinessGatesNotReady" : readyReason;
  const podReadyMessage = allReady && gateProblems.length > 0 ? gateProblems.join(", ") : readyMessage;
  const owned = new Set(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
  const conditions = [
    ...oldConditions.filter((c) => !owned.has(c.type)),
    condition("PodReadyToStartContainers", view.sandboxReady),
    incomplete.length === 0 ? condition("Initialized", true) : condition("Initialized", false, "ContainersNotInitialized", `containers with incomplete status: [${incomplete.join(" ")}]`),
    condition("Ready", podReady, podReadyReason, podReadyMessage),
    condition("ContainersReady", allReady, readyReason, readyMessage),
    oldConditions.find((c) => c.type === "PodScheduled") ?? condition("PodScheduled", true),
  ];
  const status: Obj = {
    ...previous,
    phase,
    conditions,
    hostIP: view.hostIP,
    hostIPs: [{ ip: view.hostIP }],
    ...(view.podIP ? { podIP: view.podIP, podIPs: [{ ip: view.podIP }] } : {}),
    ...(view.startTime ? { startTime: view.startTime } : {}),
    containerStatuses: view.containers.map(containerStatus),
  };
  if (view.initContainers.length > 0) status.initContainerStatuses = view.initContainers.map(containerStatus);
  else delete status.initContainerStatuses;
  if (view.terminal?.reason) {
    status.reason = view.terminal.reason;
    status.message = view.terminal.message;
  }
  return status;
}
