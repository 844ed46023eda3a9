// The scheduler inside a running cluster: placement by requests, nodeSelector and taints across three
// nodes, the Unschedulable condition and FailedScheduling event with kube-scheduler's message, and
// watch-driven retries when a node gains a label or a pod frees its resources.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { call } from "../helpers/server.ts";
import { createPod, getPod, podEvents, startTestCluster, until, type Loose, type TestCluster } from "../kubelet/helpers.ts";

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ nodes: 3 });
});

after(async () => {
  await cluster?.dispose();
});

const sleeper = (name: string, spec: Loose = {}, container: Loose = {}): Loose => ({
  metadata: { name },
  spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"], ...container }], ...spec },
});

async function scheduledCondition(name: string): Promise<Loose> {
  return until(`${name} PodScheduled condition`, async () => {
    const pod = await getPod(cluster, "default", name);
    return pod?.status?.conditions?.find((c: Loose) => c.type === "PodScheduled");
  });
}

test("nodes are registered with machine capacity, labels, Ready and a Lease", async () => {
  const nodes = (await call(cluster, "GET", "/api/v1/nodes")).body.items;
  assert.deepEqual(nodes.map((n: Loose) => n.metadata.name), ["node-1", "node-2", "node-3"]);
  for (const node of nodes) {
    assert.equal(node.status.capacity.cpu, String(cpus().length));
    assert.equal(node.status.allocatable.pods, "110");
    assert.equal(node.metadata.labels["kubernetes.io/os"], "linux");
    assert.equal(node.metadata.labels["kubernetes.io/hostname"], node.metadata.name);
    assert.ok(node.metadata.labels["kubernetes.io/arch"]);
    assert.equal(node.status.conditions.find((c: Loose) => c.type === "Ready").status, "True");
    assert.ok(node.status.daemonEndpoints.kubeletEndpoint.Port > 0);
    const lease = await call(cluster, "GET", `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node.metadata.name}`);
    assert.equal(lease.body.spec.holderIdentity, node.metadata.name);
  }
});

test("too large a request: PodScheduled=False, FailedScheduling with the real message; retried when room appears", async () => {
  const cores = cpus().length;
  await createPod(cluster, "default", sleeper("huge", {}, { resources: { requests: { cpu: String(cores * 10) } } }));
  const condition = await scheduledCondition("huge");
  assert.equal(condition.status, "False");
  assert.equal(condition.reason, "Unschedulable");
  assert.equal(condition.message, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.");
  const events = await until("FailedScheduling event", async () => {
    const list = await podEvents(cluster, "default", "huge");
    return list.some((e: Loose) => e.reason === "FailedScheduling") ? list : undefined;
  });
  const failed = events.find((e: Loose) => e.reason === "FailedScheduling");
  assert.equal(failed.type, "Warning");
  assert.equal(failed.source.component, "default-scheduler");
  assert.equal(failed.message, condition.message);

  // Fill node-1's cpu completely, then a pod that needs half a core can only go elsewhere.
  const milli = cores * 1000;
  await createPod(cluster, "default", sleeper("hog", { nodeName: undefined, nodeSelector: { "kubernetes.io/hostname": "node-1" } }, { resources: { requests: { cpu: `${milli}m` } } }));
  const hog = await until("hog bound", async () => (await getPod(cluster, "default", "hog"))?.spec?.nodeName);
  assert.equal(hog, "node-1");
  await createPod(cluster, "default", sleeper("small", { nodeSelector: { "kubernetes.io/hostname": "node-1" } }, { resources: { requests: { cpu: "500m" } } }));
  const small = await scheduledCondition("small");
  assert.equal(small.status, "False");
  assert.equal(small.message, "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.");
  // Deleting the hog frees node-1: the waiting pod is scheduled without anyone touching it.
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/hog");
  const placed = await until("small bound after hog left", async () => (await getPod(cluster, "default", "small"))?.spec?.nodeName);
  assert.equal(placed, "node-1");
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/huge");
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/small");
});

test("nodeSelector and tolerations: a pod waits for a labelled node, a taint keeps others away", async () => {
  await createPod(cluster, "default", sleeper("wants-ssd", { nodeSelector: { disk: "ssd" } }));
  const waiting = await scheduledCondition("wants-ssd");
  assert.equal(waiting.message, "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
  await call(cluster, "PATCH", "/api/v1/nodes/node-2", { metadata: { labels: { disk: "ssd" } }, spec: { taints: [{ key: "dedicated", value: "ci", effect: "NoSchedule" }] } }, { "Content-Type": "application/merge-patch+json" });
  // node-2 now has the label but also a taint the pod does not tolerate.
  await until("untolerated taint reported", async () => {
    const condition = await scheduledCondition("wants-ssd");
    return /1 node\(s\) had untolerated taint \{dedicated: ci\}, 2 node\(s\) didn't match Pod's node affinity\/selector\./.test(condition.message) ? true : undefined;
  });
  await createPod(cluster, "default", sleeper("tolerant", { nodeSelector: { disk: "ssd" }, tolerations: [{ key: "dedicated", operator: "Equal", value: "ci", effect: "NoSchedule" }] }));
  const node = await until("tolerant bound", async () => (await getPod(cluster, "default", "tolerant"))?.spec?.nodeName);
  assert.equal(node, "node-2");
  const running = await until("tolerant Running", async () => ((await getPod(cluster, "default", "tolerant"))?.status?.phase === "Running" ? true : undefined));
  assert.ok(running);
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["node-1"] }, { key: "disk", operator: "DoesNotExist" }] }] },
    },
  };
  await createPod(cluster, "default", sleeper("affine", { affinity }));
  assert.equal(await until("affine bound", async () => (await getPod(cluster, "default", "affine"))?.spec?.nodeName), "node-3");
  for (const name of ["wants-ssd", "tolerant", "affine"]) await call(cluster, "DELETE", `/api/v1/namespaces/default/pods/${name}`);
});

test("a pod that ends frees its room while its object stays: a waiting pod is placed", async () => {
  const milli = cpus().length * 1000;
  const onNode3 = { nodeSelector: { "kubernetes.io/hostname": "node-3" } };
  // Fills node-3 until it exits; its object stays (Succeeded) until someone deletes it.
  await createPod(cluster, "default", sleeper("batch", { ...onNode3, restartPolicy: "Never" }, { command: ["sleep", "1"], resources: { requests: { cpu: `${milli}m` } } }));
  assert.equal(await until("batch bound", async () => (await getPod(cluster, "default", "batch"))?.spec?.nodeName), "node-3");
  await createPod(cluster, "default", sleeper("next", onNode3, { resources: { requests: { cpu: "500m" } } }));
  const placed = await until("next bound after batch ended", async () => (await getPod(cluster, "default", "next"))?.spec?.nodeName);
  assert.equal(placed, "node-3");
  assert.equal((await getPod(cluster, "default", "batch"))?.status?.phase, "Succeeded");
  for (const name of ["batch", "next"]) await call(cluster, "DELETE", `/api/v1/namespaces/default/pods/${name}`);
});
