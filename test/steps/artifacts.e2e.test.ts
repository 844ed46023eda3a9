// archiveArtifacts, stash and unstash in real agent pods on the embedded cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { sh, StepError } from "../../src/steps/sh.ts";
import { archiveArtifacts, readFingerprints } from "../../src/steps/artifacts.ts";
import { agentContext } from "./helpers.ts";
import { tempDir } from "../support/temp-dir.ts";

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

test("archiveArtifacts: globs, excludes, default excludes, case, fingerprints, relative paths kept", async (t) => {
  const ctx = await agentContext(t);
  await sh(ctx, {
    script: [
      "#!/bin/sh",
      "mkdir -p target/lib target/classes .git build/sub 'odd dir'",
      "echo app > target/app.jar; echo lib > target/lib/dep.jar; echo class > target/classes/A.class",
      "echo head > .git/HEAD; echo backup > target/app.jar~; echo LOUD > target/LOUD.JAR",
      "echo r > build/sub/report.txt; echo s > 'odd dir/it'\\''s.txt'",
      "ln -s ../target/app.jar build/link.jar",
    ].join("\n"),
  });
  const archive = join(tempDir(t, "berth-archive-"), "archive");
  const archived = await archiveArtifacts(ctx, archive, { artifacts: "target/**/*.jar, build/, odd dir/*", excludes: "**/sub/**", fingerprint: true });
  assert.deepEqual([...archived].sort(), ["build/link.jar", "odd dir/it's.txt", "target/app.jar", "target/lib/dep.jar"]);
  assert.deepEqual(tree(archive), ["build/link.jar", "odd dir/it's.txt", "target/app.jar", "target/lib/dep.jar"]);
  assert.equal(readFileSync(join(archive, "build/link.jar"), "utf8"), "app\n"); // symbolic links followed
  assert.match(ctx.log.text, /^Archiving artifacts$/m);
  assert.match(ctx.log.text, /^Recording fingerprints$/m);
  const sha = (text: string) => createHash("sha256").update(text).digest("hex");
  const fingerprints = await readFingerprints(archive);
  assert.equal(fingerprints["target/app.jar"], sha("app\n"));
  assert.equal(fingerprints["target/lib/dep.jar"], sha("lib\n"));

  // Case-insensitive, default excludes off; a second call adds to the same archive.
  const more = await archiveArtifacts(ctx, archive, { artifacts: "**/*.jar*, .git/*", caseSensitive: false, defaultExcludes: false });
  assert.deepEqual([...more].sort(), [".git/HEAD", "build/link.jar", "target/LOUD.JAR", "target/app.jar", "target/app.jar~", "target/lib/dep.jar"]);
  assert.ok(tree(archive).includes("target/LOUD.JAR"));
  assert.deepEqual((await archiveArtifacts(ctx, archive, { artifacts: "**/*.jar*" })).sort(), ["build/link.jar", "target/app.jar", "target/lib/dep.jar"]);
});

test("archiveArtifacts: an empty match fails the step unless allowEmptyArchive", async (t) => {
  const ctx = await agentContext(t);
  const archive = join(tempDir(t, "berth-archive-"), "archive");
  await assert.rejects(
    archiveArtifacts(ctx, archive, { artifacts: "**/*.zip" }),
    (e: unknown) => e instanceof StepError && e.message === 'No artifacts found that match the file pattern "**/*.zip". Configuration error?',
  );
  assert.deepEqual(await archiveArtifacts(ctx, archive, { artifacts: "**/*.zip", allowEmptyArchive: true }), []);
  assert.match(ctx.log.text, /No artifacts found that match the file pattern "\*\*\/\*\.zip"/);
  // A working directory that does not exist holds no artifacts either.
  await assert.rejects(archiveArtifacts({ ...ctx, cwd: "/no/such/dir" }, archive, { artifacts: "**" }), /No artifacts found/);
});
