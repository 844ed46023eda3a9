// `berth lint` as a user runs it: a real process, findings one per line, exit 0/1/2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/temp-dir.ts";

function berth(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/berth.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("a clean Jenkinsfile: exit 0, no output", () => {
  const r = berth("lint", "examples/seed-002/pod-template-yaml/Jenkinsfile", "examples/seed-001/declarative-yaml/Jenkinsfile");
  assert.equal(r.err, "");
  assert.equal(r.out, "");
  assert.equal(r.code, 0);
});

test("findings: one per line as file:line:column: message, exit 1", (t) => {
  const dir = tempDir(t, "berth-lint-");
  const file = join(dir, "Jenkinsfile");
  writeFileSync(file, "node {\n  sh 'make'\n  slackSend channel: '#ci'\n}\n}\n");
  const r = berth("lint", file);
  assert.equal(r.code, 1);
  assert.equal(r.out, `${file}:5:1: unexpected '}' — expected a statement (this '}' closes nothing)\n`);
  writeFileSync(file, "node {\n  sh 'make'\n  slackSend channel: '#ci'\n}\n");
  const s = berth("lint", file);
  assert.equal(s.code, 1);
  assert.equal(s.out, `${file}:3:3: unsupported step 'slackSend'\n`);
});

test("an unreadable file: exit 2 with the reason on stderr", () => {
  const r = berth("lint", "does/not/exist/Jenkinsfile");
  assert.equal(r.code, 2);
  assert.match(r.err, /^berth: cannot read does\/not\/exist\/Jenkinsfile: ENOENT/);
});
