// The whole cluster through @kubernetes/client-node: Exec with exit codes and stdin, Log with follow,
// Watch of a pod's status going from Pending to Running to Succeeded; then the failure paths a
// controller must recognise: an image that cannot be pulled, a missing ConfigMap, a failing init
// container, a failing liveness probe, the active deadline, and volumes shared between containers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Readable, Writable } from "node:stream";
import { CoreV1Api, Exec, KubeConfig, Log, Watch, type V1Pod, type V1Status } from "@kubernetes/client-node";
import { call } from "../helpers/server.ts";
import { createPod, getPod, podEvents, startTestCluster, until, untilContainer, type Loose, type TestCluster } from "./helpers.ts";

let cluster: TestCluster;
let kc: KubeConfig;
let core: CoreV1Api;

before(async () => {
  cluster = await startTestCluster({ nodes: 1, runtime: { imagePolicy: { unavailable: ["*:broken"] } } });
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  await cluster?.dispose();
});

function collector(): { stream: Writable; text: () => string } {
  let text = "";
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, callback) {
        text += chunk.toString();
        callback();
      },
    }),
    text: () => text,
  };
}

const sleeper = (name: string): V1Pod => ({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }], terminationGracePeriodSeconds: 5 } });

test("Exec: stdout, stderr, stdin and exit codes on the status channel", async () => {
  await core.createNamespacedPod({ namespace: "default", body: sleeper("exec-target") });
  await untilContainer(cluster, "default", "exec-target", "main", (s) => s.state.running !== undefined);
  const exec = new Exec(kc);
  const runExec = async (command: string[], input?: string): Promise<{ out: string; err: string; status: V1Status }> => {
    const out = collector();
    const err = collector();
    const stdin = input === undefined ? null : Readable.from([Buffer.from(input)]);
    const status = await new Promise<V1Status>((resolve) => {
      void exec.exec("default", "exec-target", "main", command, out.stream, err.stream, stdin, false, resolve);
    });
    return { out: out.text(), err: err.text(), status };
  };
  const ok = await runExec(["sh", "-c", "echo hello; echo oops >&2"]);
  assert.equal(ok.status.status, "Success");
  assert.equal(ok.out, "hello\n");
  assert.equal(ok.err, "oops\n");
  const failed = await runExec(["sh", "-c", "exit 42"]);
  assert.equal(failed.status.status, "Failure");
  assert.equal(failed.status.reason, "NonZeroExitCode");
  assert.equal(failed.status.details?.causes?.[0]?.message, "42");
  const missing = await runExec(["no-such-program"]);
  assert.equal(missing.status.details?.causes?.[0]?.message, "126");
  await core.deleteNamespacedPod({ name: "exec-target", namespace: "default" });
});

test("Log with follow streams until the container exits; Watch sees Pending, Running, Succeeded", async () => {
  const phases: string[] = [];
  const watch = new Watch(kc);
  const abort = await watch.watch("/api/v1/namespaces/default/pods", { fieldSelector: "metadata.name=counter" }, (_type, pod: V1Pod) => {
    const phase = pod.status?.phase;
    if (phase && phases.at(-1) !== phase) phases.push(phase);
  }, () => undefined);
  await createPod(cluster, "default", {
    metadata: { name: "counter" },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"] }] },
  });
  await untilContainer(cluster, "default", "counter", "main", (s) => s.state.running !== undefined);
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  const ended = new Promise<void>((resolve) => out.on("finish", () => resolve()));
  await new Log(kc).log("default", "counter", "main", out, { follow: true });
  await ended;
  assert.equal(text, "line 1\nline 2\nline 3\nline 4\nline 5\n");
  await until("phase Succeeded", () => (phases.includes("Succeeded") ? true : undefined));
  abort.abort();
  assert.deepEqual(phases.filter((p) => p !== "Pending").slice(0, 2), ["Running", "Succeeded"]);
  const pod = await getPod(cluster, "default", "counter");
  assert.equal(pod.status.containerStatuses[0].state.terminated.reason, "Completed");
  assert.equal(pod.status.conditions.find((c: Loose) => c.type === "Ready").reason, "PodCompleted");
  const afterwards = await core.readNamespacedPodLog({ name: "counter", namespace: "default", container: "main", tailLines: 2 });
  assert.equal(afterwards, "line 4\nline 5\n");
});

