import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, ConnectionError } from "../../src/kube/connect.ts";
import { tempDir } from "../support/temp-dir.ts";

const NO_CLUSTER_ENV = {};
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

test("a URL with a token and a PEM CA", () => {
  const c = connect({ serverUrl: "https://10.0.0.1:6443", token: "abc", serverCertificate: PEM, namespace: "ci" }, NO_CLUSTER_ENV);
  assert.equal(c.source, "url");
  assert.equal(c.namespace, "ci");
  const cluster = c.kubeConfig.getCurrentCluster()!;
  assert.equal(cluster.server, "https://10.0.0.1:6443");
  assert.equal(Buffer.from(cluster.caData!, "base64").toString(), PEM.trim());
  assert.equal(c.kubeConfig.getCurrentUser()!.token, "abc");
});

test("a URL with skipTlsVerify and a token file", (t) => {
  const dir = tempDir(t, "berth-kube-");
  writeFileSync(join(dir, "token"), "from-file\n");
  const c = connect({ serverUrl: "https://k", skipTlsVerify: true, tokenFile: join(dir, "token") }, NO_CLUSTER_ENV);
  assert.equal(c.kubeConfig.getCurrentCluster()!.skipTLSVerify, true);
  assert.equal(c.kubeConfig.getCurrentUser()!.token, "from-file");
  assert.equal(c.namespace, "default");
});

test("a kubeconfig file, its context and that context's namespace", (t) => {
  const dir = tempDir(t, "berth-kube-");
  const file = join(dir, "config");
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a:6443"}
- name: b
  cluster: {server: "https://b:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-a
  context: {cluster: a, user: u, namespace: team-a}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`,
  );
  const a = connect({ kubeconfig: file }, NO_CLUSTER_ENV);
  assert.equal(a.kubeConfig.getCurrentCluster()!.server, "https://a:6443");
  assert.equal(a.namespace, "team-a");
  assert.equal(a.source, `kubeconfig ${file}`);
  const b = connect({ kubeconfig: file, context: "ctx-b" }, NO_CLUSTER_ENV);
  assert.equal(b.kubeConfig.getCurrentCluster()!.server, "https://b:6443");
  assert.equal(b.namespace, "default");
  assert.throws(() => connect({ kubeconfig: file, context: "nope" }, NO_CLUSTER_ENV), ConnectionError);
  assert.throws(() => connect({ kubeconfig: join(dir, "missing") }, NO_CLUSTER_ENV), /does not exist/);
});

test("in a pod: the service account's token, CA and namespace, and the API server from the environment", (t) => {
  const dir = tempDir(t, "berth-sa-");
  writeFileSync(join(dir, "token"), "sa-token\n");
  writeFileSync(join(dir, "ca.crt"), PEM);
  writeFileSync(join(dir, "namespace"), "jenkins\n");
  const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
  const c = connect({}, env, dir);
  assert.equal(c.source, "service account");
  assert.equal(c.namespace, "jenkins");
  assert.equal(c.kubeConfig.getCurrentCluster()!.server, "https://10.96.0.1:443");
  assert.equal(c.kubeConfig.getCurrentUser()!.token, "sa-token");
  // A URL without credentials uses the service account's token.
  const withUrl = connect({ serverUrl: "https://kubernetes.default.svc" }, env, dir);
  assert.equal(withUrl.kubeConfig.getCurrentUser()!.token, "sa-token");
  // Outside a pod (no KUBERNETES_SERVICE_HOST), the service account is not used.
  assert.notEqual(connect({ serverUrl: "https://k" }, {}, dir).kubeConfig.getCurrentUser()!.token, "sa-token");
});
