// One scheduling decision as a pure function: filter every node, score the ones that fit, pick the best.
// When none fits, the FitError message is built exactly as kube-scheduler builds it: a sorted histogram of
// "<count> <reason>" over all nodes, then the preemption post-filter's own histogram.
import type { Obj } from "../client/api.ts";
import { filterNode, matchesTerm, nodeName, type NodeInfo } from "./filters.ts";
import type { Resources } from "./resources.ts";

/** Requests the scoring assumes for containers that ask for nothing (kube-scheduler's non-zero defaults). */
const DEFAULT_CPU_MILLIS = 100;
const DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024;

/** NodeResourcesFit (least allocated): the mean free share of cpu and memory after placing the pod, 0–100. */
export function leastAllocatedScore(podRequest: Resources, info: NodeInfo): number {
  let total = 0;
  for (const [name, fallback] of [["cpu", DEFAULT_CPU_MILLIS], ["memory", DEFAULT_MEMORY_BYTES]] as const) {
    const allocatable = info.allocatable[name] ?? 0;
    const requested = (info.requested[name] ?? 0) + (podRequest[name] || fallback);
    total += allocatable <= 0 || requested > allocatable ? 0 : ((allocatable - requested) * 100) / allocatable;
  }
  return total / 2;
}

/** NodeAffinity score before normalisation: the summed weights of the preferred terms the node matches. */
export function preferredAffinityWeight(pod: Obj, node: Obj): number {
  const preferred = (pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[];
  let sum = 0;
  for (const term of preferred) if (term.preference && matchesTerm(term.preference as Obj, node)) sum += Number(term.weight ?? 0);
  return sum;
}

export type ScheduleResult = { node: string; scores: Record<string, number> } | { node: undefined; message: string };

function histogram(reasons: string[]): string {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${count} ${reason}`).sort().join(", ");
}

/** The FailedScheduling / PodScheduled=False message for a pod no node accepts. */
export function fitErrorMessage(pod: Obj, nodeCount: number, failures: { reasons: string[]; resolvableByPreemption: boolean }[]): string {
  if (nodeCount === 0) return "no nodes available to schedule pods";
  const reasons = failures.flatMap((f) => f.reasons);
  let message = `0/${nodeCount} nodes are available: ${histogram(reasons)}.`;
  if (pod.spec?.preemptionPolicy === "Never") {
    message += " preemption: not eligible due to preemptionPolicy=Never.";
  } else {
    // Berth does not preempt; a node that only lacked resources is reported as having no victims.
    const post = failures.map((f) => (f.resolvableByPreemption ? "No preemption victims found for incoming pod" : "Preemption is not helpful for scheduling"));
    message += ` preemption: 0/${nodeCount} nodes are available: ${histogram(post)}.`;
  }
  return message;
}

/** Picks a node for the pod, or explains why none fits. `random` breaks ties (injectable for tests). */
export function schedulePod(pod: Obj, podRequest: Resources, nodes: NodeInfo[], random: () => number = Math.random): ScheduleResult {
  const feasible: NodeInfo[] = [];
  const failures: { reasons: string[]; resolvableByPreemption: boolean }[] = [];
  for (const info of nodes) {
    const result = filterNode(pod, podRequest, info);
    if (result.reasons.length === 0) feasible.push(info);
    else failures.push(result);
  }
  if (feasible.length === 0) return { node: undefined, message: fitErrorMessage(pod, nodes.length, failures) };
  const weights = feasible.map((info) => preferredAffinityWeight(pod, info.node));
  const maxWeight = Math.max(...weights);
  const scores: Record<string, number> = {};
  let best: string[] = [];
  let bestScore = -Infinity;
  feasible.forEach((info, i) => {
    // Default profile weights: NodeResourcesFit 1, NodeAffinity 2 (normalised to 0–100 over feasible nodes).
    const affinity = maxWeight > 0 ? ((weights[i] as number) * 100) / maxWeight : 0;
    const score = Math.round(leastAllocatedScore(podRequest, info)) + 2 * Math.round(affinity);
    const name = nodeName(info.node);
    scores[name] = score;
    if (score > bestScore) {
      bestScore = score;
      best = [name];
    } else if (score === bestScore) best.push(name);
  });
  return { node: best[Math.min(best.length - 1, Math.floor(random() * best.length))] as string, scores };
}
