// securityContext end to end (root only, as CI runs): runAsUser / runAsGroup / supplementalGroups / fsGroup
// reach the process runtime through the kubelet, the containers and every exec in them run as that user,
// emptyDirs are world-writable so containers running as different users share them, and fsGroup makes the
// pod's volumes belong to that group.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { call } from "../helpers/server.ts";
import { createPod, podEvents, startTestCluster, until, untilContainer, type Loose, type TestCluster } from "../kubelet/helpers.ts";

const isRoot = process.getuid?.() === 0;
let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster();
});

after(async () => {
  await cluster?.dispose();
});

/** pods/exec over WebSocket (v5): stdout and the exit code. */
function exec(pod: string, container: string, command: string[]): Promise<{ stdout: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const query = new URLSearchParams([...command.map((c): [string, string] => ["command", c]), ["container", container], ["stdout", "true"], ["stderr", "true"]]);
    const url = `${cluster.url.replace("https", "wss")}/api/v1/namespaces/default/pods/${pod}/exec?${query}`;
    const ws = new WebSocket(url, ["v5.channel.k8s.io"], { ca: cluster.caCertPem, headers: { Authorization: `Bearer ${cluster.adminToken}` } });
    let stdout = "";
    let exitCode = -1;
    ws.on("message", (data: Buffer) => {
      if (data[0] === 1) stdout += data.subarray(1).toString();
      if (data[0] === 3) {
        const status = JSON.parse(data.subarray(1).toString());
        exitCode = status.status === "Success" ? 0 : Number(status.details?.causes?.[0]?.message);
      }
    });
    ws.on("close", () => resolve({ stdout, exitCode }));
    ws.on("error", reject);
  });
}

async function logs(pod: string, container: string): Promise<string> {
  const answer = await call(cluster, "GET", `/api/v1/namespaces/default/pods/${pod}/log?container=${container}`);
  return typeof answer.body === "string" ? answer.body : String(answer.body);
}

/** A container that writes its own file into /shared, waits for the other's, reads it, then sleeps. */
function sharer(name: string, other: string, securityContext: Loose): Loose {
  const script = [
    `echo from-${name} > /shared/${name}`,
    `until [ -e /shared/${other} ]; do sleep 0.05; done`,
    `sleep 0.2`,
    `echo "read: $(cat /shared/${other})"`,
    `echo "id: $(id -u) $(id -g)"`,
    `exec sleep 3600`,
  ].join("; ");
  return { name, image: "busybox", command: ["sh", "-c", script], securityContext, volumeMounts: [{ name: "shared", mountPath: "/shared" }] };
}

test("containers running as different users share an emptyDir, and exec runs as the container's user", { skip: !isRoot && "runAsUser needs root (CI runs as root)" }, async () => {
  await createPod(cluster, "default", {
    metadata: { name: "two-users" },
    spec: {
      securityContext: { runAsUser: 1000 },
      volumes: [{ name: "shared", emptyDir: {} }],
      containers: [sharer("a", "b", {}), sharer("b", "a", { runAsUser: 2000, runAsGroup: 2000 })],
    },
  });
  for (const name of ["a", "b"]) await untilContainer(cluster, "default", "two-users", name, (s) => s.state.running !== undefined);
  await until("both containers read the other's file", async () => ((await logs("two-users", "a")).includes("id:") && (await logs("two-users", "b")).includes("id:") ? true : undefined));
  // Container a has the pod's runAsUser and the primary group of uid 1000 (0 when /etc/passwd does not know it).
  assert.match(await logs("two-users", "a"), /^read: from-b\nid: 1000 \d+\n$/);
  assert.equal(await logs("two-users", "b"), "read: from-a\nid: 2000 2000\n");

  assert.deepEqual(await exec("two-users", "a", ["id", "-u"]), { stdout: "1000\n", exitCode: 0 });
  assert.deepEqual(await exec("two-users", "b", ["id", "-u"]), { stdout: "2000\n", exitCode: 0 });
  // The emptyDir is world-writable (as the kubelet makes it) and each file belongs to the user who wrote it.
  const listing = await exec("two-users", "b", ["sh", "-c", "stat -c '%a' /shared; stat -c '%u %n' /shared/a /shared/b"]);
  assert.equal(listing.stdout, "777\n1000 /shared/a\n2000 /shared/b\n");
  // A non-root user cannot do what root could.
  const denied = await exec("two-users", "a", ["sh", "-c", "echo x > /etc/berth-test-denied"]);
  assert.notEqual(denied.exitCode, 0);
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/two-users?gracePeriodSeconds=0");
});

test("fsGroup: volumes belong to the group with setgid, and it is a supplementary group of every container and exec", { skip: !isRoot && "runAsUser needs root (CI runs as root)" }, async () => {
  await call(cluster, "POST", "/api/v1/namespaces/default/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "fs-group-config" }, data: { key: "value" } });
  await createPod(cluster, "default", {
    metadata: { name: "fs-group" },
    spec: {
      securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 3000, supplementalGroups: [4000] },
      volumes: [
        { name: "shared", emptyDir: {} },
        { name: "config", configMap: { name: "fs-group-config" } },
      ],
      containers: [
        {
          name: "writer",
          image: "busybox",
          // umask 002: files are group-writable, so another user in group 3000 may change them.
          command: ["sh", "-c", "umask 002; echo one > /shared/file; exec sleep 3600"],
          volumeMounts: [{ name: "shared", mountPath: "/shared" }, { name: "config", mountPath: "/config" }],
        },
        {
          name: "other",
          image: "busybox",
          command: ["sleep", "3600"],
          securityContext: { runAsUser: 2000, runAsGroup: 2000 },
          volumeMounts: [{ name: "shared", mountPath: "/shared" }],
        },
      ],
    },
  });
  for (const name of ["writer", "other"]) await untilContainer(cluster, "default", "fs-group", name, (s) => s.state.running !== undefined);
  const groups = await exec("fs-group", "writer", ["id", "-G"]);
  assert.deepEqual(groups.stdout.trim().split(" ").sort(), ["1000", "3000", "4000"]);
  await until("the writer wrote its file", async () => ((await exec("fs-group", "writer", ["cat", "/shared/file"])).stdout === "one\n" ? true : undefined));
  const stat = await exec("fs-group", "writer", ["stat", "-c", "%a %g", "/shared", "/shared/file", "/config/key"]);
  assert.equal(stat.stdout, "2777 3000\n664 3000\n644 3000\n");
  assert.deepEqual(await exec("fs-group", "other", ["sh", "-c", "echo two >> /shared/file && cat /shared/file"]), { stdout: "one\ntwo\n", exitCode: 0 });
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/fs-group?gracePeriodSeconds=0");
});

test("without root, runAsUser is not enforced and a Warning event says so", { skip: isRoot && "as root runAsUser is applied (see above)" }, async () => {
  await createPod(cluster, "default", {
    metadata: { name: "not-root" },
    spec: { containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"], securityContext: { runAsUser: 1000 } }] },
  });
  await untilContainer(cluster, "default", "not-root", "main", (s) => s.state.running !== undefined);
  const events = await podEvents(cluster, "default", "not-root");
  assert.ok(events.some((e: Loose) => e.type === "Warning" && e.reason === "RunAsUserNotEnforced" && /runAsUser 1000 is not enforced/.test(e.message)));
  await call(cluster, "DELETE", "/api/v1/namespaces/default/pods/not-root?gracePeriodSeconds=0");
});
