// Root only: each pod gets private mount, pid and uts namespaces, and every volume shows up at its
// mountPath inside its containers without touching the host's file tree.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerConfig, PodSandboxConfig } from "../../../src/cluster/runtime/cri.ts";
import { ProcessRuntime } from "../../../src/cluster/runtime/process/process-runtime.ts";
import { containerConfig, isRoot, podConfig, readLog, tempDir, waitForExit } from "./helpers.ts";

// A mount path that exists nowhere on the host, so the test also proves none gets created there.
const UNIQUE_ROOT = `/berth-test-${process.pid}`;

// Both ways of starting isolated pods: the compiled launcher, and the shell chains it falls back to.
for (const launcher of ["auto", "shell"] as const) {
describe(`pod isolation (launcher: ${launcher})`, { skip: isRoot ? false : "private namespaces and mounts need root (CI runs as root)" }, () => {
  let runtime: ProcessRuntime;
  let logs: string;

  before(async () => {
    runtime = await ProcessRuntime.create({ stateDirectory: tempDir("berth-state-"), launcher });
    assert.ok(runtime.info().capabilities.podIsolation, `pod isolation unavailable as root: ${runtime.host.isolationUnavailableBecause}`);
    logs = tempDir("berth-logs-");
  });
  after(() => runtime.close());

  async function startPod(name: string): Promise<{ pod: PodSandboxConfig; id: string }> {
    // Like the kubelet: one log directory per pod.
    const pod = podConfig(name, join(logs, name));
    return { pod, id: (await runtime.runPodSandbox(pod)).podSandboxId };
  }

  async function run(podId: string, pod: PodSandboxConfig, config: ContainerConfig): Promise<{ stdout: string; exitCode?: number }> {
    const { containerId } = await runtime.createContainer(podId, config, pod);
    await runtime.startContainer(containerId);
    const status = await waitForExit(runtime, containerId);
    return { stdout: readLog(status.logPath).stdout, ...(status.exitCode !== undefined ? { exitCode: status.exitCode } : {}) };
  }

  test("a shared emptyDir written by one container is read by another at its own mountPath", async () => {
    const { pod, id } = await startPod("shared");
    const emptyDir = tempDir("berth-emptydir-");
    await run(id, pod, containerConfig("writer", ["sh", "-c", `echo from-writer > ${UNIQUE_ROOT}/out/file`], { mounts: [{ containerPath: `${UNIQUE_ROOT}/out`, hostPath: emptyDir }] }));
    const reader = await run(id, pod, containerConfig("reader", ["cat", "/in/file"], { mounts: [{ containerPath: "/in", hostPath: emptyDir }] }));
    assert.equal(reader.stdout, "from-writer\n");
    assert.equal(readFileSync(join(emptyDir, "file"), "utf8"), "from-writer\n");
    assert.equal(existsSync(UNIQUE_ROOT), false, "mount points are made in the container's own root, not on the host");
  });

  test("two pods using the same mountPath never see each other's files", async () => {
    const results: string[] = [];
    for (const name of ["pod-a", "pod-b"]) {
      const { pod, id } = await startPod(name);
      const volume = tempDir(`berth-${name}-`);
      const out = await run(id, pod, containerConfig("c", ["sh", "-c", `echo ${name} > ${UNIQUE_ROOT}/mine; ls ${UNIQUE_ROOT}`], { mounts: [{ containerPath: UNIQUE_ROOT, hostPath: volume }] }));
      results.push(out.stdout);
      assert.deepEqual(readFileSync(join(volume, "mine"), "utf8"), `${name}\n`);
    }
    assert.deepEqual(results, ["mine\n", "mine\n"]);
  });

  test("a volume the kubelet mounts on the host after the sandbox started is seen by new containers", async () => {
    const { pod, id } = await startPod("late-mount");
    const volume = tempDir("berth-memory-volume-");
    // What the kubelet does for emptyDir medium Memory.
    execFileSync("mount", ["-t", "tmpfs", "berth-test", volume]);
    try {
      writeFileSync(join(volume, "in-memory"), "tmpfs content");
      const out = await run(id, pod, containerConfig("c", ["cat", "/cache/in-memory"], { mounts: [{ containerPath: "/cache", hostPath: volume }] }));
      assert.equal(out.stdout, "tmpfs content");
    } finally {
      execFileSync("umount", [volume]);
    }
  });

  test("read-only volumes refuse writes; a file volume appears as that file", async () => {
    const { pod, id } = await startPod("readonly");
    const config = tempDir("berth-config-");
    writeFileSync(join(config, "app.properties"), "key=value\n");
    const out = await run(
      id,
      pod,
      containerConfig("c", ["sh", "-c", "cat /etc/berth-app.properties; touch /config/new 2>/dev/null && echo writable || echo read-only"], {
        mounts: [
          { containerPath: "/config", hostPath: config, readonly: true },
          { containerPath: "/etc/berth-app.properties", hostPath: join(config, "app.properties"), readonly: true },
        ],
      }),
    );
    assert.equal(out.stdout, "key=value\nread-only\n");
    assert.equal(existsSync("/etc/berth-app.properties"), false);
  });

  test("files a container writes outside its volumes stay in its own writable layer", async () => {
    const { pod, id } = await startPod("layer");
    const path = `/tmp/berth-layer-${process.pid}`;
    const out = await run(id, pod, containerConfig("c", ["sh", "-c", `echo private > ${path}; cat ${path}`]));
    assert.equal(out.stdout, "private\n");
    assert.equal(existsSync(path), false);
  });

  test("a writable layer in memory (when the state directory cannot hold one) works the same", async () => {
    const inMemory = await ProcessRuntime.create({ stateDirectory: tempDir("berth-state-"), writableLayer: "memory", launcher });
    try {
      const pod = podConfig("in-memory", join(logs, "in-memory"));
      const { podSandboxId } = await inMemory.runPodSandbox(pod);
      const volume = tempDir("berth-volume-");
      const { containerId } = await inMemory.createContainer(podSandboxId, containerConfig("c", ["sh", "-c", `echo layer > /etc/berth-layer-test; cat /etc/berth-layer-test; echo v > ${UNIQUE_ROOT}/v`], { mounts: [{ containerPath: UNIQUE_ROOT, hostPath: volume }] }), pod);
      await inMemory.startContainer(containerId);
      const status = await waitForExit(inMemory, containerId);
      assert.equal(status.exitCode, 0, readLog(status.logPath).stderr);
      assert.equal(readLog(status.logPath).stdout, "layer\n");
      assert.equal(readFileSync(join(volume, "v"), "utf8"), "v\n");
      assert.equal(existsSync("/etc/berth-layer-test"), false);
    } finally {
      await inMemory.close();
    }
  });

  test("a pod sees only its own processes and its own hostname", async () => {
    const { pod, id } = await startPod("pid-ns");
    const out = await run(id, pod, containerConfig("c", ["sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'"]));
    const [hostname, processCount] = out.stdout.trim().split("\n");
    assert.equal(hostname, "pid-ns");
    // pause, its sleep, this shell, ls, grep: a handful, not the host's hundreds.
    assert.ok(Number(processCount) < 10, `saw ${processCount} processes`);
  });

  test("exec sees the container's volumes and working directory", async () => {
    const { pod, id } = await startPod("exec-volumes");
    const volume = tempDir("berth-ws-");
    mkdirSync(join(volume, "src"));
    writeFileSync(join(volume, "src", "build.txt"), "sources");
    const { containerId } = await runtime.createContainer(
      id,
      containerConfig("agent", ["sleep", "1000"], { workingDir: "/home/jenkins/agent/src", mounts: [{ containerPath: "/home/jenkins/agent", hostPath: volume }] }),
      pod,
    );
    await runtime.startContainer(containerId);
    const result = await runtime.execSync(containerId, ["sh", "-c", "pwd; cat build.txt"], 0);
    assert.equal(result.stdout.toString(), "/home/jenkins/agent/src\nsources");
    await runtime.removePodSandbox(id);
  });
});
}
