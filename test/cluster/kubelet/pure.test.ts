import { test } from "node:test";
import assert from "node:assert/strict";
import type { Obj } from "../../../src/cluster/client/api.ts";
import { parseCriLogLine, type CriLogEntry } from "../../../src/cluster/runtime/cri-log.ts";
import { Backoff, formatDuration } from "../../../src/cluster/kubelet/backoff.ts";
import { ContainerConfigError, expand, expandCommand, resolveEnv } from "../../../src/cluster/kubelet/env.ts";
import { parseChunk, renderEntries, tail } from "../../../src/cluster/kubelet/logs.ts";
import { parseLogOptions } from "../../../src/cluster/kubelet/server.ts";
import { buildPodStatus, podPhase, type ContainerView, type PodView } from "../../../src/cluster/kubelet/status.ts";
import { chooseProtocol, decodeFrame, encodeFrame, exitStatus, parseResize } from "../../../src/cluster/kubelet/streams.ts";

const pod: Obj = {
  metadata: { name: "web", namespace: "ci", uid: "u1", labels: { app: "web" }, annotations: { note: "a\"b" } },
  spec: { nodeName: "node-1", serviceAccountName: "default", containers: [{ name: "main", resources: { limits: { cpu: "500m", memory: "64Mi" } } }] },
  status: { podIP: "10.0.0.1", hostIP: "127.0.0.1" },
};

test("$(VAR) expansion: known names replaced, unknown kept, $$ escapes", () => {
  const lookup = (name: string): string | undefined => ({ A: "x", B: "y" })[name];
  assert.equal(expand("$(A)-$(B)-$(C)", lookup), "x-y-$(C)");
  assert.equal(expand("$$(A) $ $", lookup), "$(A) $ $");
  assert.equal(expand("$(A", lookup), "$(A");
});