test("an unavailable image: ErrImagePull, then ImagePullBackOff with events", async () => {
  await createPod(cluster, "default", { metadata: { name: "no-image" }, spec: { containers: [{ name: "main", image: "registry.example/tool:broken", command: ["true"] }] } });
  const status = await untilContainer(cluster, "default", "no-image", "main", (s) => s.state.waiting?.reason === "ImagePullBackOff");
  assert.match(status.state.waiting.message, /^Back-off pulling image "registry.example\/tool:broken"/);
  const events = await podEvents(cluster, "default", "no-image");
  assert.ok(events.some((e: Loose) => e.reason === "Failed" && /^Failed to pull image "registry.example\/tool:broken"/.test(e.message)), "Failed pull event");
  assert.ok(events.some((e: Loose) => e.reason === "BackOff" && e.message === 'Back-off pulling image "registry.example/tool:broken"'), "BackOff event");
  const pod = await getPod(cluster, "default", "no-image");
  assert.equal(pod.status.phase, "Pending");
});

test("configuration errors: a missing ConfigMap, a container without command", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "bad-config" },
    spec: {
      containers: [
        { name: "env", image: "busybox", command: ["true"], env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "absent", key: "x" } } }] },
        { name: "nocmd", image: "busybox" },
      ],
    },
  });
  const env = await untilContainer(cluster, "default", "bad-config", "env", (s) => s.state.waiting?.reason === "CreateContainerConfigError");
  assert.equal(env.state.waiting.message, 'configmap "absent" not found');
  const nocmd = await untilContainer(cluster, "default", "bad-config", "nocmd", (s) => s.state.waiting?.reason === "CreateContainerConfigError");
  assert.match(nocmd.state.waiting.message, /set command/);
});

test("init containers run in order before the containers; a failing one under Never fails the pod", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "init-order" },
    spec: {
      restartPolicy: "Never",
      volumes: [{ name: "work", emptyDir: {} }],
      initContainers: [
        { name: "first", image: "busybox", command: ["sh", "-c", "echo first >> /work/order"], volumeMounts: [{ name: "work", mountPath: "/work" }] },
        { name: "second", image: "busybox", command: ["sh", "-c", "echo second >> /work/order"], volumeMounts: [{ name: "work", mountPath: "/work" }] },
      ],
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "cat /work/order"], volumeMounts: [{ name: "work", mountPath: "/work" }] }],
    },
  });
  await until("init-order Succeeded", async () => ((await getPod(cluster, "default", "init-order"))?.status?.phase === "Succeeded" ? true : undefined));
  if (cluster.runtime.info().capabilities.podIsolation) {
    assert.equal(await core.readNamespacedPodLog({ name: "init-order", namespace: "default" }), "first\nsecond\n");
  }
  await createPod(cluster, "default", {
    metadata: { name: "init-fails" },
    spec: { restartPolicy: "Never", initContainers: [{ name: "setup", image: "busybox", terminationMessagePolicy: "FallbackToLogsOnError", command: ["sh", "-c", "echo cannot reach the database; exit 5"] }], containers: [{ name: "main", image: "busybox", command: ["true"] }] },
  });
  const pod = await until("init-fails Failed", async () => {
    const p = await getPod(cluster, "default", "init-fails");
    return p?.status?.phase === "Failed" ? p : undefined;
  });
  assert.equal(pod.status.initContainerStatuses[0].state.terminated.exitCode, 5);
  assert.equal(pod.status.initContainerStatuses[0].state.terminated.message, "cannot reach the database\n");
  assert.equal(pod.status.containerStatuses[0].state.waiting.reason, "PodInitializing");
  assert.equal(pod.status.conditions.find((c: Loose) => c.type === "Initialized").reason, "ContainersNotInitialized");
});

