// sh and containerLog in a real agent pod on the embedded cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sh, StepError } from "../../src/steps/sh.ts";
import { containerLog } from "../../src/steps/container-log.ts";
import { deleteDir, fileExists, readFile, writeFile } from "../../src/steps/files.ts";
import { WORKSPACE, agentContext, type TestStepContext } from "./helpers.ts";

/** A pod with a `db` container that prints three lines, GREETING in the environment. */
const podContext = (t: { after(fn: () => unknown): void }, secrets: string[] = []): Promise<TestStepContext> =>
  agentContext(t, [{ name: "db", image: "mariadb", command: "sh -c", args: "'echo one; echo two; echo three; exec sleep 3600'" }], { env: { GREETING: "hello" }, secrets });

test("sh: traced commands in the log, exit codes, returnStatus, returnStdout untrimmed, #! scripts", async (t) => {
  const ctx = await podContext(t);
  assert.equal(await sh(ctx, { script: 'echo "$GREETING from $(pwd)"' }), undefined);
  assert.deepEqual(ctx.log.lines, ['+ pwd', `+ echo hello from ${WORKSPACE}`, `hello from ${WORKSPACE}`]);
  await assert.rejects(sh(ctx, { script: "echo before\nexit 3\necho after" }), (e: unknown) => e instanceof StepError && e.message === "script returned exit code 3");
  assert.ok(!ctx.log.text.includes("after"));
  assert.equal(await sh(ctx, { script: "exit 1", returnStatus: true }), 1);
  assert.equal(await sh(ctx, { script: "printf 'a\\nb\\n'", returnStdout: true }), "a\nb\n");
  assert.equal(await sh(ctx, { script: "#!/bin/sh\necho no trace here", returnStdout: true }), "no trace here\n");
  assert.equal(await sh(ctx, { script: "kill -9 $$", returnStatus: true }), 137);
  // Only the running step's own script is left next to the workspace.
  assert.equal(await sh(ctx, { script: `ls ${WORKSPACE}@tmp`, returnStdout: true }).then((out) => String(out).trim().split("\n").length), 1);
  await assert.rejects(sh({ ...ctx, cwd: "/no/such/dir" }, { script: "true" }), /could not save the script to \/no\/such\/dir@tmp\/durable-\w+\/script.sh: .*(EACCES|EROFS|ENOENT|EPERM)|the working directory \/no\/such\/dir does not exist/);
});

test("sh: secrets are masked in the log, also when split across output chunks", async (t) => {
  const ctx = await podContext(t, ["t0p-s3cret"]);
  await sh(ctx, { script: "#!/bin/sh\nprintf 't0p-'; sleep 0.2; printf 's3cret and more\\n'" });
  assert.deepEqual(ctx.log.lines, ["**** and more"]);
});

test("sh: an aborted step is stopped, whole process tree included, and the log says so", async (t) => {
  const ctx = await podContext(t);
  const controller = new AbortController();
  const step = sh({ ...ctx, signal: controller.signal }, { script: "sleep 300 &\nsleep 300" });
  await new Promise((r) => setTimeout(r, 500));
  controller.abort();
  await assert.rejects(step, /script was aborted/);
  assert.match(ctx.log.text, /Sending interrupt signal to process/);
  const left = await sh(ctx, { script: "#!/bin/sh\npgrep -f 'sleep 300' | wc -l", returnStdout: true });
  assert.equal(String(left).trim(), "0");
});

test("containerLog: printed between markers, or returned; options applied; errors do not fail the build", async (t) => {
  const ctx = await podContext(t);
  await sh(ctx, { script: "#!/bin/sh\nsleep 0.5" });
  await containerLog(ctx.agent, ctx.log, ctx.masker, { name: "db" });
  assert.deepEqual(ctx.log.lines, [`> start log of container 'db' in pod '${ctx.agent.podName}'`, "one", "two", "three", `> end log of container 'db' in pod '${ctx.agent.podName}'`]);
  assert.equal(await containerLog(ctx.agent, ctx.log, ctx.masker, { name: "db", returnLog: true, tailingLines: 1 }), "three\n");
  assert.equal(await containerLog(ctx.agent, ctx.log, ctx.masker, { name: "db", returnLog: true, limitBytes: 4 }), "one\n");
  assert.equal(await containerLog(ctx.agent, ctx.log, ctx.masker, { name: "nope", returnLog: true }), "");
  assert.match(ctx.log.text, /Failed to get logs for container nope/);
});

test("file steps: writeFile, readFile (text and base64), fileExists, deleteDir, with clear errors", async (t) => {
  const ctx = await podContext(t);
  await writeFile(ctx, { file: "out/notes.txt", text: "héllo\nworld\n" });
  assert.equal(await readFile(ctx, { file: "out/notes.txt" }), "héllo\nworld\n");
  assert.equal(await readFile(ctx, { file: `${WORKSPACE}/out/notes.txt`, encoding: "Base64" }), Buffer.from("héllo\nworld\n").toString("base64"));
  await writeFile(ctx, { file: "bin.dat", text: Buffer.from([0, 255, 10]).toString("base64"), encoding: "base64" });
  assert.equal(await readFile(ctx, { file: "bin.dat", encoding: "base64" }), Buffer.from([0, 255, 10]).toString("base64"));
  assert.equal(await fileExists(ctx, { file: "out/notes.txt" }), true);
  assert.equal(await fileExists(ctx, { file: "nope" }), false);
  await assert.rejects(readFile(ctx, { file: "nope" }), /readFile: cannot read \/home\/jenkins\/agent\/workspace\/job\/nope: .*No such file/);
  await deleteDir(ctx);
  assert.equal(await fileExists(ctx, { file: "out/notes.txt" }), false);
});
