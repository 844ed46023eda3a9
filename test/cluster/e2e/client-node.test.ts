// @kubernetes/client-node against the embedded API server over HTTPS with the generated kubeconfig.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { startTestServer, call, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let kc: KubeConfig;
let core: CoreV1Api;

before(async () => {
  server = await startTestServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  await server.dispose();
});

const pod = (name: string, labels: Record<string, string> = { app: "web" }): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels },
  spec: { containers: [{ name: "main", image: "nginx:1.27", ports: [{ containerPort: 80 }] }] },
});

function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

test("create, read, list with selectors, patch (json, merge, strategic), delete", async () => {
  const created = await core.createNamespacedPod({ namespace: "default", body: pod("cn-1") });
  assert.equal(created.status?.phase, "Pending");
  assert.equal(created.spec?.containers[0]?.imagePullPolicy, "IfNotPresent");
  assert.ok(created.metadata?.uid);
  assert.ok(created.metadata?.creationTimestamp instanceof Date);
  await core.createNamespacedPod({ namespace: "default", body: pod("cn-2", { app: "db" }) });

  const read = await core.readNamespacedPod({ name: "cn-1", namespace: "default" });
  assert.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);

  const list = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=db" });
  assert.deepEqual(list.items.map((p) => p.metadata?.name), ["cn-2"]);
  assert.ok(list.metadata?.resourceVersion);
  const byField = await core.listPodForAllNamespaces({ fieldSelector: "metadata.name=cn-1" });
  assert.deepEqual(byField.items.map((p) => p.metadata?.name), ["cn-1"]);

  // client-node's default patch content type is JSON Patch.
  const jsonPatched = await core.patchNamespacedPod({ name: "cn-1", namespace: "default", body: [{ op: "add", path: "/metadata/labels/json", value: "yes" }] });
  assert.equal(jsonPatched.metadata?.labels?.json, "yes");
  const merged = await core.patchNamespacedPod({ name: "cn-1", namespace: "default", body: { metadata: { labels: { merge: "yes" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  assert.equal(merged.metadata?.labels?.merge, "yes");
  const strategic = await core.patchNamespacedPod(
    { name: "cn-1", namespace: "default", body: { spec: { containers: [{ name: "main", image: "nginx:1.28" }] } } },
    setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
  );
  assert.equal(strategic.spec?.containers[0]?.image, "nginx:1.28");
  assert.equal(strategic.spec?.containers[0]?.ports?.[0]?.containerPort, 80, "strategic merge keeps the other container fields");

  await core.deleteNamespacedPod({ name: "cn-1", namespace: "default", gracePeriodSeconds: 0 });
  await assert.rejects(core.readNamespacedPod({ name: "cn-1", namespace: "default" }), (e) => statusCode(e) === 404);
  await core.deleteNamespacedPod({ name: "cn-2", namespace: "default" });
});

test("errors arrive as Status objects with the real codes", async () => {
  await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "dup" } } });
  await assert.rejects(core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "dup" } } }), (e) => {
    assert.equal(statusCode(e), 409);
    const body = JSON.parse(String((e as ApiException<string>).body)) as { reason: string; message: string };
    assert.equal(body.reason, "AlreadyExists");
    assert.equal(body.message, 'configmaps "dup" already exists');
    return true;
  });
  await assert.rejects(core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "bad" }, spec: { containers: [{ name: "main" }] } } as V1Pod }), (e) => {
    assert.equal(statusCode(e), 422);
    const body = JSON.parse(String((e as ApiException<string>).body)) as { details: { causes: { field: string; reason: string }[] } };
    assert.deepEqual(body.details.causes, [{ reason: "FieldValueRequired", message: "Required value", field: "spec.containers[0].image" }]);
    return true;
  });
});

test("watch: headers flushed at once, ADDED/MODIFIED/DELETED in order, clean end", async () => {
  const events: string[] = [];
  const list = await core.listNamespacedConfigMap({ namespace: "default" });
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const watch = new Watch(kc);
  const controller = await watch.watch(
    "/api/v1/namespaces/default/configmaps",
    { resourceVersion: list.metadata?.resourceVersion },
    (type, obj: { metadata: { name: string } }) => {
      events.push(`${type} ${obj.metadata.name}`);
      if (type === "DELETED") resolveDone();
    },
    () => {},
  );
  await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "w1" }, data: { a: "1" } } });
  await core.patchNamespacedConfigMap({ name: "w1", namespace: "default", body: { data: { a: "2" } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  await core.deleteNamespacedConfigMap({ name: "w1", namespace: "default" });
  await done;
  controller.abort();
  assert.deepEqual(events, ["ADDED w1", "MODIFIED w1", "DELETED w1"]);
});

test("informer: lists, then follows adds, updates and deletes", async () => {
  const informer = makeInformer(kc, "/api/v1/namespaces/default/pods", () => core.listNamespacedPod({ namespace: "default", labelSelector: "inf=1" }), "inf=1");
  const seen: string[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const record = (what: string) => (obj: V1Pod) => {
    seen.push(`${what} ${obj.metadata?.name}`);
    if (waiter && seen.length >= waiter.count) waiter.resolve();
  };
  const until = (count: number): Promise<void> => new Promise((resolve) => (seen.length >= count ? resolve() : (waiter = { count, resolve })));
  informer.on("add", record("add"));
  informer.on("update", record("update"));
  informer.on("delete", record("delete"));
  await core.createNamespacedPod({ namespace: "default", body: pod("inf-a", { inf: "1" }) });
  await informer.start();
  await until(1);
  await core.createNamespacedPod({ namespace: "default", body: pod("inf-b", { inf: "1" }) });
  await until(2);
  await core.patchNamespacedPod({ name: "inf-b", namespace: "default", body: [{ op: "add", path: "/metadata/annotations", value: { x: "y" } }] });
  await until(3);
  await core.deleteNamespacedPod({ name: "inf-a", namespace: "default" });
  await until(4);
  await informer.stop();
  assert.deepEqual(seen, ["add inf-a", "add inf-b", "update inf-b", "delete inf-a"]);
  assert.deepEqual(informer.list().map((p) => p.metadata?.name), ["inf-b"]);
});

test("generic KubernetesObjectApi and a named group (coordination.k8s.io leases)", async () => {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const cm = await objects.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "generic", namespace: "default" }, data: { k: "v" } });
  assert.equal(cm.metadata?.name, "generic");
  const read = await objects.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "generic", namespace: "default" } });
  assert.equal((read as { data?: Record<string, string> }).data?.k, "v");
  await objects.delete({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "generic", namespace: "default" } });

  const leases = kc.makeApiClient(CoordinationV1Api);
  const renewTime = new Date();
  const lease = await leases.createNamespacedLease({ namespace: "kube-node-lease", body: { metadata: { name: "node-1" }, spec: { holderIdentity: "node-1", renewTime: renewTime as never, leaseDurationSeconds: 40 } } });
  assert.equal(lease.spec?.holderIdentity, "node-1");
});

test("a wrong token is 401 Unauthorized as a Status; /version needs none", async () => {
  const bad = await call({ ...server, adminToken: "nope" }, "GET", "/api/v1/pods");
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.body, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });
  const version = await call({ ...server, adminToken: "" }, "GET", "/version", undefined, { Authorization: "" });
  assert.equal(version.status, 200);
  assert.equal(version.body.major, "1");
});