test("a native sidecar keeps running beside the containers and stops when they are done", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "with-sidecar" },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 2,
      initContainers: [{ name: "proxy", image: "busybox", restartPolicy: "Always", command: ["sleep", "3600"] }],
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "sleep 0.5"] }],
    },
  });
  await untilContainer(cluster, "default", "with-sidecar", "main", (s) => s.state.running !== undefined);
  const running = await getPod(cluster, "default", "with-sidecar");
  assert.ok(running.status.initContainerStatuses[0].state.running, "sidecar running with the main container");
  const done = await until("with-sidecar Succeeded", async () => {
    const p = await getPod(cluster, "default", "with-sidecar");
    return p?.status?.phase === "Succeeded" ? p : undefined;
  });
  assert.ok(done.status.initContainerStatuses[0].state.terminated, "sidecar stopped");
});

test("probes: readiness gates Ready, a failing liveness probe restarts the container", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "probed" },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "main",
          image: "busybox",
          command: ["sh", "-c", "sleep 3600"],
          readinessProbe: { exec: { command: ["sh", "-c", "test -e /proc/self"] }, periodSeconds: 1 },
          livenessProbe: { exec: { command: ["sh", "-c", "echo unhealthy; exit 1"] }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    },
  });
  await untilContainer(cluster, "default", "probed", "main", (s) => s.ready === true);
  const restarted = await untilContainer(cluster, "default", "probed", "main", (s) => s.restartCount >= 1);
  assert.ok(restarted.lastState.terminated, "previous instance terminated");
  const events = await podEvents(cluster, "default", "probed");
  assert.ok(events.some((e: Loose) => e.reason === "Unhealthy" && e.message === "Liveness probe failed: unhealthy\n"), "Unhealthy event");
  assert.ok(events.some((e: Loose) => e.reason === "Killing" && /failed liveness probe, will be restarted/.test(e.message)), "Killing event");
  await core.deleteNamespacedPod({ name: "probed", namespace: "default", gracePeriodSeconds: 0 });
});

test("activeDeadlineSeconds ends the pod as Failed with reason DeadlineExceeded", async () => {
  await createPod(cluster, "default", { metadata: { name: "deadline" }, spec: { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
  const pod = await until("deadline Failed", async () => {
    const p = await getPod(cluster, "default", "deadline");
    return p?.status?.phase === "Failed" ? p : undefined;
  });
  assert.equal(pod.status.reason, "DeadlineExceeded");
  assert.equal(pod.status.message, "Pod was active on the node longer than the specified deadline");
});

test("volumes: an emptyDir shared by two containers, configMap and secret files, downward API, env from a secret", async (t) => {
  if (!cluster.runtime.info().capabilities.podIsolation) {
    t.skip("volumes appear at their mountPath only with pod isolation (root)");
    return;
  }
  await call(cluster, "POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "settings" }, data: { "mode.txt": "fast" } });
  await call(cluster, "POST", "/api/v1/namespaces/default/secrets", { metadata: { name: "creds" }, stringData: { token: "t0k3n" } });
  await createPod(cluster, "default", {
    metadata: { name: "shared", labels: { app: "shared" } },
    spec: {
      volumes: [
        { name: "scratch", emptyDir: { medium: "Memory" } },
        { name: "settings", configMap: { name: "settings" } },
        { name: "creds", secret: { secretName: "creds" } },
        { name: "info", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
        { name: "token", projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3600 } }, { configMap: { name: "settings", items: [{ key: "mode.txt", path: "mode" }] } }] } },
      ],
      containers: [
        { name: "writer", image: "busybox", command: ["sh", "-c", "echo from-writer > /out/msg; sleep 3600"], volumeMounts: [{ name: "scratch", mountPath: "/out" }] },
        {
          name: "reader",
          image: "busybox",
          command: ["sh", "-c", "while [ ! -s /in/msg ]; do sleep 0.1; done; cat /in/msg /cfg/mode.txt; echo; cat /secret/token; echo; cat /info/labels; echo; echo $TOKEN; cut -c1-3 /sa/token; cat /sa/mode; echo; sleep 3600"],
          env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } }],
          volumeMounts: [
            { name: "scratch", mountPath: "/in" },
            { name: "settings", mountPath: "/cfg", readOnly: true },
            { name: "creds", mountPath: "/secret", readOnly: true },
            { name: "info", mountPath: "/info" },
            { name: "token", mountPath: "/sa" },
          ],
        },
      ],
    },
  });
  const logs = await until("reader output", async () => {
    const text = await core.readNamespacedPodLog({ name: "shared", namespace: "default", container: "reader" }).catch(() => "");
    return text.endsWith("fast\n") && text.split("\n").length >= 8 ? text : undefined;
  });
  assert.equal(logs, 'from-writer\nfast\nt0k3n\napp="shared"\nt0k3n\neyJ\nfast\n');
  await core.deleteNamespacedPod({ name: "shared", namespace: "default", gracePeriodSeconds: 1 });
  await until("shared gone", async () => ((await getPod(cluster, "default", "shared")) === undefined ? true : undefined));
});

