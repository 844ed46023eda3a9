// stash in one agent pod, unstash in another, on the embedded cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { sh, StepError } from "../../src/steps/sh.ts";
import { stash, unstash } from "../../src/steps/stash.ts";
import { SecretMasker } from "../../src/steps/masker.ts";
import { Log, startEmbeddedController } from "../controller/helpers.ts";
import { WORKSPACE, stepContext, type TestStepContext } from "./helpers.ts";
import { tempDir } from "../support/temp-dir.ts";

/** Two agent pods of the same build. */
async function twoPods(t: { after(fn: () => unknown): void }): Promise<[TestStepContext, TestStepContext]> {
  const { controller } = await startEmbeddedController(t, [{ name: "build", label: "build", containers: [] }]);
  const [one, two] = await Promise.all([stepContext(controller), stepContext(controller)]);
  assert.notEqual(one.agent.podName, two.agent.podName);
  return [one, two];
}

test("stash in one pod, unstash in another: includes, excludes, default excludes, links, subdirectories", async (t) => {
  const [one, two] = await twoPods(t);
  const stashes = tempDir(t, "berth-stash-");
  await sh(one, {
    script: "#!/bin/sh\nmkdir -p app/bin app/.git docs\necho run > app/bin/run.sh; chmod +x app/bin/run.sh; echo cfg > app/app.conf; echo x > app/.git/HEAD; echo d > docs/a.md; ln -s app.conf app/current.conf",
  });
  assert.equal(await stash(one, stashes, { name: "app", includes: "app/**", excludes: "**/*.md" }), 3);
  assert.deepEqual(one.log.lines, ["Stashed 3 file(s)"]);
  await unstash({ ...two, cwd: `${WORKSPACE}/restored` }, stashes, "app");
  const listing = await sh(two, { script: "#!/bin/sh\ncd restored && find . | sort && cat app/current.conf && test -x app/bin/run.sh && test -L app/current.conf && echo ok", returnStdout: true });
  assert.equal(listing, [".", "./app", "./app/app.conf", "./app/bin", "./app/bin/run.sh", "./app/current.conf", "cfg", "ok", ""].join("\n"));

  // All files by default; stashing a name again replaces it; the .git directory goes only if asked.
  assert.equal(await stash(one, stashes, { name: "app", useDefaultExcludes: false }), 5);
  await unstash(two, stashes, "app");
  assert.equal(await sh(two, { script: "cat app/.git/HEAD docs/a.md", returnStdout: true }), "x\nd\n");
});

test("stash and unstash errors, as Jenkins words them", async (t) => {
  const [one] = await twoPods(t);
  const stashes = tempDir(t, "berth-stash-");
  await assert.rejects(unstash(one, stashes, "nothing"), (e: unknown) => e instanceof StepError && e.message === "No such saved stash ‘nothing’");
  await assert.rejects(stash(one, stashes, { name: "none", includes: "**/*.nope" }), (e: unknown) => e instanceof StepError && e.message === "No files included in stash ‘none’");
  assert.equal(await stash(one, stashes, { name: "none", includes: "**/*.nope", allowEmpty: true }), 0);
  await unstash(one, stashes, "none");
  await assert.rejects(stash(one, stashes, { name: "a/b" }), /‘\/’ is an unsafe character/);
});

test("a large stash (50 MB in 400 files) moves between pods intact, with the controller's memory bounded", async (t) => {
  const [one, two] = await twoPods(t);
  const stashes = tempDir(t, "berth-stash-");
  await sh(one, {
    script: "#!/bin/sh\nset -e\nfor d in 1 2 3 4 5 6 7 8; do mkdir -p big/d$d; for f in $(seq 1 50); do head -c 131072 /dev/urandom > big/d$d/f$f.bin; done; done",
  });
  const checksums = "#!/bin/sh\ncd big && find . -type f | sort | xargs sha256sum";
  const expected = await sh(one, { script: checksums, returnStdout: true });
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  gc();
  const baseline = used();
  let peak = baseline;
  // What the controller holds, not garbage it has yet to collect.
  const sampler = setInterval(() => {
    gc();
    peak = Math.max(peak, used());
  }, 100);
  try {
    assert.equal(await stash(one, stashes, { name: "big", includes: "big/" }), 400);
    await unstash(two, stashes, "big");
  } finally {
    clearInterval(sampler);
  }
  assert.equal(await sh(two, { script: checksums, returnStdout: true }), expected);
  const grown = (peak - baseline) / 1024 / 1024;
  t.diagnostic(`heap and buffers peaked ${grown.toFixed(1)} MB above the start while moving 50 MB`);
  assert.ok(grown < 25, `the controller's memory grew ${grown.toFixed(1)} MB while moving 50 MB`);
});

test("stash and unstash with a tar that has no --null (BusyBox, as in Alpine images and the default agent image)", async (t) => {
  // Alpine's BusyBox tar reads a file list (-T) but knows no --null; this stand-in behaves the same.
  const tools = tempDir(t, "berth-tar-");
  writeFileSync(join(tools, "tar"), '#!/bin/sh\ncase " $* " in *" --help "*) echo "BusyBox v1.36 multi-call binary."; exit 0;; *" --null "*) echo "tar: unrecognized option --null" >&2; exit 1;; esac\nexec /usr/bin/tar "$@"\n', { mode: 0o755 });
  const path = `${tools}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
  const { controller } = await startEmbeddedController(t, [{ name: "bb", label: "bb", containers: [{ name: "jnlp", envVars: [{ kind: "envVar", key: "PATH", value: path }] }] }]);
  const [one, two] = await Promise.all([stepContext(controller, { label: "bb" }), stepContext(controller, { label: "bb" })]);
  assert.match(String(await sh(one, { script: "#!/bin/sh\ntar --help", returnStdout: true })), /BusyBox/);
  await sh(one, { script: "#!/bin/sh\nmkdir -p src/a && echo one > 'src/a/with space.txt' && echo two > src/b.txt" });
  const stashes = tempDir(t, "berth-stash-");
  assert.equal(await stash(one, stashes, { name: "src", includes: "src/**" }), 2);
  await unstash(two, stashes, "src");
  assert.equal(await sh(two, { script: "cat 'src/a/with space.txt' src/b.txt", returnStdout: true }), "one\ntwo\n");
});

test("a tar that cannot pack the list fails the stash instead of saving an empty one", async (t) => {
  const tools = tempDir(t, "berth-tar-");
  writeFileSync(join(tools, "tar"), '#!/bin/sh\necho "tar: invalid option -- \'T\'" >&2; exit 1\n', { mode: 0o755 });
  const path = `${tools}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
  const { controller } = await startEmbeddedController(t, [{ name: "bb", label: "bb", containers: [{ name: "jnlp", envVars: [{ kind: "envVar", key: "PATH", value: path }] }] }]);
  const agent = await controller.requestAgent({ label: "bb", log: new Log() });
  await agent.run(["sh", "-c", `mkdir -p ${WORKSPACE} && echo x > ${WORKSPACE}/f`]).result;
  const ctx = { agent, log: new Log(), cwd: WORKSPACE, env: {}, masker: new SecretMasker([]) };
  await assert.rejects(stash(ctx, tempDir(t, "berth-stash-"), { name: "s" }), /tar failed in .*invalid option -- 'T'/);
});
