import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ContainerCgroup } from "../../../src/cluster/runtime/process/cgroups.ts";
import { ProcessRuntime } from "../../../src/cluster/runtime/process/process-runtime.ts";
import { containerConfig, isRoot, podConfig, tempDir, waitForExit } from "./helpers.ts";

test("without writable cgroups every requested limit is reported as not enforced", async () => {
  const { cgroup, warnings } = await ContainerCgroup.create({ trackingHasKill: false, instanceDirectories: [] }, "x", { memoryLimitBytes: 64 << 20, cpuLimitMillis: 500 });
  assert.equal(cgroup, undefined);
  assert.deepEqual(
    warnings.map((w) => w.reason),
    ["LimitNotEnforced", "LimitNotEnforced"],
  );
  assert.match(warnings[0]?.message ?? "", /memory limit of 67108864 bytes is not enforced/);
  assert.match(warnings[1]?.message ?? "", /cpu limit of 500m is not enforced/);
  assert.deepEqual((await ContainerCgroup.create({ trackingHasKill: false, instanceDirectories: [] }, "x", {})).warnings, []);
});

describe("cgroup limits", { skip: isRoot ? false : "cgroups need root (CI runs as root)" }, () => {
  let runtime: ProcessRuntime;
  const logs = tempDir("berth-logs-");
  const pod = podConfig("limits", logs);
  let podId: string;

  before(async () => {
    runtime = await ProcessRuntime.create({ stateDirectory: tempDir("berth-state-"), isolation: "off" });
    podId = (await runtime.runPodSandbox(pod)).podSandboxId;
  });
  after(() => runtime.close());

  test("a container that outgrows its memory limit is OOM-killed and reported as OOMKilled", (t) => {
    if (!runtime.info().capabilities.memoryLimits) return t.skip("no writable memory cgroup on this host");
    return (async () => {
      const { containerId, warnings } = await runtime.createContainer(
        podId,
        // tail keeps an endless line in memory: a portable memory hog.
        containerConfig("hog", ["sh", "-c", "head -c 1000000000 /dev/zero | tail -n 1 > /dev/null"], { resources: { memoryLimitBytes: 32 << 20 } }),
        pod,
      );
      assert.deepEqual(warnings, []);
      await runtime.startContainer(containerId);
      const status = await waitForExit(runtime, containerId);
      assert.deepEqual([status.reason, status.exitCode], ["OOMKilled", 137]);
    })();
  });

  test("a cpu limit becomes a CFS quota on the container's cgroup", (t) => {
    const { cgroups } = runtime.host;
    if (!cgroups.cpuRoot) return t.skip("no writable cpu cgroup on this host");
    return (async () => {
      const { containerId, warnings } = await runtime.createContainer(podId, containerConfig("cpu", ["sleep", "1000"], { resources: { cpuLimitMillis: 250 } }), pod);
      assert.deepEqual(warnings, []);
      const dir = join(cgroups.cpuRoot as string, containerId);
      const quota = cgroups.cpuVersion === 2 ? readFileSync(join(dir, "cpu.max"), "utf8").trim() : readFileSync(join(dir, "cpu.cfs_quota_us"), "utf8").trim();
      assert.equal(quota, cgroups.cpuVersion === 2 ? "25000 100000" : "25000");
      await runtime.startContainer(containerId);
      await runtime.stopContainer(containerId, 0);
      await runtime.removeContainer(containerId);
    })();
  });

  test("cgroups left behind by a runtime process that died are removed by the next one", async (t) => {
    const parent = runtime.host.cgroups.trackingRoot && dirname(runtime.host.cgroups.trackingRoot);
    if (!parent) return t.skip("no writable cgroup hierarchy on this host");
    // A pid above the kernel's maximum can never be alive.
    const stale = join(parent, "runtime-4194305-0badf00d");
    mkdirSync(join(stale, "some-container"), { recursive: true });
    const next = await ProcessRuntime.create({ stateDirectory: tempDir("berth-state-") });
    assert.equal(existsSync(stale), false);
    const own = next.host.cgroups.instanceDirectories;
    assert.ok(own.length > 0 && own.every((dir) => existsSync(dir)));
    assert.ok(runtime.host.cgroups.instanceDirectories.every((dir) => existsSync(dir)), "a live runtime's cgroups are left alone");
    await next.close();
    assert.ok(own.every((dir) => !existsSync(dir)), "a runtime removes its own cgroups on close");
  });
});
