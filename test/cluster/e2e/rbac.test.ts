// RBAC and service-account tokens: a controller's service account limited to one namespace, as
// the Kubernetes plugin's service-account.yml does it.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { ApiException, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { call, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let admin: KubeConfig;

before(async () => {
  server = await startTestServer();
  admin = new KubeConfig();
  admin.loadFromFile(server.kubeconfigPath);
});

after(async () => {
  await server.dispose();
});

function asUser(token: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  const user = kc.getCurrentUser();
  if (user) (user as { token?: string }).token = token;
  return kc.makeApiClient(CoreV1Api);
}

test("a service account bound to a Role works in its namespace only; 403 names the user and resource", async () => {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: "jenkins" } } });
  await core.createNamespacedServiceAccount({ namespace: "jenkins", body: { metadata: { name: "jenkins" } } });
  await rbac.createNamespacedRole({
    namespace: "jenkins",
    body: {
      metadata: { name: "jenkins" },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] },
        { apiGroups: [""], resources: ["pods/exec"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] },
        { apiGroups: [""], resources: ["pods/log"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["watch"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: "jenkins",
    body: { metadata: { name: "jenkins" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "jenkins" }, subjects: [{ kind: "ServiceAccount", name: "jenkins" }] },
  });
  const issued = await core.createNamespacedServiceAccountToken({ name: "jenkins", namespace: "jenkins", body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = issued.status?.token ?? "";
  assert.equal(token.split(".").length, 3);

  const sa = asUser(token);
  const pod = await sa.createNamespacedPod({ namespace: "jenkins", body: { metadata: { name: "agent" }, spec: { containers: [{ name: "jnlp", image: "jenkins/inbound-agent" }] } } });
  assert.equal(pod.metadata?.name, "agent");
  assert.deepEqual((await sa.listNamespacedPod({ namespace: "jenkins" })).items.map((p) => p.metadata?.name), ["agent"]);

  await assert.rejects(sa.listNamespacedPod({ namespace: "default" }), (e: unknown) => {
    assert.ok(e instanceof ApiException);
    assert.equal(e.code, 403);
    const status = JSON.parse(String(e.body)) as { reason: string; message: string };
    assert.equal(status.reason, "Forbidden");
    assert.equal(status.message, 'pods is forbidden: User "system:serviceaccount:jenkins:jenkins" cannot list resource "pods" in API group "" in the namespace "default"');
    return true;
  });
  await assert.rejects(sa.deleteNamespacedSecret({ name: "x", namespace: "jenkins" }), (e: unknown) => e instanceof ApiException && e.code === 403);

  const review = await call({ ...server, adminToken: token }, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: { resourceAttributes: { namespace: "jenkins", verb: "create", resource: "pods", subresource: "exec" } },
  });
  assert.equal(review.status, 201);
  assert.equal(review.body.status.allowed, true);
  const rules = await call({ ...server, adminToken: token }, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", { spec: { namespace: "jenkins" } });
  assert.ok(rules.body.status.resourceRules.some((r: { resources: string[] }) => r.resources.includes("pods/log")));
  const whoami = await call({ ...server, adminToken: token }, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {});
  assert.equal(whoami.body.status.userInfo.username, "system:serviceaccount:jenkins:jenkins");

  // Discovery is open to every authenticated user.
  assert.equal((await call({ ...server, adminToken: token }, "GET", "/api/v1")).status, 200);

  // Deleting the service account revokes its tokens.
  await core.deleteNamespacedServiceAccount({ name: "jenkins", namespace: "jenkins" });
  assert.equal((await call({ ...server, adminToken: token }, "GET", "/api/v1/namespaces/jenkins/pods")).status, 401);
});

test("TokenRequest rejects too-short lifetimes with 422", async () => {
  const core = admin.makeApiClient(CoreV1Api);
  await assert.rejects(core.createNamespacedServiceAccountToken({ name: "default", namespace: "default", body: { spec: { audiences: [], expirationSeconds: 60 } } }), (e: unknown) => e instanceof ApiException && e.code === 422);
});
