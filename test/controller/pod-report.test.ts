import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { DEFAULT_FAIL_FAST, describeChanges, judgeLaunch, newLaunchWatch } from "../../src/controller/pod-report.ts";

function pod(status: V1Pod["status"], spec: Partial<NonNullable<V1Pod["spec"]>> = {}): V1Pod {
  return { metadata: { name: "agent-1", namespace: "ci" }, spec: { containers: [{ name: "jnlp" }, { name: "maven" }], restartPolicy: "Never", ...spec }, status };
}

function container(name: string, state: V1ContainerStatus["state"], extra: Partial<V1ContainerStatus> = {}): V1ContainerStatus {
  return { name, image: `${name}:1`, imageID: "", ready: false, restartCount: 0, state, ...extra };
}

test("describeChanges says what changed, once", () => {
  const scheduled = pod({ phase: "Pending", containerStatuses: [container("jnlp", { waiting: { reason: "ContainerCreating" } })] }, { nodeName: "node-1" });
  assert.deepEqual(describeChanges(undefined, scheduled), ["pod ci/agent-1 scheduled to node node-1", "container jnlp: waiting (ContainerCreating)"]);
  assert.deepEqual(describeChanges(scheduled, scheduled), []);
  const running = pod({ phase: "Running", containerStatuses: [container("jnlp", { running: {} })] }, { nodeName: "node-1" });
  assert.deepEqual(describeChanges(scheduled, running), ["container jnlp: running", "pod ci/agent-1 is Running"]);
  const failed = pod({ phase: "Failed", reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline", containerStatuses: [container("jnlp", { terminated: { exitCode: 137, reason: "Error" } })] }, { nodeName: "node-1" });
  assert.deepEqual(describeChanges(running, failed), [
    "container jnlp: terminated (Error, exit code 137)",
    "pod ci/agent-1 is Failed (DeadlineExceeded: Pod was active on the node longer than the specified deadline)",
  ]);
  const pending = pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu." }] });
  assert.deepEqual(describeChanges(undefined, pending), ["pod ci/agent-1 cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu."]);
});

test("image pull back-off fails after the tolerated number of back-offs", () => {
  const watch = newLaunchWatch();
  const policy = { ...DEFAULT_FAIL_FAST, imagePullBackOffs: 2 };
  const state = (reason: string) => pod({ phase: "Pending", containerStatuses: [container("maven", { waiting: { reason, message: "not found" } })] });
  assert.equal(judgeLaunch(state("ErrImagePull"), watch, policy, 0, "jnlp", false), undefined);
  assert.equal(judgeLaunch(state("ImagePullBackOff"), watch, policy, 0, "jnlp", false), undefined);
  assert.equal(judgeLaunch(state("ImagePullBackOff"), watch, policy, 0, "jnlp", false), undefined, "the same back-off seen twice counts once");
  assert.equal(judgeLaunch(state("ErrImagePull"), watch, policy, 0, "jnlp", false), undefined);
  const verdict = judgeLaunch(state("ImagePullBackOff"), watch, policy, 0, "jnlp", false);
  assert.equal(verdict?.reason, "ImagePullBackOff");
  assert.match(verdict!.message, /cannot pull image "maven:1" for container maven: not found/);
  assert.equal(verdict!.infrastructure, false);
});

test("hopeless waiting reasons fail at once", () => {
  const verdict = judgeLaunch(pod({ containerStatuses: [container("maven", { waiting: { reason: "CreateContainerConfigError", message: 'secret "x" not found' } })] }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", false);
  assert.deepEqual(verdict, { reason: "CreateContainerConfigError", message: 'container maven cannot start: CreateContainerConfigError: secret "x" not found', infrastructure: false });
});

test("a container ending before the agent connects fails the launch, with its logs; a helper finishing cleanly does not", () => {
  const ended = judgeLaunch(pod({ containerStatuses: [container("jnlp", { terminated: { exitCode: 1, reason: "Error" } })] }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", false);
  assert.equal(ended?.reason, "Error");
  assert.deepEqual(ended?.showLogsOf, ["jnlp"]);
  assert.match(ended!.message, /container jnlp terminated \(Error, exit code 1\) before the agent connected/);
  assert.equal(judgeLaunch(pod({ containerStatuses: [container("maven", { terminated: { exitCode: 0, reason: "Completed" } })] }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", false), undefined);
  // Once the agent is connected, container ends are the build's business.
  assert.equal(judgeLaunch(pod({ phase: "Running", containerStatuses: [container("maven", { terminated: { exitCode: 2, reason: "Error" } })] }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", true), undefined);
});

test("unschedulable for longer than the policy allows", () => {
  const watch = newLaunchWatch();
  const p = pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient cpu." }] });
  assert.equal(judgeLaunch(p, watch, DEFAULT_FAIL_FAST, 1_000, "jnlp", false), undefined);
  assert.equal(judgeLaunch(p, watch, DEFAULT_FAIL_FAST, 30_000, "jnlp", false), undefined);
  const verdict = judgeLaunch(p, watch, DEFAULT_FAIL_FAST, 61_000, "jnlp", false);
  assert.equal(verdict?.reason, "Unschedulable");
  assert.match(verdict!.message, /could not be scheduled for 60s: 0\/3 nodes are available: 3 Insufficient cpu\./);
});

test("pod failures: deadline is the build's, eviction and disruption are infrastructure", () => {
  const deadline = judgeLaunch(pod({ phase: "Failed", reason: "DeadlineExceeded", message: "too long" }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", true);
  assert.deepEqual([deadline?.reason, deadline?.infrastructure], ["DeadlineExceeded", false]);
  const evicted = judgeLaunch(pod({ phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." }), newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", true);
  assert.deepEqual([evicted?.reason, evicted?.infrastructure], ["Evicted", true]);
  const disrupted = judgeLaunch(
    { ...pod({ phase: "Running", conditions: [{ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler", message: "preempted" }] }), metadata: { name: "agent-1", deletionTimestamp: new Date() } },
    newLaunchWatch(),
    DEFAULT_FAIL_FAST,
    0,
    "jnlp",
    true,
  );
  assert.deepEqual([disrupted?.reason, disrupted?.infrastructure], ["PreemptionByScheduler", true]);
});

test("a pod being deleted under the build is an infrastructure failure", () => {
  const deleting = { ...pod({ phase: "Running" }), metadata: { name: "agent-1", namespace: "ci", deletionTimestamp: new Date() } };
  const verdict = judgeLaunch(deleting, newLaunchWatch(), DEFAULT_FAIL_FAST, 0, "jnlp", true);
  assert.deepEqual(verdict, { reason: "PodDeleted", message: "pod ci/agent-1 was deleted", infrastructure: true });
});
