// `berth cluster start` as a user runs it: one ready line, a kubeconfig, clean stop on signals,
// and state that survives a restart and a kill -9.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

const BERTH = new URL("../../../bin/berth.js", import.meta.url).pathname;

interface Started {
  child: ChildProcessWithoutNullStreams;
  readyLine: string;
  api: CoreV1Api;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCluster(dataDir: string, nodes = 2, args: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [BERTH, "cluster", "start", "--data-dir", dataDir, "--port", "0", "--nodes", String(nodes), ...args]);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes("ready"));
      if (!line || !out.includes("\n")) return;
      const kc = new KubeConfig();
      kc.loadFromFile(join(dataDir, "kubeconfig"));
      resolve({ child, readyLine: line, api: kc.makeApiClient(CoreV1Api), exited });
    });
    void exited.then(() => reject(new Error(`berth cluster start exited early: ${err}`)));
  });
}

test("berth cluster start: ready line, nodes, SIGTERM stops cleanly, restart keeps objects and credentials", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "berth-cli-"));
  try {
    const first = await startCluster(dataDir);
    assert.equal(first.readyLine, `berth cluster ready at ${first.readyLine.match(/https:\/\/127\.0\.0\.1:\d+/)?.[0]}; kubeconfig: ${join(dataDir, "kubeconfig")}`);
    const nodes = await first.api.listNode();
    assert.deepEqual(nodes.items.map((n) => n.metadata?.name), ["node-1", "node-2"]);
    const namespaces = await first.api.listNamespace();
    assert.deepEqual(namespaces.items.map((n) => n.metadata?.name).sort(), ["default", "kube-node-lease", "kube-public", "kube-system"]);
    await first.api.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "kept" }, data: { a: "1" } } });
    const token = readFileSync(join(dataDir, "kubeconfig"), "utf8").match(/token: (\S+)/)?.[1];
    first.child.kill("SIGTERM");
    assert.deepEqual(await first.exited, { code: 0, signal: null });

    const second = await startCluster(dataDir);
    assert.equal(readFileSync(join(dataDir, "kubeconfig"), "utf8").match(/token: (\S+)/)?.[1], token);
    const kept = await second.api.readNamespacedConfigMap({ name: "kept", namespace: "default" });
    assert.deepEqual(kept.data, { a: "1" });
    second.child.kill("SIGINT");
    assert.deepEqual(await second.exited, { code: 0, signal: null });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

for (const fsync of ["interval", "always"]) {
  test(`nothing acknowledged is lost on kill -9 (--fsync ${fsync}), with writes still in flight`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "berth-kill-"));
    try {
      const first = await startCluster(dataDir, 0, ["--fsync", fsync]);
      const acknowledged: string[] = [];
      let next = 0;
      let killed = false;
      // 10 writers; the kill goes out the moment the 200th answer arrives, with up to 9 writes unanswered.
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (!killed) {
            const name = `k${next++}`;
            try {
              await first.api.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name } } });
            } catch {
              return;
            }
            acknowledged.push(name);
            if (acknowledged.length === 200) {
              killed = true;
              first.child.kill("SIGKILL");
            }
          }
        }),
      );
      await first.exited;
      // The killed run's runtime scratch is in the data dir (not the OS temp dir), for the next start to clear.
      assert.ok(existsSync(join(dataDir, "runtime")));
      const second = await startCluster(dataDir, 0);
      const list = await second.api.listNamespacedConfigMap({ namespace: "default" });
      const present = new Set(list.items.map((c) => c.metadata?.name));
      assert.deepEqual(acknowledged.filter((n) => !present.has(n)), []);
      second.child.kill("SIGTERM");
      await second.exited;
      assert.equal(existsSync(join(dataDir, "runtime")), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
