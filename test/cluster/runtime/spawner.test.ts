// The spawner helper process: every process of the runtime is forked there, with its output connected
// straight back to the runtime over Unix sockets. Two helpers speak the same protocol: the compiled
// launcher's spawn server (spawn-server.c) and the Node one it replaces where no C compiler is available.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildLauncher } from "../../../src/cluster/runtime/process/launcher.ts";
import { isAlive } from "../../../src/cluster/runtime/process/process-tree.ts";
import { Spawner, type SpawnedProcess } from "../../../src/cluster/runtime/process/spawner.ts";
import { collect } from "./helpers.ts";

const build = process.platform === "linux" ? await buildLauncher() : { unavailableBecause: "Linux only" };
const launcher = "path" in build ? build.path : undefined;
const env = { PATH: "/usr/local/bin:/usr/bin:/bin" };

async function outcome(child: SpawnedProcess): Promise<{ stdout: string; stderr: string; line: string; code: number | null }> {
  const [stdout, stderr, line, exit] = await Promise.all([collect(child.stdout), collect(child.stderr), child.line, child.exit]);
  return { stdout, stderr, line, code: exit.code };
}

for (const helper of ["node", "launcher"] as const) {
  const skip = helper === "launcher" && !launcher ? `no compiled launcher: ${"unavailableBecause" in build ? build.unavailableBecause : ""}` : false;
  describe(`spawner (${helper})`, { skip }, () => {
    let spawner: Spawner;
    const start = (): Promise<Spawner> => Spawner.start(helper === "launcher" ? launcher : undefined);
    before(async () => {
      spawner = await start();
    });
    after(() => spawner.close());

    test("output, stdin, the control line and the exit status come back", async () => {
      const child = await spawner.spawn({ file: "/bin/sh", args: ["-c", 'echo started >&3; read -r x; echo "got $x"; echo err >&2; exit 3'], env, stdin: true });
      assert.ok(child.pid && child.pid > 0);
      child.stdin?.end("hello\n");
      assert.deepEqual(await outcome(child), { stdout: "got hello\n", stderr: "err\n", line: "started", code: 3 });
    });

    test("a program that cannot be started ends with an error line", async () => {
      const child = await spawner.spawn({ file: "/no/such/program", args: [], env, stdin: false });
      const result = await outcome(child);
      assert.match(result.line, /^error .*ENOENT/);
      assert.equal(result.code, 128);
    });

    test("a pause process: \"ready\" as the line, and the exit", async () => {
      const pause = await spawner.spawn({ file: "/bin/sh", args: ["-c", "echo ready; exit 4"], env, stdin: true }, "pause");
      assert.equal(await pause.line, "ready");
      assert.equal((await pause.exit).code, 4);
    });

    test("a pause process that fails before it is ready: an error line, its stderr with the exit", async () => {
      const pause = await spawner.spawn({ file: "/bin/sh", args: ["-c", "echo gone >&2; exit 4"], env, stdin: true }, "pause");
      assert.match(await pause.line, /^error /);
      assert.deepEqual(await pause.exit, { code: 4, signal: null, stderr: "gone\n" });
    });

    test("a pause process's stdin reaches end of file when the spawner is gone", async () => {
      const own = await start();
      const pause = await own.spawn({ file: "/bin/sh", args: ["-c", "echo ready; read -r x; exit 0"], env, stdin: true }, "pause");
      assert.equal(await pause.line, "ready");
      await own.close();
      while (isAlive(pause.pid as number)) await new Promise((resolve) => setTimeout(resolve, 10));
    });

    test("a process that exits without a control line while something it left holds the pipe still gets one", async () => {
      const child = await spawner.spawn({ file: "/bin/sh", args: ["-c", "sleep 30 & exit 0"], env, stdin: false });
      assert.equal((await child.exit).code, 0);
      assert.equal(await child.line, "error the launcher exited before the command started");
      process.kill(-(child.pid as number), "SIGKILL");
    });

    test("a signal death comes back as the signal", async () => {
      const child = await spawner.spawn({ file: "/bin/sh", args: ["-c", "echo started >&3; kill -TERM $$"], env, stdin: false });
      const exit = await child.exit;
      assert.deepEqual([exit.code, exit.signal], [null, "SIGTERM"]);
    });

    test("arguments and environment arrive byte for byte; a null byte is refused", async () => {
      const odd = "sp ace\ttab\nnew 'q' \"d\" ü";
      const child = await spawner.spawn({ file: "/bin/sh", args: ["-c", 'echo started >&3; printf "%s|%s" "$1" "$ODD"', "sh", odd], env: { ...env, ODD: odd }, stdin: false });
      assert.equal((await outcome(child)).stdout, `${odd}|${odd}`);
      await assert.rejects(spawner.spawn({ file: "/bin/sh", args: ["a\0b"], env, stdin: false }), /null byte/);
    });

    test("a burst of spawns while this event loop is busy: every output arrives, in full, at the right process", async () => {
      const count = 300;
      const started = Array.from({ length: count }, (_, i) => spawner.spawn({ file: "/bin/sh", args: ["-c", `echo started >&3; echo out-${i}; echo err-${i} >&2`], env, stdin: false }));
      // Keep the event loop from accepting connections for a while, as a busy cluster process does.
      const until = Date.now() + 300;
      while (Date.now() < until);
      const results = await Promise.all(started.map(async (child) => outcome(await child)));
      results.forEach((result, i) => assert.deepEqual(result, { stdout: `out-${i}\n`, stderr: `err-${i}\n`, line: "started", code: 0 }));
    });

    test("the helper exits when the runtime closes it", async () => {
      const own = await start();
      const pid = own.pid as number;
      await own.close();
      assert.throws(() => process.kill(pid, 0), /ESRCH/);
    });
  });
}
