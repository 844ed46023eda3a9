// The kube client layer against a real API server (Berth's embedded one, reached over HTTPS only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { createKubeClient } from "../../src/kube/client.ts";
import { watchPods, type WatchEvent } from "../../src/kube/watch.ts";
import { startTestServer } from "../cluster/helpers/server.ts";
import { issueClientCertificate } from "../../src/cluster/apiserver/pki.ts";

function pod(name: string, labels: Record<string, string>): V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "1"] }] } };
}

function until<T>(check: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const value = check();
      if (value !== undefined) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

test("client from a kubeconfig: create, read, list; calls counted reads and writes apart", async (t) => {
  const server = await startTestServer();
  t.after(() => server.dispose());
  const client = createKubeClient({ kubeconfig: server.kubeconfigPath });
  assert.equal(client.namespace, "default");
  await client.core.createNamespacedPod({ namespace: "default", body: pod("a", { app: "x" }) });
  const read = await client.core.readNamespacedPod({ namespace: "default", name: "a" });
  assert.equal(read.metadata?.name, "a");
  const list = await client.core.listNamespacedPod({ namespace: "default", labelSelector: "app=x" });
  assert.deepEqual(list.items.map((p) => p.metadata?.name), ["a"]);
  assert.equal(client.stats.writes, 1);
  assert.equal(client.stats.reads, 2);
  await assert.rejects(client.core.createNamespacedPod({ namespace: "default", body: pod("a", {}) }), (e: { code?: number }) => e.code === 409);
});

test("one pod watch: listed once, then add/update/delete events for the selected pods only", async (t) => {
  const server = await startTestServer();
  t.after(() => server.dispose());
  const client = createKubeClient({ kubeconfig: server.kubeconfigPath });
  await client.core.createNamespacedPod({ namespace: "default", body: pod("before", { "berth.test/owner": "me" }) });
  const watch = await watchPods(client, { labelSelector: "berth.test/owner=me" });
  t.after(() => watch.stop());
  const events: [WatchEvent, string][] = [];
  watch.on((event, p) => events.push([event, p.metadata!.name!]));
  assert.deepEqual(watch.list().map((p) => p.metadata?.name), ["before"]);

  await client.core.createNamespacedPod({ namespace: "default", body: pod("mine", { "berth.test/owner": "me" }) });
  await client.core.createNamespacedPod({ namespace: "default", body: pod("other", { "berth.test/owner": "someone-else" }) });
  await until(() => watch.get("mine"), "the new pod in the cache");
  await client.core.patchNamespacedPod(
    { namespace: "default", name: "mine", body: { metadata: { annotations: { a: "b" } } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  await until(() => watch.get("mine")?.metadata?.annotations?.["a"], "the update");
  await client.core.deleteNamespacedPod({ namespace: "default", name: "mine", gracePeriodSeconds: 0 });
  await until(() => (watch.get("mine") ? undefined : true), "the deletion");
  const mine = events.filter(([, name]) => name === "mine").map(([e]) => e);
  assert.equal(mine[0], "add");
  assert.equal(mine.at(-1), "delete");
  assert.ok(mine.includes("update"));
  assert.ok(!events.some(([, name]) => name === "other"));
});

test("client from a URL, the server's CA and a client certificate", async (t) => {
  const server = await startTestServer();
  t.after(() => server.dispose());
  const { certPem, keyPem } = await issueClientCertificate(server.dataDir, "berth-controller", ["system:masters"]);
  const client = createKubeClient({ serverUrl: server.url, serverCertificate: server.caCertPem, clientCertificate: certPem, clientKey: keyPem, namespace: "default" });
  assert.equal(client.source, "url");
  await client.core.createNamespacedPod({ namespace: "default", body: pod("with-cert", {}) });
  assert.equal((await client.core.readNamespacedPod({ namespace: "default", name: "with-cert" })).metadata?.name, "with-cert");
  // The certificate is what authenticates: without it the same server refuses.
  const anonymous = createKubeClient({ serverUrl: server.url, serverCertificate: server.caCertPem, namespace: "default" });
  await assert.rejects(anonymous.core.listNamespacedPod({ namespace: "default" }), (e: { code?: number }) => e.code === 401 || e.code === 403);
});
