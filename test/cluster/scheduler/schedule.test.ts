import { test } from "node:test";
import assert from "node:assert/strict";
import type { Obj } from "../../../src/cluster/client/api.ts";
import { filterNode, matchesRequirement, tolerates, type NodeInfo } from "../../../src/cluster/scheduler/filters.ts";
import { nodeAllocatable, podRequests } from "../../../src/cluster/scheduler/resources.ts";
import { fitErrorMessage, leastAllocatedScore, schedulePod } from "../../../src/cluster/scheduler/schedule.ts";

function node(name: string, extra: { labels?: Record<string, string>; taints?: Obj[]; cpu?: string; memory?: string; pods?: string; ready?: boolean; unschedulable?: boolean } = {}): Obj {
  const allocatable = { cpu: extra.cpu ?? "2", memory: extra.memory ?? "4Gi", pods: extra.pods ?? "110" };
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...extra.labels } },
    spec: { ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.unschedulable ? { unschedulable: true } : {}) },
    status: { allocatable, capacity: allocatable, conditions: [{ type: "Ready", status: extra.ready === false ? "False" : "True" }] },
  };
}

function info(n: Obj, requested: Record<string, number> = {}, podCount = 0): NodeInfo {
  return { node: n, allocatable: nodeAllocatable(n), requested, podCount };
}

function pod(spec: Obj = {}): Obj {
  return { metadata: { name: "web", namespace: "default" }, spec: { containers: [{ name: "main", image: "x" }], ...spec } };
}

test("pod requests: containers summed, sidecars added, the largest init container wins when larger; limits stand in for requests", () => {
  const p = pod({
    initContainers: [
      { name: "init", resources: { requests: { cpu: "3", memory: "1Gi" } } },
      { name: "sidecar", restartPolicy: "Always", resources: { requests: { cpu: "100m" } } },
    ],
    containers: [
      { name: "a", resources: { requests: { cpu: "250m", memory: "64Mi" } } },
      { name: "b", resources: { limits: { cpu: "500m" } } },
    ],
  });
  assert.deepEqual(podRequests(p), { cpu: 3000, memory: 1024 ** 3 });
  assert.deepEqual(podRequests(pod({ containers: [{ name: "a", resources: { requests: { cpu: "250m" } } }], initContainers: [{ name: "s", restartPolicy: "Always", resources: { requests: { cpu: "100m" } } }] })), { cpu: 350 });
});

test("node affinity operators", () => {
  const labels = { zone: "a", gen: "5" };
  assert.equal(matchesRequirement({ key: "zone", operator: "In", values: ["a", "b"] }, labels), true);
  assert.equal(matchesRequirement({ key: "zone", operator: "NotIn", values: ["a"] }, labels), false);
  assert.equal(matchesRequirement({ key: "missing", operator: "NotIn", values: ["a"] }, labels), true);
  assert.equal(matchesRequirement({ key: "zone", operator: "Exists" }, labels), true);
  assert.equal(matchesRequirement({ key: "zone", operator: "DoesNotExist" }, labels), false);
  assert.equal(matchesRequirement({ key: "gen", operator: "Gt", values: ["4"] }, labels), true);
  assert.equal(matchesRequirement({ key: "gen", operator: "Lt", values: ["4"] }, labels), false);
  assert.equal(matchesRequirement({ key: "zone", operator: "Gt", values: ["4"] }, labels), false);
});

test("tolerations: Exists without key matches everything, Equal compares values, effects must agree", () => {
  const taint = { key: "dedicated", value: "ci", effect: "NoSchedule" };
  assert.equal(tolerates({ operator: "Exists" }, taint), true);
  assert.equal(tolerates({ key: "dedicated", value: "ci" }, taint), true);
  assert.equal(tolerates({ key: "dedicated", value: "other" }, taint), false);
  assert.equal(tolerates({ key: "dedicated", operator: "Exists", effect: "NoExecute" }, taint), false);
});

test("filters report the first failing plugin with kube-scheduler's wording", () => {
  const request = podRequests(pod());
  assert.deepEqual(filterNode(pod(), request, info(node("n", { unschedulable: true }))).reasons, ["node(s) were unschedulable"]);
  assert.deepEqual(filterNode(pod({ nodeName: "other" }), request, info(node("n"))).reasons, ["node(s) didn't match the requested node name"]);
  assert.deepEqual(filterNode(pod(), request, info(node("n", { taints: [{ key: "dedicated", value: "ci", effect: "NoSchedule" }] }))).reasons, ["node(s) had untolerated taint {dedicated: ci}"]);
  assert.deepEqual(filterNode(pod(), request, info(node("n", { taints: [{ key: "soft", effect: "PreferNoSchedule" }] }))).reasons, []);
  assert.deepEqual(filterNode(pod(), request, info(node("n", { ready: false }))).reasons, ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]);
  assert.deepEqual(filterNode(pod({ nodeSelector: { disk: "ssd" } }), request, info(node("n"))).reasons, ["node(s) didn't match Pod's node affinity/selector"]);
  const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] }, { matchFields: [{ key: "metadata.name", operator: "In", values: ["n"] }] }] } } };
  assert.deepEqual(filterNode(pod({ affinity }), request, info(node("n"))).reasons, []);
  const big = pod({ containers: [{ name: "main", resources: { requests: { cpu: "3", memory: "8Gi" } } }] });
  assert.deepEqual(filterNode(big, podRequests(big), info(node("n"))).reasons, ["Insufficient cpu", "Insufficient memory"]);
  assert.deepEqual(filterNode(pod(), request, info(node("n", { pods: "2" }), {}, 2)).reasons, ["Too many pods"]);
  const half = pod({ containers: [{ name: "main", resources: { requests: { cpu: "1500m" } } }] });
  assert.deepEqual(filterNode(half, podRequests(half), info(node("n"), { cpu: 1000 }, 1)).reasons, ["Insufficient cpu"]);
});

test("the FitError message is the sorted histogram plus the preemption post-filter", () => {
  const big = pod({ containers: [{ name: "main", resources: { requests: { cpu: "64" } } }] });
  const result = schedulePod(big, podRequests(big), [info(node("a")), info(node("b")), info(node("c"))]);
  assert.equal(result.node, undefined);
  assert.equal((result as { message: string }).message, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.");
  const mixed = fitErrorMessage(pod(), 3, [
    { reasons: ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"], resolvableByPreemption: false },
    { reasons: ["Insufficient memory"], resolvableByPreemption: true },
    { reasons: ["Insufficient memory"], resolvableByPreemption: true },
  ]);
  assert.equal(mixed, "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.");
  assert.equal(fitErrorMessage(pod({ preemptionPolicy: "Never" }), 1, [{ reasons: ["Insufficient cpu"], resolvableByPreemption: true }]), "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
});

test("scores: the least allocated node wins, preferred affinity outweighs it", () => {
  const busy = info(node("busy"), { cpu: 1500, memory: 2 * 1024 ** 3 }, 3);
  const idle = info(node("idle"));
  assert.ok(leastAllocatedScore({}, idle) > leastAllocatedScore({}, busy));
  assert.equal(schedulePod(pod(), {}, [busy, idle]).node, "idle");
  const preferBusy = pod({ affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["busy"] }] } }] } } });
  assert.equal(schedulePod(preferBusy, {}, [busy, idle]).node, "busy");
});
