// The scheduler's filter plugins as pure functions of (pod, node, what is already on the node). Each
// returns the reasons the node does not fit, worded as kube-scheduler words them, so the unschedulable
// message reads like a real cluster's. Order follows the default plugin order; like the real framework,
// a node is judged by the first plugin that rejects it.
import type { Obj } from "../client/api.ts";
import type { Resources } from "./resources.ts";

export interface NodeInfo {
  node: Obj;
  allocatable: Resources;
  /** Sum of the requests of pods bound (or being bound) to the node, including their pod slots. */
  requested: Resources;
  podCount: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export function nodeName(node: Obj): string {
  return String(node.metadata?.name ?? "");
}

/** A node's taints, plus the not-ready taint the node lifecycle controller would add. */
export function effectiveTaints(node: Obj): Taint[] {
  const taints = [...((node.spec?.taints ?? []) as Taint[])];
  const ready = ((node.status?.conditions ?? []) as Obj[]).find((c) => c.type === "Ready");
  if (ready?.status !== "True" && !taints.some((t) => t.key === "node.kubernetes.io/not-ready")) {
    taints.push({ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" });
  }
  return taints;
}

export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  const operator = toleration.operator ?? "Equal";
  if (!toleration.key) return operator === "Exists";
  if (toleration.key !== taint.key) return false;
  return operator === "Exists" || (toleration.value ?? "") === (taint.value ?? "");
}

/** One NodeSelectorRequirement against a label map (or the node's fields for matchFields). */
export function matchesRequirement(requirement: Obj, labels: Record<string, string>): boolean {
  const key = String(requirement.key);
  const values = ((requirement.values ?? []) as unknown[]).map(String);
  const has = Object.hasOwn(labels, key);
  const value = labels[key];
  switch (requirement.operator) {
    case "In":
      return has && values.includes(value as string);
    case "NotIn":
      return !has || !values.includes(value as string);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || values.length !== 1 || !/^-?\d+$/.test(value as string) || !/^-?\d+$/.test(values[0] as string)) return false;
      const actual = Number(value);
      const bound = Number(values[0]);
      return requirement.operator === "Gt" ? actual > bound : actual < bound;
    }
    default:
      return false;
  }
}

/** A NodeSelectorTerm: all expressions and fields must match; an empty term matches nothing. */
export function matchesTerm(term: Obj, node: Obj): boolean {
  const expressions = (term.matchExpressions ?? []) as Obj[];
  const fields = (term.matchFields ?? []) as Obj[];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = (node.metadata?.labels ?? {}) as Record<string, string>;
  return expressions.every((r) => matchesRequirement(r, labels)) && fields.every((r) => matchesRequirement(r, { "metadata.name": nodeName(node) }));
}

export function matchesNodeSelectorAndAffinity(pod: Obj, node: Obj): boolean {
  const labels = (node.metadata?.labels ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries((pod.spec?.nodeSelector ?? {}) as Record<string, string>)) {
    if (labels[key] !== value) return false;
  }
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution as Obj | undefined;
  if (required) {
    const terms = (required.nodeSelectorTerms ?? []) as Obj[];
    if (!terms.some((term) => matchesTerm(term, node))) return false;
  }
  return true;
}

/** Resources the pod asks for that the node cannot give (after what is already bound there). */
export function insufficientResources(podRequest: Resources, info: NodeInfo): string[] {
  const reasons: string[] = [];
  const maxPods = info.allocatable.pods ?? 110;
  if (info.podCount + 1 > maxPods) reasons.push("Too many pods");
  for (const [name, amount] of Object.entries(podRequest)) {
    if (amount <= 0 || name === "pods") continue;
    const allocatable = info.allocatable[name];
    // An extended resource the node does not advertise cannot be satisfied either.
    if (allocatable === undefined || amount > allocatable - (info.requested[name] ?? 0)) reasons.push(`Insufficient ${name}`);
  }
  return reasons;
}

export interface FilterResult {
  reasons: string[];
  /** Whether evicting pods could make room (resource reasons only); drives the preemption message. */
  resolvableByPreemption: boolean;
}

/** Runs the filters in plugin order; an empty reason list means the node fits. */
export function filterNode(pod: Obj, podRequest: Resources, info: NodeInfo): FilterResult {
  const node = info.node;
  const tolerations = (pod.spec?.tolerations ?? []) as Toleration[];
  if (node.spec?.unschedulable === true && !tolerations.some((t) => tolerates(t, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }))) {
    return { reasons: ["node(s) were unschedulable"], resolvableByPreemption: false };
  }
  if (pod.spec?.nodeName && pod.spec.nodeName !== nodeName(node)) {
    return { reasons: ["node(s) didn't match the requested node name"], resolvableByPreemption: false };
  }
  const untolerated = effectiveTaints(node).find((taint) => (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !tolerations.some((t) => tolerates(t, taint)));
  if (untolerated) {
    return { reasons: [`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ""}}`], resolvableByPreemption: false };
  }
  if (!matchesNodeSelectorAndAffinity(pod, node)) {
    return { reasons: ["node(s) didn't match Pod's node affinity/selector"], resolvableByPreemption: false };
  }
  const insufficient = insufficientResources(podRequest, info);
  return { reasons: insufficient, resolvableByPreemption: insufficient.length > 0 };
}
