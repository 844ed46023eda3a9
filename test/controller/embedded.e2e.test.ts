// The whole workflow on the embedded cluster: the controller creates the pod through the API server,
// the scheduler binds it, the kubelet starts its containers with the process runtime, the agent in the
// jnlp container fetches its program from the controller and connects back, commands run in it, and the
// pod is cleaned up. Failures are reported with their real reasons, fast.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LaunchError } from "../../src/controller/provisioner.ts";
import type { PodTemplate } from "../../src/templates/model.ts";
import { until } from "../cluster/kubelet/helpers.ts";
import { Log, startEmbeddedController } from "./helpers.ts";

function setup(t: { after(fn: () => unknown): void }, templates: PodTemplate[]) {
  return startEmbeddedController(t, templates);
}

const SLEEPER = { image: "busybox", command: "sleep 3600" };

test("request -> pod scheduled and started -> agent connects -> command runs -> pod deleted", async (t) => {
  const { controller, client } = await setup(t, [{ name: "build", label: "build", containers: [{ name: "tools", ...SLEEPER }] }]);
  const log = new Log();
  const agent = await controller.requestAgent({ label: "build", log });
  let out = "";
  const result = await agent.run(["sh", "-c", "echo agent $JENKINS_AGENT_NAME in $(pwd)"], { onOutput: (_s, d) => (out += d) }).result;
  assert.equal(result.code, 0);
  assert.equal(out, `agent ${agent.name} in /home/jenkins/agent\n`);
  assert.match(log.text, /scheduled to node node-1/);
  assert.match(log.text, /container jnlp: running/);
  assert.match(log.text, /Agent build-\w+ is connected after \d+\.\d+s \(controller \d+ms, API create \d+ms, scheduling \d+ms, containers \d+ms, agent start and connect \d+ms\)/);
  assert.match(log.text, /\[event\] Scheduled: Successfully assigned default\/build-\w+ to node-1/);
  await agent.release({ failed: false });
  await until("the pod to be gone", async () => ((await client.core.listNamespacedPod({ namespace: "default" })).items.length === 0 ? true : undefined));
});

test("an unavailable image fails the launch with ImagePullBackOff, within seconds", async (t) => {
  const { controller } = await setup(t, [{ name: "bad", label: "bad", containers: [{ name: "tools", image: "maven:broken", command: "sleep 3600" }] }]);
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "bad", log }), (e: unknown) => e instanceof LaunchError && e.verdict.reason === "ImagePullBackOff" && /maven:broken/.test(e.message));
});

test("an unschedulable pod fails with the scheduler's message", async (t) => {
  const { controller } = await setup(t, [{ name: "huge", label: "huge", containers: [{ name: "tools", ...SLEEPER, resourceRequestCpu: "500" }] }]);
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "huge", log }), /could not be scheduled for 1s: 0\/1 nodes are available: 1 Insufficient cpu/);
});

test("an agent container that exits before connecting fails the launch and shows its last lines", async (t) => {
  const { controller } = await setup(t, [{ name: "quitter", label: "quitter", containers: [{ name: "jnlp", image: "busybox", command: "sh -c", args: "'echo cannot start the agent; exit 3'" }] }]);
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "quitter", log }), (e: unknown) => e instanceof LaunchError && /container jnlp terminated \(Error, exit code 3\)/.test(e.message));
  assert.match(log.text, /cannot start the agent/);
});

test("activeDeadlineSeconds ends the pod; the build learns the reason", async (t) => {
  const { controller } = await setup(t, [{ name: "short", label: "short", activeDeadlineSeconds: 3 }]);
  const agent = await controller.requestAgent({ label: "short", log: new Log() });
  const running = agent.run(["sleep", "60"]);
  const verdict = await agent.lost;
  assert.equal(verdict.reason, "DeadlineExceeded");
  assert.equal(verdict.infrastructure, false);
  assert.match((await running.result).error ?? "", /DeadlineExceeded/);
  await agent.release({ failed: true });
});

test("the API server refusing the pod, and an exhausted quota that frees up", async (t) => {
  const { controller, client } = await setup(t, [
    { name: "lost", label: "lost", namespace: "no-such-namespace" },
    { name: "build", label: "build" },
  ]);
  await assert.rejects(controller.requestAgent({ label: "lost", log: new Log() }), /Unable to create pod no-such-namespace\/lost-\w+: .*not found/);
  await client.core.createNamespacedResourceQuota({ namespace: "default", body: { metadata: { name: "one-pod" }, spec: { hard: { pods: "1" } } } });
  const first = await controller.requestAgent({ label: "build", log: new Log() });
  const log = new Log();
  const second = controller.requestAgent({ label: "build", log });
  await until("the quota message", () => (/resource quota of namespace default is exhausted/.test(log.text) ? true : undefined));
  await first.release({ failed: false });
  await (await second).release({ failed: false });
});

test("a pod deleted under a build: infrastructure failure, and with retries the build runs again on a new pod", async (t) => {
  const { controller, client } = await setup(t, [{ name: "build", label: "build" }]);
  const log = new Log();
  const names: string[] = [];
  const result = await controller.withAgent({ label: "build", log, attempts: 2 }, async (agent) => {
    names.push(agent.name);
    if (names.length === 1) {
      const running = agent.run(["sleep", "60"]);
      await client.core.deleteNamespacedPod({ namespace: "default", name: agent.name });
      return (await running.result).error ?? "no error";
    }
    return `second attempt on ${agent.name}`;
  });
  assert.equal(result, `second attempt on ${names[1]}`);
  assert.match(log.text, /Retrying on a new pod \(attempt 2 of 2\) after an infrastructure failure/);
});
