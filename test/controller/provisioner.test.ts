// The controller against a real API server (Berth's embedded one, over HTTPS only). The node is played
// by the test: it reports pod states through the pods/status API, as a kubelet does, and starts the agent
// program with the pod's own environment, as the container runtime would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { Controller, LaunchError } from "../../src/controller/provisioner.ts";
import { Log } from "./helpers.ts";
import { startAgentEndpoint } from "../../src/controller/agent-hub.ts";
import { createKubeClient, type KubeClient } from "../../src/kube/client.ts";
import { watchPods } from "../../src/kube/watch.ts";
import type { Cloud, PodTemplate } from "../../src/templates/model.ts";
import { agentBootstrap } from "../../src/templates/agent-container.ts";
import { startTestServer } from "../cluster/helpers/server.ts";

type NodeBehaviour = (pod: V1Pod, node: ScriptedNode) => Promise<void> | void;

/** Plays a node: reports statuses through the API and runs agents as processes. */
class ScriptedNode {
  readonly agents: ChildProcess[] = [];
  behaviour: NodeBehaviour = (pod, node) => node.runAgent(pod);
  private readonly client: KubeClient;
  private readonly seen = new Set<string>();

  constructor(client: KubeClient) {
    this.client = client;
  }

  async start(): Promise<() => Promise<void>> {
    const watch = await watchPods(this.client, { labelSelector: "jenkins=slave" });
    watch.on((event, pod) => {
      if (event !== "add" || this.seen.has(pod.metadata!.name!)) return;
      this.seen.add(pod.metadata!.name!);
      void this.behaviour(pod, this);
    });
    return async () => {
      await watch.stop();
      for (const a of this.agents) a.kill("SIGKILL");
    };
  }

