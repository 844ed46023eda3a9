// Lifecycle of the process runtime, in both of its modes: plain host processes (always; this is what a
// non-root user gets) and isolated pods (only as root, where namespaces and cgroups are available).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ContainerEvent, PodSandboxConfig } from "../../../src/cluster/runtime/cri.ts";
import { RuntimeError } from "../../../src/cluster/runtime/cri.ts";
import { ProcessRuntime } from "../../../src/cluster/runtime/process/process-runtime.ts";
import { collect, containerConfig, isRoot, newMarker, podConfig, processesWithMarker, readLog, tempDir, waitForExit, waitForLogText } from "./helpers.ts";

// "isolated" starts pods with the compiled launcher, "isolated-shell" with the shell chains it falls back to.
for (const mode of ["plain", "isolated", "isolated-shell"] as const) {
  describe(`process runtime (${mode})`, { skip: mode !== "plain" && !isRoot ? "isolated pods need root (CI runs as root)" : false }, () => {
    let runtime: ProcessRuntime;
    let logs: string;
    let pod: PodSandboxConfig;
    let podId: string;

    before(async () => {
      runtime = await ProcessRuntime.create({
        stateDirectory: tempDir("berth-state-"),
        isolation: mode === "plain" ? "off" : "auto",
        launcher: mode === "isolated-shell" ? "shell" : "auto",
      });
      if (mode !== "plain") assert.ok(runtime.info().capabilities.podIsolation, `pod isolation unavailable as root: ${runtime.host.isolationUnavailableBecause}`);
      if (mode === "isolated") assert.ok(runtime.launcher && "path" in runtime.launcher, `no compiled launcher: ${JSON.stringify(runtime.launcher)}`);
      logs = tempDir("berth-logs-");
      pod = podConfig("lifecycle", logs);
      const sandbox = await runtime.runPodSandbox(pod);
      podId = sandbox.podSandboxId;
      assert.deepEqual(
        sandbox.warnings.map((w) => w.reason),
        mode === "plain" ? ["IsolationUnavailable"] : [],
      );
    });
    after(() => runtime.close());

    test("runs command and args with the env and working directory; output goes to the CRI log", async () => {
      const dir = tempDir("berth-wd-");
      const { containerId } = await runtime.createContainer(
        podId,
        containerConfig("hello", ["sh", "-c"], { args: ['echo "hi $GREETING from $(pwd)"; echo oops >&2'], envs: [{ key: "GREETING", value: "there" }], workingDir: dir }),
        pod,
      );
      assert.equal((await runtime.containerStatus(containerId)).state, "created");
      await runtime.startContainer(containerId);
      const status = await waitForExit(runtime, containerId);
      assert.equal(status.exitCode, 0);
      assert.equal(status.reason, "Completed");
      assert.ok(status.startedAt && status.finishedAt && status.finishedAt >= status.startedAt);
      assert.equal(status.logPath, join(logs, "hello", "0.log"));
      const log = readLog(status.logPath);
      assert.equal(log.stdout, `hi there from ${dir}\n`);
      assert.equal(log.stderr, "oops\n");
      assert.equal(status.imageRef, "docker.io/library/busybox:1.36");
    });

    test("a failing command exits with reason Error and its exit code", async () => {
      const { containerId } = await runtime.createContainer(podId, containerConfig("fails", ["sh", "-c", "exit 7"]), pod);
      await runtime.startContainer(containerId);
      const status = await waitForExit(runtime, containerId);
      assert.deepEqual([status.state, status.exitCode, status.reason], ["exited", 7, "Error"]);
    });

    test("a container without command is refused with a clear reason", async () => {
      await assert.rejects(runtime.createContainer(podId, containerConfig("nocmd", []), pod), (error: unknown) => {
        assert.ok(error instanceof RuntimeError);
        assert.equal(error.reason, "CreateContainerConfigError");
        assert.equal(error.message, "the process runtime cannot run image entrypoints; set command");
        return true;
      });
    });

    test("an unknown executable fails the start (RunContainerError) and ends as StartError", async () => {
      const { containerId } = await runtime.createContainer(podId, containerConfig("typo", ["no-such-program-berth"]), pod);
      await assert.rejects(runtime.startContainer(containerId), (error: unknown) => {
        assert.ok(error instanceof RuntimeError);
        assert.equal(error.reason, "RunContainerError");
        assert.match(error.message, /executable file not found in \$PATH/);
        return true;
      });
      const status = await runtime.containerStatus(containerId);
      assert.deepEqual([status.state, status.exitCode, status.reason], ["exited", 128, "StartError"]);
    });

    test("each restart attempt logs to its own file, so previous logs stay readable", async () => {
      for (const attempt of [0, 1]) {
        const { containerId } = await runtime.createContainer(
          podId,
          containerConfig("restarts", ["sh", "-c", `echo attempt ${attempt}`], { metadata: { name: "restarts", attempt }, logPath: `restarts/${attempt}.log` }),
          pod,
        );
        await runtime.startContainer(containerId);
        await waitForExit(runtime, containerId);
        await runtime.removeContainer(containerId);
      }
      assert.equal(readLog(join(logs, "restarts", "0.log")).stdout, "attempt 0\n");
      assert.equal(readLog(join(logs, "restarts", "1.log")).stdout, "attempt 1\n");
    });

    test("stop sends SIGTERM to the main process and waits for it to exit", async () => {
      const { containerId } = await runtime.createContainer(
        podId,
        containerConfig("graceful", ["sh", "-c", "trap 'echo bye; exit 42' TERM; echo ready; while :; do sleep 0.05; done"]),
        pod,
      );
      await runtime.startContainer(containerId);
      const { pid, logPath } = await runtime.containerStatus(containerId);
      assert.ok(pid);
      await waitForLogText(logPath, "ready");
      await runtime.stopContainer(containerId, 30);
      const status = await runtime.containerStatus(containerId);
      assert.deepEqual([status.exitCode, status.reason], [42, "Error"]);
      assert.match(readLog(status.logPath).stdout, /bye/);
    });

    test("stop falls back to SIGKILL after the grace period and kills every process the container started", async () => {
      const marker = newMarker();
      // A process that left the process group (setsid) survives a group kill; only cgroups or the pod's
      // pid namespace catch it, and without root there is neither, so only root tries that.
      const escapee = isRoot ? "setsid sleep 1001 &" : "";
      const { containerId } = await runtime.createContainer(
        podId,
        containerConfig("stubborn", ["sh", "-c", `trap '' TERM; sleep 1000 & ${escapee} echo ready; while :; do sleep 0.05; done`], { marker }),
        pod,
      );
      await runtime.startContainer(containerId);
      await waitForLogText((await runtime.containerStatus(containerId)).logPath, "ready");
      await runtime.stopContainer(containerId, 0.2);
      const status = await runtime.containerStatus(containerId);
      assert.deepEqual([status.exitCode, status.reason], [137, "Error"]);
      assert.deepEqual(processesWithMarker(marker), []);
    });

    test("execSync runs next to the main process with its env and working directory", async () => {
      const dir = tempDir("berth-wd-");
      const { containerId } = await runtime.createContainer(
        podId,
        containerConfig("server", ["sleep", "1000"], { envs: [{ key: "ROLE", value: "server" }], workingDir: dir }),
        pod,
      );
      await runtime.startContainer(containerId);
      const result = await runtime.execSync(containerId, ["sh", "-c", 'echo "$ROLE in $(pwd)"; echo err >&2; exit 3'], 0);
      assert.deepEqual([result.stdout.toString(), result.stderr.toString(), result.exitCode, result.timedOut], [`server in ${dir}\n`, "err\n", 3, false]);

      // Commands that end at once (their exit may be reported together with their start).
      for (let i = 0; i < 20; i++) assert.equal((await runtime.execSync(containerId, ["true"], 0)).exitCode, 0);

      const slow = await runtime.execSync(containerId, ["sleep", "1000"], 0.2);
      assert.equal(slow.timedOut, true);
      assert.equal((await runtime.containerStatus(containerId)).state, "running", "an exec timing out must not stop the container");

      const missing = await runtime.execSync(containerId, ["no-such-program-berth"], 0);
      assert.equal(missing.exitCode, 126);
      assert.match(missing.stderr.toString(), /executable file not found/);
      await runtime.stopContainer(containerId, 0);
      await assert.rejects(runtime.execSync(containerId, ["true"], 0), /not running/);
    });

    test("securityContext: the main process and every exec run as runAsUser/runAsGroup with the supplemental groups", { skip: !isRoot && "switching users needs root" }, async () => {
      const { containerId, warnings } = await runtime.createContainer(
        podId,
        containerConfig("as-user", ["sh", "-c", "id -u; id -g; id -G; exec sleep 1000"], { securityContext: { runAsUser: 1234, runAsGroup: 2345, supplementalGroups: [3456, 4567] } }),
        pod,
      );
      assert.deepEqual(warnings, []);
      await runtime.startContainer(containerId);
      const logPath = (await runtime.containerStatus(containerId)).logPath;
      await waitForLogText(logPath, "3456");
      assert.equal(readLog(logPath).stdout, "1234\n2345\n2345 3456 4567\n");
      const exec = await runtime.execSync(containerId, ["sh", "-c", "id -u; id -G"], 0);
      assert.equal(exec.stdout.toString(), "1234\n2345 3456 4567\n");
      const session = await runtime.exec(containerId, { cmd: ["id", "-u"] });
      assert.equal(await collect(session.stdout), "1234\n");
      await runtime.stopContainer(containerId, 0);
    });

    test("without root, a securityContext user comes back as a RunAsUserNotEnforced warning", { skip: isRoot && "as root the user is applied" }, async () => {
      const { containerId, warnings } = await runtime.createContainer(podId, containerConfig("not-root", ["true"], { securityContext: { runAsUser: 1234 } }), pod);
      assert.deepEqual(warnings.map((w) => w.reason), ["RunAsUserNotEnforced"]);
      assert.match(warnings[0]?.message ?? "", /runAsUser 1234 is not enforced/);
      await runtime.removeContainer(containerId);
    });

    test("processes an exec leaves behind keep running until the container stops", async () => {
      const marker = newMarker();
      const { containerId } = await runtime.createContainer(podId, containerConfig("exec-leftover", ["sleep", "1000"], { marker }), pod);
      await runtime.startContainer(containerId);
      const main = (await runtime.containerStatus(containerId)).pid;
      // One left in the exec's process group, as `nohup … &` does; as root (with the container's cgroup to
      // find it by) also one in a session of its own (setsid), which no process group signal reaches.
      const script = `sleep 1000 >/dev/null 2>&1 & ${isRoot ? "setsid sleep 1001 >/dev/null 2>&1 &" : "sleep 1001 >/dev/null 2>&1 &"} echo ok`;
      const result = await runtime.execSync(containerId, ["sh", "-c", script], 0);
      assert.equal(result.stdout.toString(), "ok\n");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const leftovers = processesWithMarker(marker).filter((pid) => pid !== main);
      assert.ok(leftovers.length >= 2, `both leftovers still run after the exec ended (found ${leftovers.length})`);
      await runtime.stopContainer(containerId, 0);
      await runtime.removeContainer(containerId);
      assert.deepEqual(processesWithMarker(marker), [], "stopping the container kills what its execs left");
    });

    test("streaming exec passes stdin through and reports the exit code", async () => {
      const { containerId } = await runtime.createContainer(podId, containerConfig("exec-streams", ["sleep", "1000"]), pod);
      await runtime.startContainer(containerId);
      const session = await runtime.exec(containerId, { cmd: ["sh", "-c", "cat; echo done >&2; exit 5"], stdin: true });
      session.stdin?.end("through stdin\n");
      const [stdout, stderr, exit] = await Promise.all([collect(session.stdout), collect(session.stderr), session.exited]);
      assert.deepEqual([stdout, stderr, exit.exitCode], ["through stdin\n", "done\n", 5]);
      await runtime.stopContainer(containerId, 0);
    });

    test("exec with a tty runs on a pseudo-terminal of the requested size, and can be resized", async () => {
      const { containerId } = await runtime.createContainer(podId, containerConfig("exec-tty", ["sleep", "1000"]), pod);
      await runtime.startContainer(containerId);
      const session = await runtime.exec(containerId, { cmd: ["sh", "-c", "tty; stty size; read line; stty size; exit 4"], stdin: true, tty: true, size: { cols: 100, rows: 30 } });
      assert.equal(session.stderr, null);
      let output = "";
      session.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      while (!output.includes("30 100")) await new Promise((resolve) => session.stdout.once("data", resolve));
      await session.resize({ cols: 120, rows: 40 });
      session.stdin?.write("go\r");
      const exit = await session.exited;
      assert.equal(exit.exitCode, 4);
      assert.match(output, /\/dev\/pts\/\d+/);
      assert.match(output, /40 120/);
      await runtime.stopContainer(containerId, 0);
    });

    test("attach streams the main process's output and feeds its stdin", async () => {
      const { containerId } = await runtime.createContainer(podId, containerConfig("interactive", ["cat"], { stdin: true }), pod);
      await runtime.startContainer(containerId);
      const session = await runtime.attach(containerId, { stdin: true });
      const echoed = new Promise<string>((resolve) => session.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString())));
      session.stdin?.write("ping\n");
      assert.equal(await echoed, "ping\n");
      await runtime.stopContainer(containerId, 0);
      assert.equal((await session.exited).exitCode, 137);
    });

    test("a container created with tty runs on a terminal; attach can resize it", async () => {
      const { containerId, warnings } = await runtime.createContainer(
        podId,
        containerConfig("terminal", ["sh", "-c", "tty; stty size; read line; stty size; exit 3"], { tty: true, stdin: true }),
        pod,
      );
      assert.deepEqual(warnings, []);
      const session = await (async () => {
        await runtime.startContainer(containerId);
        return runtime.attach(containerId, { stdin: true });
      })();
      assert.equal(session.stderr, null);
      const { logPath } = await runtime.containerStatus(containerId);
      await waitForLogText(logPath, "24 80");
      await session.resize({ cols: 132, rows: 50 });
      session.stdin?.write("go\r");
      assert.equal((await session.exited).exitCode, 3);
      const log = readLog(logPath).stdout;
      assert.match(log, /\/dev\/pts\/\d+/);
      assert.match(log, /50 132/);
    });

    test("container events follow the lifecycle", async () => {
      const seen: ContainerEvent["type"][] = [];
      const { containerId: id } = await (async () => {
        let target = "";
        const stop = runtime.onContainerEvent((event) => {
          if (target === "" || event.containerId === target) seen.push(event.type);
        });
        const created = await runtime.createContainer(podId, containerConfig("events", ["true"]), pod);
        target = created.containerId;
        await runtime.startContainer(target);
        await waitForExit(runtime, target);
        await runtime.removeContainer(target);
        stop();
        return created;
      })();
      assert.deepEqual(seen, ["created", "started", "stopped", "deleted"]);
      await assert.rejects(runtime.containerStatus(id), (error: unknown) => error instanceof RuntimeError && error.reason === "NotFound");
    });

    test("removing the sandbox leaves no process behind", async () => {
      const marker = newMarker();
      const other = podConfig("doomed", logs);
      const { podSandboxId } = await runtime.runPodSandbox(other);
      for (const name of ["a", "b"]) {
        const { containerId } = await runtime.createContainer(podSandboxId, containerConfig(name, ["sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait"], { marker }), other);
        await runtime.startContainer(containerId);
        await waitForLogText((await runtime.containerStatus(containerId)).logPath, "ready");
      }
      const pids = processesWithMarker(marker);
      assert.ok(pids.length >= 6);
      await runtime.removePodSandbox(podSandboxId);
      assert.deepEqual(processesWithMarker(marker), []);
      if (mode !== "plain") {
        // Not even zombies: the pod's PID 1 reaps its orphans. (Plain processes' orphans go to the host's
        // init, which reaps them on a normal host.)
        assert.deepEqual(pids.filter((pid) => existsSync(`/proc/${pid}`)), []);
      }
      assert.deepEqual(await runtime.listContainers({ podSandboxId }), []);
      assert.ok(existsSync(join(logs, "a", "0.log")), "logs belong to the kubelet and stay");
    });
  });
}
