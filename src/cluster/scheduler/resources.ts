// What a pod asks of a node, in the scheduler's units: cpu millicores, memory and ephemeral-storage
// bytes, and one pod slot. Pure.
import type { Obj } from "../client/api.ts";
import { resourceAmount } from "../client/quantity.ts";

export type Resources = Record<string, number>;

function containerRequests(container: Obj): Resources {
  const out: Resources = {};
  const requests = (container.resources?.requests ?? {}) as Obj;
  const limits = (container.resources?.limits ?? {}) as Obj;
  // The API server defaults requests to limits; a pod created elsewhere may not have been defaulted.
  for (const name of new Set([...Object.keys(requests), ...Object.keys(limits)])) {
    out[name] = resourceAmount(name, requests[name] ?? limits[name]);
  }
  return out;
}

function add(into: Resources, more: Resources): void {
  for (const [name, value] of Object.entries(more)) into[name] = (into[name] ?? 0) + value;
}

/**
 * The effective request of a pod: the sum over its containers and native sidecars, or the largest
 * regular init container (plus the sidecars started before it) if that is more, resource by resource.
 */
export function podRequests(pod: Obj): Resources {
  const spec = (pod.spec ?? {}) as Obj;
  const total: Resources = {};
  const sidecars: Resources = {};
  const initPeak: Resources = {};
  for (const init of (spec.initContainers ?? []) as Obj[]) {
    const request = containerRequests(init);
    if (init.restartPolicy === "Always") {
      add(sidecars, request);
      continue;
    }
    const withSidecars = { ...sidecars };
    add(withSidecars, request);
    for (const [name, value] of Object.entries(withSidecars)) initPeak[name] = Math.max(initPeak[name] ?? 0, value);
  }
  for (const container of (spec.containers ?? []) as Obj[]) add(total, containerRequests(container));
  add(total, sidecars);
  for (const [name, value] of Object.entries(initPeak)) total[name] = Math.max(total[name] ?? 0, value);
  for (const [name, value] of Object.entries((spec.overhead ?? {}) as Obj)) total[name] = (total[name] ?? 0) + resourceAmount(name, value);
  return total;
}

/** A node's allocatable resources in the same units. */
export function nodeAllocatable(node: Obj): Resources {
  const allocatable = (node.status?.allocatable ?? node.status?.capacity ?? {}) as Obj;
  const out: Resources = {};
  for (const [name, value] of Object.entries(allocatable)) out[name] = resourceAmount(name, value);
  return out;
}
