// The compiled launcher: built once per source version into a cache, and its absence (no compiler, a
// failed build) makes the runtime fall back to the shell chains with one line saying why.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildLauncher } from "../../../src/cluster/runtime/process/launcher.ts";
import { ProcessRuntime } from "../../../src/cluster/runtime/process/process-runtime.ts";
import { containerConfig, isRoot, podConfig, readLog, tempDir, waitForExit } from "./helpers.ts";

const originalCc = process.env.CC;
after(() => {
  if (originalCc === undefined) delete process.env.CC;
  else process.env.CC = originalCc;
});

test("the launcher is compiled once into the cache and reused; builds of other versions are removed", { skip: process.platform !== "linux" && "Linux only" }, async () => {
  const cache = tempDir("berth-cache-");
  const stale = join(cache, "berth-launcher-0000000000000000");
  writeFileSync(stale, "an older version", { mode: 0o755 });
  const first = await buildLauncher(cache);
  assert.ok("path" in first, `not built: ${JSON.stringify(first)}`);
  assert.equal(dirname(first.path), cache);
  assert.match(first.path, /berth-launcher-[0-9a-f]{16}$/);
  const built = statSync(first.path);
  assert.equal(built.mode & 0o777, 0o755);
  const again = await buildLauncher(cache);
  assert.deepEqual(again, first);
  assert.equal(statSync(first.path).mtimeMs, built.mtimeMs, "not rebuilt");
  assert.equal(existsSync(stale), false);
});

test("without a working compiler the launcher is unavailable, saying why", async () => {
  process.env.CC = "berth-no-such-compiler";
  assert.match(JSON.stringify(await buildLauncher(tempDir("berth-cache-"))), /no C compiler \(berth-no-such-compiler\)/);
  process.env.CC = "/bin/false";
  assert.match(JSON.stringify(await buildLauncher(tempDir("berth-cache-"))), /could not build it/);
});

test("a runtime that cannot build the launcher says so once and runs pods through the shell chains", { skip: !isRoot && "isolated pods need root (CI runs as root)" }, async (t) => {
  process.env.CC = "/bin/false";
  const lines: string[] = [];
  t.mock.method(console, "error", (line: string) => lines.push(line));
  const runtime = await ProcessRuntime.create({ stateDirectory: tempDir("berth-state-"), cacheDirectory: tempDir("berth-cache-") });
  try {
    assert.ok(runtime.launcher && "unavailableBecause" in runtime.launcher);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /compiled launcher is unavailable because .*could not build it.*shell chains.*slower/);
    const logs = tempDir("berth-logs-");
    const pod = podConfig("fallback", logs);
    const { podSandboxId } = await runtime.runPodSandbox(pod);
    const { containerId } = await runtime.createContainer(podSandboxId, containerConfig("c", ["sh", "-c", "hostname; echo $$"]), pod);
    await runtime.startContainer(containerId);
    const status = await waitForExit(runtime, containerId);
    assert.equal(status.exitCode, 0);
    // The pod's hostname, and a pid of the pod's own namespace (its pause process is 1).
    const [hostname, pid] = readLog(status.logPath).stdout.trim().split("\n");
    assert.equal(hostname, "fallback");
    assert.ok(Number(pid) < 10, `pid ${pid} is not of the pod's namespace`);
  } finally {
    await runtime.close();
  }
});