  async status(pod: V1Pod, status: V1Pod["status"]): Promise<void> {
    await this.client.core.patchNamespacedPodStatus(
      { namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  async runAgent(pod: V1Pod): Promise<void> {
    if (!pod.spec!.containers.some((c) => c.name === "jnlp")) return;
    await this.status(pod, { phase: "Running", containerStatuses: [{ name: "jnlp", image: "node", imageID: "", ready: true, restartCount: 0, state: { running: { startedAt: new Date() } } }] });
    const jnlp = pod.spec!.containers.find((c) => c.name === "jnlp");
    if (!jnlp) return;
    const env = Object.fromEntries((jnlp.env ?? []).map((e) => [e.name, e.value ?? ""]));
    const [, ...args] = agentBootstrap();
    const workDir = mkdtempSync(join(tmpdir(), "berth-ws-"));
    const child = spawn(process.execPath, args, { env: { PATH: process.env["PATH"], ...env, JENKINS_AGENT_WORKDIR: workDir }, stdio: "ignore" });
    child.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
    this.agents.push(child);
  }
}

interface Setup {
  controller: Controller;
  client: KubeClient;
  node: ScriptedNode;
  controllerLog: string[];
  /** Another controller on the same cluster and agent endpoint: the first one after a restart. */
  restarted(): Promise<Controller>;
}

async function setup(t: { after(fn: () => unknown): void }, templates: PodTemplate[], cloudExtra: Partial<Cloud> = {}, options: { orphanGraceMs?: number; unschedulableMs?: number } = {}): Promise<Setup> {
  const server = await startTestServer();
  const endpoint = await startAgentEndpoint({ log: () => {} });
  const client = createKubeClient({ kubeconfig: server.kubeconfigPath });
  const node = new ScriptedNode(client);
  const stopNode = await node.start();
  const controllers: Controller[] = [];
  // One hook, in dependency order: controllers clean up through the API server before it stops.
  t.after(async () => {
    for (const c of controllers) await c.stop();
    await stopNode();
    await endpoint.close();
    await server.dispose();
  });
  const cloud: Cloud = { name: "kubernetes", namespace: "default", podLabels: { jenkins: "slave" }, podRetention: "never", templates, ...cloudExtra };
  const controllerLog: string[] = [];
  const start = async () => {
    const started = await Controller.start({
      clouds: [cloud],
      hub: endpoint.hub,
      controllerUrl: endpoint.url,
      connectionFor: () => ({ kubeconfig: server.kubeconfigPath }),
      failFast: { imagePullBackOffs: 1, unschedulableMs: options.unschedulableMs ?? 60_000 },
      quotaRetryMs: 200,
      orphanGraceMs: options.orphanGraceMs ?? 60_000,
      log: (line) => controllerLog.push(line),
    });
    controllers.push(started);
    return started;
  };
  const controller = await start();
  return { controller, client, node, controllerLog, restarted: start };
}

const MAVEN: PodTemplate = { name: "maven", label: "maven", containers: [{ name: "maven", image: "maven:3", command: "cat", ttyEnabled: true }] };

async function podNames(client: KubeClient): Promise<string[]> {
  return (await client.core.listNamespacedPod({ namespace: "default" })).items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
}

test("a build gets an agent from the matching template, runs a command, and its pod is deleted after", async (t) => {
  const { controller, client } = await setup(t, [MAVEN]);
  const log = new Log();
  const agent = await controller.requestAgent({ label: "maven", log });
  assert.match(agent.name, /^maven-[a-z0-9]{5}$/);
  const pod = await client.core.readNamespacedPod({ namespace: "default", name: agent.name });
  assert.equal(pod.metadata?.labels?.["jenkins/label"], "maven");
  assert.equal(pod.metadata?.annotations?.["berth.dev/template"], "maven");
  let out = "";
  const result = await agent.run(["sh", "-c", "echo hello from $JENKINS_AGENT_NAME"], { onOutput: (_s, d) => (out += d) }).result;
  assert.equal(result.code, 0);
  assert.equal(out, `hello from ${agent.name}\n`);
  await agent.release({ failed: false });
  assert.deepEqual(await podNames(client), []);
  assert.match(log.text, /Agent maven-\w+ is provisioned from template maven \(cloud kubernetes\)/);
  assert.match(log.text, /JENKINS_SECRET\n\s+value: "?\*{8}"?\n/);
  assert.ok(!log.text.includes(pod.spec!.containers.at(-1)!.env!.find((e) => e.name === "JENKINS_SECRET")!.value!));
  assert.match(log.text, /Created pod default\/maven-\w+/);
  assert.match(log.text, /Agent maven-\w+ is connected/);
  assert.match(log.text, /Deleted pod default\/maven-\w+/);
  // One create and one delete per agent; reads are the watch's list and nothing else.
  const stats = controller.apiStats()["kubernetes"]!;
  assert.equal(stats.writes, 2);
});

test("no template for the label, an unknown cloud, a cloud restricted to other folders: clear errors", async (t) => {
  const { controller } = await setup(t, [MAVEN], { usageRestricted: true });
  await assert.rejects(controller.requestAgent({ label: "golang", log: new Log() }), /no pod template of any cloud serves label 'golang'/);
  await assert.rejects(controller.requestAgent({ label: "maven", cloud: "other", log: new Log() }), /Cloud does not exist: other/);
  await assert.rejects(controller.requestAgent({ label: "maven", log: new Log(), permittedClouds: ["elsewhere"] }), /Not authorized to use Kubernetes cloud: kubernetes/);
  const agent = await controller.requestAgent({ label: "maven", log: new Log(), permittedClouds: ["kubernetes"] });
  await agent.release({ failed: false });
});

test("podRetention onFailure keeps the pod of a failed build and says how to inspect it", async (t) => {
  const { controller, client } = await setup(t, [{ ...MAVEN, podRetention: "onFailure" }]);
  const log = new Log();
  const agent = await controller.requestAgent({ label: "maven", log });
  await agent.release({ failed: true });
  assert.deepEqual(await podNames(client), [agent.name]);
  assert.match(log.text, new RegExp(`Pod default/${agent.name} is kept \\(podRetention onFailure\\)`));
  assert.match(log.text, new RegExp(`kubectl -n default logs ${agent.name} -c jnlp`));
  // A kept pod is not an orphan.
  assert.deepEqual(await controller.collectOrphans(Date.now() + 3_600_000), []);
});

test("an image that cannot be pulled fails the launch within seconds, with the reason", async (t) => {
  const { controller, client, node } = await setup(t, [MAVEN]);
  node.behaviour = async (pod, n) => {
    const waiting = (reason: string) => n.status(pod, { phase: "Pending", containerStatuses: [{ name: "maven", image: "maven:3", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: 'pull access denied for maven:3' } } }] });
    await waiting("ErrImagePull");
    await waiting("ImagePullBackOff");
  };
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "maven", log }), (e: unknown) => e instanceof LaunchError && e.verdict.reason === "ImagePullBackOff" && /cannot pull image "maven:3" for container maven/.test(e.message));
  assert.match(log.text, /container maven: waiting \(ErrImagePull\): pull access denied/);
  assert.deepEqual(await podNames(client), []);
});