test("graceful deletion: SIGTERM, the grace period, SIGKILL, then the object is removed", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "stubborn" },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "trap 'echo got TERM' TERM; while true; do sleep 0.1; done"] }] },
  });
  await untilContainer(cluster, "default", "stubborn", "main", (s) => s.state.running !== undefined);
  const started = Date.now();
  const deleted = await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/stubborn");
  assert.ok(deleted.body.metadata.deletionTimestamp, "graceful: the object stays with a deletionTimestamp");
  await until("stubborn removed", async () => ((await getPod(cluster, "default", "stubborn")) === undefined ? true : undefined));
  assert.ok(Date.now() - started >= 900, "the grace period was honoured");
  const events = await podEvents(cluster, "default", "stubborn");
  assert.ok(events.some((e: Loose) => e.reason === "Killing" && e.message === "Stopping container main"), "Killing event");
});

test("a persistentVolumeClaim is a directory that outlives the pod; hostPath DirectoryOrCreate", async (t) => {
  if (!cluster.runtime.info().capabilities.podIsolation) {
    t.skip("volumes appear at their mountPath only with pod isolation (root)");
    return;
  }
  await call(cluster, "POST", "/api/v1/namespaces/default/persistentvolumeclaims", { metadata: { name: "cache" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
  const hostDir = `${cluster.dataDir}/host-dir`;
  const volumes = [
    { name: "cache", persistentVolumeClaim: { claimName: "cache" } },
    { name: "host", hostPath: { path: hostDir, type: "DirectoryOrCreate" } },
  ];
  const mounts = [
    { name: "cache", mountPath: "/cache" },
    { name: "host", mountPath: "/host" },
  ];
  await createPod(cluster, "default", { metadata: { name: "writer" }, spec: { restartPolicy: "Never", volumes, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo kept > /cache/file; echo host > /host/file"], volumeMounts: mounts }] } });
  await until("writer done", async () => ((await getPod(cluster, "default", "writer"))?.status?.phase === "Succeeded" ? true : undefined));
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/writer");
  await createPod(cluster, "default", { metadata: { name: "reader" }, spec: { restartPolicy: "Never", volumes, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "cat /cache/file /host/file"], volumeMounts: mounts }] } });
  await until("reader done", async () => ((await getPod(cluster, "default", "reader"))?.status?.phase === "Succeeded" ? true : undefined));
  assert.equal(await core.readNamespacedPodLog({ name: "reader", namespace: "default" }), "kept\nhost\n");
  const claim = await call(cluster, "GET", "/api/v1/namespaces/default/persistentvolumeclaims/cache");
  assert.equal(claim.body.status.phase, "Bound");
});

test("a missing Secret volume: FailedMount, then the pod starts once the Secret exists", async () => {
  await createPod(cluster, "default", {
    metadata: { name: "needs-secret" },
    spec: { volumes: [{ name: "s", secret: { secretName: "later" } }], containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"], volumeMounts: [{ name: "s", mountPath: "/s" }] }], terminationGracePeriodSeconds: 1 },
  });
  const events = await until("FailedMount", async () => {
    const list = await podEvents(cluster, "default", "needs-secret");
    return list.find((e: Loose) => e.reason === "FailedMount");
  });
  assert.equal(events.message, 'MountVolume.SetUp failed for volume "s" : secret "later" not found');
  assert.equal((await getPod(cluster, "default", "needs-secret")).status.containerStatuses[0].state.waiting.reason, "ContainerCreating");
  await call(cluster, "POST", "/api/v1/namespaces/default/secrets", { metadata: { name: "later" }, stringData: { k: "v" } });
  await untilContainer(cluster, "default", "needs-secret", "main", (s) => s.state.running !== undefined);
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/needs-secret");
});

test("a new image for a running container restarts it with that image", async () => {
  await createPod(cluster, "default", { metadata: { name: "upgrade" }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "3600"] }] } });
  await untilContainer(cluster, "default", "upgrade", "main", (s) => s.state.running !== undefined);
  await call(cluster, "PATCH", "/api/v1/namespaces/default/pods/upgrade", { spec: { containers: [{ name: "main", image: "busybox:1.37" }] } }, { "Content-Type": "application/strategic-merge-patch+json" });
  const status = await untilContainer(cluster, "default", "upgrade", "main", (s) => s.restartCount === 1 && s.state.running !== undefined);
  assert.equal(status.image, "busybox:1.37");
  assert.equal(status.imageID, "docker.io/library/busybox:1.37");
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/upgrade");
});

