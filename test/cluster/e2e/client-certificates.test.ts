// Client-certificate authentication: CN is the user, each O a group, as on a real cluster.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { issueClientCertificate } from "../../../src/cluster/apiserver/pki.ts";
import { kubectlBinary } from "../helpers/kubectl.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let scratch: string;

before(async () => {
  server = await startTestServer();
  scratch = mkdtempSync(join(tmpdir(), "berth-certs-"));
});

after(async () => {
  await server.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function kubeconfigFor(name: string, groups: string[]): Promise<string> {
  const { certPem, keyPem } = await issueClientCertificate(server.dataDir, name, groups);
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  const path = join(scratch, `${name}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "berth", cluster: { server: server.url, "certificate-authority-data": b64(server.caCertPem) } }],
      users: [{ name, user: { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) } }],
      contexts: [{ name, context: { cluster: "berth", user: name, namespace: "default" } }],
      "current-context": name,
    }),
  );
  return path;
}

function api(path: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc.makeApiClient(CoreV1Api);
}

test("a certificate in system:masters is an administrator; another user is held to RBAC", async () => {
  const alice = api(await kubeconfigFor("alice", ["system:masters"]));
  const created = await alice.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "by-alice" } } });
  assert.equal(created.metadata?.name, "by-alice");
  const bob = api(await kubeconfigFor("bob", ["developers"]));
  await assert.rejects(bob.listNamespacedPod({ namespace: "default" }), (e: unknown) => {
    assert.ok(e instanceof ApiException);
    assert.equal(e.code, 403);
    assert.match(String(e.body), /User \\"bob\\" cannot list resource \\"pods\\"/);
    return true;
  });
});

test("kubectl with a client certificate", { skip: !kubectlBinary("35") && "kubectl 1.35 package not installed" }, async () => {
  const kubeconfig = await kubeconfigFor("carol", ["system:masters"]);
  const binary = kubectlBinary("35") as string;
  const result = await new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn(binary, ["--kubeconfig", kubeconfig, "--cache-dir", join(scratch, "cache"), "auth", "whoami"]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /Username\s+carol/);
  assert.match(result.out, /Groups\s+\[system:masters system:authenticated\]/);
});