test("env: envFrom with prefix, valueFrom of every kind, expansion against earlier entries", () => {
  const container = {
    name: "main",
    resources: { limits: { cpu: "500m", memory: "64Mi" } },
    envFrom: [{ configMapRef: { name: "cfg" }, prefix: "CFG_" }],
    env: [
      { name: "HOST", value: "h" },
      { name: "URL", value: "http://$(HOST):$(PORT)/$(CFG_mode)" },
      { name: "PASS", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
      { name: "MODE", valueFrom: { configMapKeyRef: { name: "cfg", key: "mode" } } },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
      { name: "CPU_M", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
      { name: "MEM_MI", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
      { name: "REQ_MEM", valueFrom: { resourceFieldRef: { resource: "requests.memory" } } },
      { name: "OPT", valueFrom: { secretKeyRef: { name: "missing", key: "k", optional: true } } },
    ],
    command: ["echo", "$(POD)", "$$(POD)"],
  };
  const env = resolveEnv(pod, container, {
    configMaps: new Map([["cfg", { data: { mode: "fast" } }]]),
    secrets: new Map([["sec", { data: { password: Buffer.from("s3cret").toString("base64") } }]]),
    nodeAllocatable: { cpu: "2", memory: "4Gi" },
    serviceEnv: { KUBERNETES_SERVICE_HOST: "127.0.0.1" },
  });
  const map = Object.fromEntries(env.map((e) => [e.name, e.value]));
  assert.equal(map.URL, "http://h:$(PORT)/fast");
  assert.equal(map.PASS, "s3cret");
  assert.equal(map.MODE, "fast");
  assert.equal(map.POD, "web");
  assert.equal(map.APP, "web");
  assert.equal(map.NODE, "node-1");
  assert.equal(map.CPU, "1");
  assert.equal(map.CPU_M, "500");
  assert.equal(map.MEM_MI, "64");
  assert.equal(map.REQ_MEM, "0");
  assert.equal(map.KUBERNETES_SERVICE_HOST, "127.0.0.1");
  assert.equal("OPT" in map, false);
  assert.deepEqual(expandCommand(container, env).command, ["echo", "web", "$(POD)"]);
});

test("env: missing ConfigMaps, Secrets and keys are CreateContainerConfigError messages", () => {
  const sources = { configMaps: new Map([["cfg", { data: {} }]]), secrets: new Map(), nodeAllocatable: {}, serviceEnv: {} };
  const run = (env: Obj[]): unknown => resolveEnv(pod, { name: "main", env }, sources);
  assert.throws(() => run([{ name: "A", valueFrom: { configMapKeyRef: { name: "nope", key: "k" } } }]), new ContainerConfigError('configmap "nope" not found'));
  assert.throws(() => run([{ name: "A", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } }]), new ContainerConfigError("couldn't find key k in ConfigMap ci/cfg"));
  assert.throws(() => run([{ name: "A", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }]), new ContainerConfigError('secret "s" not found'));
});

test("back-off: first retry immediate, then 10 s doubling to 5 min, forgotten after 10 quiet minutes", () => {
  const b = new Backoff();
  assert.equal(b.remaining("k", 0, 0), 0);
  b.next("k", 0);
  assert.equal(b.remaining("k", 1000, 1000), 10_000);
  assert.equal(b.remaining("k", 1000, 11_000), 0);
  b.next("k", 11_000);
  assert.equal(b.delay("k"), 20_000);
  for (let i = 0; i < 10; i++) b.next("k", 12_000 + i);
  assert.equal(b.delay("k"), 300_000);
  assert.equal(b.remaining("k", 0, 12_010 + 600_001), 0);
  assert.equal(formatDuration(40_000), "40s");
  assert.equal(formatDuration(300_000), "5m0s");
});

function view(state: ContainerView["state"], extra: Partial<ContainerView> = {}): ContainerView {
  return { name: "main", image: "x", imageID: "", state, restartCount: 0, ready: false, started: false, sidecar: false, ...extra };
}

test("phase follows the kubelet's rules", () => {
  const base: PodView = { sandboxReady: true, hostIP: "127.0.0.1", initContainers: [], containers: [] };
  const done = (code: number): ContainerView["state"] => ({ terminated: { exitCode: code, reason: code ? "Error" : "Completed", finishedAt: "t" } });
  assert.equal(podPhase({}, { ...base, containers: [view({ waiting: { reason: "ContainerCreating" } })] }), "Pending");
  assert.equal(podPhase({}, { ...base, containers: [view({ running: { startedAt: "t" } })] }), "Running");
  assert.equal(podPhase({ restartPolicy: "Never" }, { ...base, containers: [view(done(0)), view(done(1))] }), "Failed");
  assert.equal(podPhase({ restartPolicy: "OnFailure" }, { ...base, containers: [view(done(0))] }), "Succeeded");
  assert.equal(podPhase({ restartPolicy: "OnFailure" }, { ...base, containers: [view(done(2))] }), "Running");
  assert.equal(podPhase({}, { ...base, containers: [view({ waiting: { reason: "CrashLoopBackOff" } }, { lastState: { exitCode: 1, reason: "Error", finishedAt: "t" } })] }), "Running");
  assert.equal(podPhase({ restartPolicy: "Never" }, { ...base, initContainers: [view(done(1))], containers: [view({ waiting: { reason: "PodInitializing" } })] }), "Failed");
  assert.equal(podPhase({}, { ...base, initContainers: [view({ running: { startedAt: "t" } })], containers: [view({ waiting: { reason: "PodInitializing" } })] }), "Pending");
});

test("status: conditions in upstream order with reasons, transition times kept while unchanged", () => {
  const v: PodView = { sandboxReady: true, hostIP: "127.0.0.1", podIP: "10.0.0.1", startTime: "s", initContainers: [view({ running: { startedAt: "t" } }, { name: "init" })], containers: [view({ waiting: { reason: "PodInitializing" } }, { name: "a" }), view({ waiting: { reason: "PodInitializing" } }, { name: "b" })] };
  const previous = { ...pod, status: { conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "sched" }, { type: "Ready", status: "False", lastTransitionTime: "old" }] } };
  const status = buildPodStatus(previous, v, new Date("2026-01-01T00:00:00Z"));
  assert.deepEqual(status.conditions.map((c: Obj) => `${c.type}=${c.status}`), ["PodReadyToStartContainers=True", "Initialized=False", "Ready=False", "ContainersReady=False", "PodScheduled=True"]);
  assert.equal(status.conditions[1].message, "containers with incomplete status: [init]");
  assert.equal(status.conditions[2].message, "containers with unready status: [a b]");
  assert.equal(status.conditions[2].lastTransitionTime, "old");
  assert.equal(status.conditions[3].lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(status.phase, "Pending");
  assert.deepEqual(status.podIPs, [{ ip: "10.0.0.1" }]);
  assert.equal(status.initContainerStatuses[0].name, "init");
});

function entries(lines: string[]): CriLogEntry[] {
  return lines.map((l) => parseCriLogLine(l) as CriLogEntry);
}

test("logs: partial entries join into lines; tail counts lines; timestamps prefix line starts", () => {
  const e = entries(["2026-01-01T00:00:00.000000001Z stdout F one", "2026-01-01T00:00:01.000000000Z stdout P tw", "2026-01-01T00:00:01.500000000Z stdout F o", "2026-01-01T00:00:02.000000000Z stderr F three", "2026-01-01T00:00:03.000000000Z stdout P four"]);
  assert.equal(renderEntries(e, false, { atLineStart: true }).toString(), "one\ntwo\nthree\nfour");
  assert.equal(renderEntries(tail(e, 2), false, { atLineStart: true }).toString(), "three\nfour");
  assert.equal(renderEntries(tail(e, 3), true, { atLineStart: true }).toString(), "2026-01-01T00:00:01.000000000Z two\n2026-01-01T00:00:02.000000000Z three\n2026-01-01T00:00:03.000000000Z four");
  assert.deepEqual(tail(e, 0), []);
  const chunk = parseChunk(Buffer.from("2026-01-01T00:00:00Z stdout F a\n2026-01-01T00:00:00Z std"));
  assert.equal(chunk.entries.length, 1);
  assert.equal(chunk.rest.toString(), "2026-01-01T00:00:00Z std");
});

test("log options: validation as the API server words it", () => {
  const now = new Date("2026-01-01T00:01:00Z");
  const options = parseLogOptions(new URLSearchParams("follow=true&tailLines=3&sinceSeconds=60&timestamps=true&limitBytes=10&previous=true"), now);
  assert.equal(options.follow && options.previous && options.timestamps, true);
  assert.equal(options.sinceNs, BigInt(Date.parse("2026-01-01T00:00:00Z")) * 1_000_000n);
  assert.throws(() => parseLogOptions(new URLSearchParams("tailLines=-1"), now), /tailLines: Invalid value: -1: must be greater than or equal to 0/);
  assert.throws(() => parseLogOptions(new URLSearchParams("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z"), now), /at most one of `sinceTime` or `sinceSeconds` may be specified/);
});

test("channel protocols: negotiation, binary and base64 frames, resize, exit status", () => {
  assert.equal(chooseProtocol(new Set(["v4.channel.k8s.io", "v5.channel.k8s.io"])), "v5.channel.k8s.io");
  assert.equal(chooseProtocol(new Set(["v4.base64.channel.k8s.io"])), "v4.base64.channel.k8s.io");
  assert.equal(chooseProtocol(new Set(["SPDY/3.1+portforward.k8s.io"])), false);
  assert.deepEqual(encodeFrame("v5.channel.k8s.io", 1, Buffer.from("hi")), Buffer.from([1, 104, 105]));
  assert.equal(encodeFrame("v4.base64.channel.k8s.io", 2, Buffer.from("hi")), "2aGk=");
  assert.deepEqual(decodeFrame("v4.base64.channel.k8s.io", Buffer.from("0aGk="), false), { channel: 0, payload: Buffer.from("hi") });
  assert.deepEqual(decodeFrame("v5.channel.k8s.io", Buffer.from([255, 0]), true), { channel: 255, payload: Buffer.from([0]) });
  assert.deepEqual(parseResize(Buffer.from('{"Width":80,"Height":24}')), { cols: 80, rows: 24 });
  assert.deepEqual(parseResize(Buffer.from('{"width":100,"height":40}')), { cols: 100, rows: 40 });
  assert.deepEqual(exitStatus(0, ["true"]), { metadata: {}, status: "Success" });
  assert.deepEqual(exitStatus(3, ["sh", "-c", "exit 3"]), {
    metadata: {},
    status: "Failure",
    message: "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: "3" }] },
  });
});

test("readiness gates: Ready waits for the gate's condition, ContainersReady does not", () => {
  const v: PodView = { sandboxReady: true, hostIP: "127.0.0.1", initContainers: [], containers: [view({ running: { startedAt: "t" } }, { ready: true, started: true })] };
  const gated = { ...pod, spec: { ...pod.spec, readinessGates: [{ conditionType: "example.com/lb" }] }, status: {} };
  const missing = buildPodStatus(gated, v, new Date());
  const ready = missing.conditions.find((c: Obj) => c.type === "Ready");
  assert.equal(ready.status, "False");
  assert.equal(ready.reason, "ReadinessGatesNotReady");
  assert.equal(ready.message, 'corresponding condition of pod readiness gate "example.com/lb" does not exist.');
  assert.equal(missing.conditions.find((c: Obj) => c.type === "ContainersReady").status, "True");
  const open = buildPodStatus({ ...gated, status: { conditions: [{ type: "example.com/lb", status: "True" }] } }, v, new Date());
  assert.equal(open.conditions.find((c: Obj) => c.type === "Ready").status, "True");
  assert.equal(open.conditions[0].type, "example.com/lb", "conditions the kubelet does not own come first");
});

test("securityContext: container runAsUser/runAsGroup win over the pod's; fsGroup joins the supplemental groups", async () => {
  const { containerUser } = await import("../../../src/cluster/kubelet/pod-worker.ts");
  const pod = (securityContext: Obj | undefined): Obj => ({ metadata: { name: "p" }, spec: { ...(securityContext ? { securityContext } : {}), containers: [] } });
  assert.equal(containerUser(pod(undefined), {}), undefined);
  assert.deepEqual(containerUser(pod({ runAsUser: 1000, runAsGroup: 1000 }), { securityContext: { runAsUser: 2000 } }), { runAsUser: 2000, runAsGroup: 1000 });
  assert.deepEqual(containerUser(pod({ fsGroup: 3000, supplementalGroups: [4000, 3000] }), { securityContext: { runAsGroup: 0 } }), { runAsGroup: 0, supplementalGroups: [4000, 3000] });
  assert.deepEqual(containerUser(pod({ runAsNonRoot: true }), {}), undefined);
});