test("exec over the older channel protocols: v4 binary and v4 base64 text frames", async () => {
  await createPod(cluster, "default", sleeper("protocols"));
  await untilContainer(cluster, "default", "protocols", "main", (s) => s.state.running !== undefined);
  const { default: WebSocket } = await import("ws");
  const execWith = (protocol: string): Promise<{ frames: { channel: number; text: string }[]; negotiated: string }> =>
    new Promise((resolve, reject) => {
      const url = `${cluster.url.replace("https", "wss")}/api/v1/namespaces/default/pods/protocols/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%207&stdout=true&stderr=true`;
      const ws = new WebSocket(url, [protocol], { ca: cluster.caCertPem, headers: { Authorization: `Bearer ${cluster.adminToken}` } });
      const frames: { channel: number; text: string }[] = [];
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (protocol.includes("base64")) {
          assert.equal(isBinary, false);
          const text = data.toString();
          frames.push({ channel: text.charCodeAt(0) - 48, text: Buffer.from(text.slice(1), "base64").toString() });
        } else frames.push({ channel: data[0] as number, text: data.subarray(1).toString() });
      });
      ws.on("close", () => resolve({ frames, negotiated: ws.protocol }));
      ws.on("error", reject);
    });
  for (const protocol of ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"]) {
    const { frames, negotiated } = await execWith(protocol);
    assert.equal(negotiated, protocol);
    assert.deepEqual(frames[0], { channel: 1, text: "" }, "the empty hello on stdout comes first");
    assert.equal(frames.filter((f) => f.channel === 1).map((f) => f.text).join(""), "hi\n");
    const status = JSON.parse(frames.find((f) => f.channel === 3)?.text ?? "{}");
    assert.equal(status.details.causes[0].message, "7");
  }
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/protocols");
});
