// The spawner helper process: every process of the runtime is forked there, with its output connected
// straight back to the runtime over Unix sockets.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Spawner, type SpawnedProcess } from "../../../src/cluster/runtime/process/spawner.ts";
import { collect } from "./helpers.ts";

let spawner: Spawner;
before(async () => {
  spawner = await Spawner.start();
});
after(() => spawner.close());

const env = { PATH: "/usr/local/bin:/usr/bin:/bin" };

async function outcome(child: SpawnedProcess): Promise<{ stdout: string; stderr: string; line: string; code: number | null }> {
  const [stdout, stderr, line, exit] = await Promise.all([collect(child.stdout), collect(child.stderr), child.line, child.exit]);
  return { stdout, stderr, line, code: exit.code };
}

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
  const own = await Spawner.start();
  const pid = own.pid as number;
  await own.close();
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
});