test("a container that ends before the agent connects fails the launch and shows why", async (t) => {
  const { controller, node } = await setup(t, [MAVEN]);
  node.behaviour = (pod, n) =>
    n.status(pod, { phase: "Failed", containerStatuses: [{ name: "jnlp", image: "node", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: "Error" } } }] });
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "maven", log }), LaunchError);
  assert.match(log.text, /container jnlp: terminated \(Error, exit code 1\)/);
  assert.match(log.text, /ERROR: pod maven-\w+ failed/);
});

test("unschedulable for longer than allowed: the scheduler's message is the error", async (t) => {
  const { controller, node } = await setup(t, [MAVEN], {}, { unschedulableMs: 1000 });
  node.behaviour = (pod, n) => n.status(pod, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu." }] });
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "maven", log }), /could not be scheduled for 1s: 0\/1 nodes are available: 1 Insufficient cpu\./);
  assert.match(log.text, /cannot be scheduled: 0\/1 nodes are available/);
});

test("the API server refusing the pod fails at once with the server's message", async (t) => {
  const { controller } = await setup(t, [{ ...MAVEN, namespace: "no-such-namespace" }]);
  await assert.rejects(controller.requestAgent({ label: "maven", log: new Log() }), (e: unknown) => e instanceof LaunchError && /Unable to create pod no-such-namespace\/maven-\w+: .*not found/.test(e.message));
});

test("an agent that never connects: the build log says so after slaveConnectTimeout", async (t) => {
  const { controller, node } = await setup(t, [{ ...MAVEN, slaveConnectTimeout: 1 }]);
  node.behaviour = (pod, n) => n.status(pod, { phase: "Running" });
  const log = new Log();
  await assert.rejects(controller.requestAgent({ label: "maven", log }), (e: unknown) => e instanceof LaunchError && e.verdict.reason === "AgentTimeout");
  assert.match(log.text, /did not connect within 1s \(pod Running\)/);
});

