// @kubernetes/client-node against the embedded API server: cascading deletion seen through a watch,
// server-side apply with field managers and conflicts, managedFields as typed objects.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { ApiException, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, setHeaderOptions, type KubernetesObject } from "@kubernetes/client-node";
import { startTestServer, type TestServer } from "../helpers/server.ts";

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

test("Foreground delete: dependents go first, the watch sees the owner leave last", async () => {
  const owner = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cn-owner" } } });
  const ref = { apiVersion: "v1", kind: "ConfigMap", name: "cn-owner", uid: owner.metadata?.uid as string, blockOwnerDeletion: true };
  for (const name of ["cn-dep-1", "cn-dep-2"]) await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name, ownerReferences: [ref] } } });
  const list = await core.listNamespacedConfigMap({ namespace: "default" });
  const deletedOrder: string[] = [];
  let finished!: () => void;
  const ownerGone = new Promise<void>((resolve) => (finished = resolve));
  const request = await new Watch(kc).watch("/api/v1/namespaces/default/configmaps", { resourceVersion: list.metadata?.resourceVersion }, (type, obj: KubernetesObject) => {
    if (type !== "DELETED") return;
    deletedOrder.push(obj.metadata?.name ?? "");
    if (obj.metadata?.name === "cn-owner") finished();
  }, () => {});
  try {
    await core.deleteNamespacedConfigMap({ namespace: "default", name: "cn-owner", propagationPolicy: "Foreground" });
    await ownerGone;
    assert.deepEqual(deletedOrder.slice(-1), ["cn-owner"]);
    assert.deepEqual(deletedOrder.slice(0, 2).sort(), ["cn-dep-1", "cn-dep-2"]);
  } finally {
    request.abort();
  }
});

test("server-side apply through KubernetesObjectApi: managers, 409 conflict, force", async () => {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const cm = (value: string): KubernetesObject & { data: Record<string, string> } => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cn-ssa", namespace: "default" }, data: { key: value } });
  const applied = await objects.patch(cm("1"), undefined, undefined, "controller-a", undefined, PatchStrategy.ServerSideApply);
  const entry = applied.metadata?.managedFields?.[0];
  assert.equal(entry?.manager, "controller-a");
  assert.equal(entry?.operation, "Apply");
  assert.ok(entry?.time instanceof Date);
  await assert.rejects(objects.patch(cm("2"), undefined, undefined, "controller-b", false, PatchStrategy.ServerSideApply), (e: unknown) => {
    assert.ok(e instanceof ApiException);
    assert.equal(e.code, 409);
    const status = JSON.parse(String(e.body)) as { reason: string; details: { causes: { reason: string; field: string }[] } };
    assert.equal(status.reason, "Conflict");
    assert.deepEqual(status.details.causes.map((c) => [c.reason, c.field]), [["FieldManagerConflict", ".data.key"]]);
    return true;
  });
  const forced = await objects.patch(cm("2"), undefined, undefined, "controller-b", true, PatchStrategy.ServerSideApply);
  assert.equal((forced as KubernetesObject & { data: Record<string, string> }).data.key, "2");
  assert.deepEqual(forced.metadata?.managedFields?.map((e) => e.manager), ["controller-b"], "controller-a lost its only field");
  // A merge patch without a field manager is attributed to the client's User-Agent prefix.
  const patched = await core.patchNamespacedConfigMap({ name: "cn-ssa", namespace: "default", body: { metadata: { labels: { x: "1" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  assert.equal(patched.metadata?.managedFields?.length, 2);
});