test("containerCap: the second request waits for room and gets it when the first agent goes", async (t) => {
  const { controller, client } = await setup(t, [MAVEN], { containerCap: 1 });
  const first = await controller.requestAgent({ label: "maven", log: new Log() });
  const log = new Log();
  let secondDone = false;
  const second = controller.requestAgent({ label: "maven", log }).then((a) => {
    secondDone = true;
    return a;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(secondDone, false);
  assert.match(log.text, /Waiting for room: cloud kubernetes has 1 of at most 1 agent pods \(containerCap\)/);
  assert.equal((await podNames(client)).length, 1);
  await first.release({ failed: false });
  const agent = await second;
  assert.notEqual(agent.name, first.name);
  await agent.release({ failed: false });
});

test("resource quota exhausted: the launch waits, says so, and goes on when there is room", async (t) => {
  const { controller, client } = await setup(t, [MAVEN]);
  await client.core.createNamespacedResourceQuota({ namespace: "default", body: { metadata: { name: "pods" }, spec: { hard: { pods: "1" } } } });
  const first = await controller.requestAgent({ label: "maven", log: new Log() });
  const log = new Log();
  const second = controller.requestAgent({ label: "maven", log });
  await new Promise((r) => setTimeout(r, 500));
  assert.match(log.text, /Waiting: the resource quota of namespace default is exhausted; trying again in 0s\. \(.*exceeded quota/);
  await first.release({ failed: false });
  const agent = await second;
  await agent.release({ failed: false });
});

test("a pod deleted under a running build: the command fails as an infrastructure failure", async (t) => {
  const { controller, client } = await setup(t, [MAVEN]);
  const log = new Log();
  const agent = await controller.requestAgent({ label: "maven", log });
  const running = agent.run(["sleep", "30"]);
  await client.core.deleteNamespacedPod({ namespace: "default", name: agent.name, gracePeriodSeconds: 0 });
  const verdict = await agent.lost;
  assert.equal(verdict.infrastructure, true);
  const result = await running.result;
  assert.match(result.error ?? "", /was deleted \(infrastructure failure\)/);
  await agent.release({ failed: true });
});

test("idleMinutes: a released agent is reused by the next request with a matching label", async (t) => {
  const { controller, client } = await setup(t, [{ ...MAVEN, idleMinutes: 1 }]);
  const first = await controller.requestAgent({ label: "maven", log: new Log() });
  await first.release({ failed: false });
  const log = new Log();
  const again = await controller.requestAgent({ label: "maven", log });
  assert.equal(again.name, first.name);
  assert.match(log.text, /Reusing idle agent/);
  assert.equal((await again.run(["true"]).result).code, 0);
  assert.deepEqual(await podNames(client), [first.name]);
});

test("orphans: pods of this controller that no build owns are deleted after the grace period", async (t) => {
  const { controller, client } = await setup(t, [MAVEN], {}, { orphanGraceMs: 1000 });
  const agent = await controller.requestAgent({ label: "maven", log: new Log() });
  const labels = (await client.core.readNamespacedPod({ namespace: "default", name: agent.name })).metadata!.labels!;
  await client.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "left-behind", labels }, spec: { containers: [{ name: "c", image: "x" }] } } });
  for (let i = 0; i < 100 && !(await podNames(client)).includes("left-behind"); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await controller.collectOrphans(Date.now() + 5_000), ["left-behind"]);
  assert.deepEqual(await podNames(client), [agent.name]);
  await agent.release({ failed: false });
});

test("retries: a build whose pod is lost to the infrastructure runs again on a new pod; a failing script does not", async (t) => {
  const { controller, client } = await setup(t, [MAVEN]);
  const log = new Log();
  const names: string[] = [];
  const result = await controller.withAgent({ label: "maven", log, attempts: 2 }, async (agent) => {
    names.push(agent.name);
    if (names.length === 1) {
      await client.core.deleteNamespacedPod({ namespace: "default", name: agent.name, gracePeriodSeconds: 0 });
      await agent.run(["sleep", "30"]).result;
      return "not reached";
    }
    return "done";
  });
  assert.equal(result, "done");
  assert.equal(names.length, 2);
  assert.notEqual(names[0], names[1]);
  assert.match(log.text, /Retrying on a new pod \(attempt 2 of 2\) after an infrastructure failure: pod default\/maven-\w+ was deleted/);
  let calls = 0;
  await assert.rejects(
    controller.withAgent({ label: "maven", log: new Log(), attempts: 3 }, async () => {
      calls++;
      throw new Error("script returned exit code 1");
    }),
    /exit code 1/,
  );
  assert.equal(calls, 1);
});

test("after a restart, existing pods count against the caps, and those no build owns any more are cleaned up", async (t) => {
  const { controller, restarted, client, controllerLog } = await setup(t, [MAVEN], { containerCap: 1 });
  const before = await controller.requestAgent({ label: "maven", log: new Log() });
  // The controller "crashes": a new one starts, knowing nothing of the first one's agent.
  const after = await restarted();
  const log = new Log();
  let served = false;
  const waiting = after.requestAgent({ label: "maven", log }).then((a) => {
    served = true;
    return a;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(served, false);
  assert.match(log.text, /Waiting for room: cloud kubernetes has 1 of at most 1 agent pods/);
  assert.deepEqual(await after.collectOrphans(Date.now() + 120_000), [before.name]);
  const agent = await waiting;
  assert.notEqual(agent.name, before.name);
  assert.match(controllerLog.join("\n"), new RegExp(`Deleting orphaned agent pod default/${before.name}`));
  assert.deepEqual(await podNames(client), [agent.name]);
  await agent.release({ failed: false });
});
