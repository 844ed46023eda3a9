// `berth template render` and `list` as a user runs them: real process, real files, exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { tempDir } from "../support/temp-dir.ts";

function berth(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/berth.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SEED_002 = "examples/seed-002/berth.yaml";

test("render prints a deterministic pod with the given identity, secret masked", () => {
  const args = ["template", "render", "--config", SEED_002, "--template", "hello-kb", "--agent-name", "hello-kb-1", "--secret", "s3cr3t-value", "--controller-url", "http://ci.example:8080"];
  const first = berth(...args);
  assert.equal(first.code, 0, first.err);
  assert.equal(berth(...args).out, first.out);
  const pod = parse(first.out);
  assert.equal(pod.metadata.name, "hello-kb-1");
  const env = Object.fromEntries(pod.spec.containers.at(-1).env.map((e: { name: string; value: string }) => [e.name, e.value]));
  assert.equal(env.JENKINS_SECRET, "********");
  assert.equal(env.JENKINS_URL, "http://ci.example:8080/");
  assert.ok(!first.out.includes("s3cr3t-value"));
  const shown = berth(...args, "--show-secret", "-o", "json");
  assert.equal(shown.code, 0, shown.err);
  assert.ok(JSON.parse(shown.out).spec.containers.at(-1).env.some((e: { value: string }) => e.value === "s3cr3t-value"));
});

test("without --agent-name the pod is named after the template with a random suffix", () => {
  const r = berth("template", "render", "--config", SEED_002, "--template", "hello-kb");
  assert.equal(r.code, 0, r.err);
  assert.match(parse(r.out).metadata.name, /^hello-kb-[a-z0-9]{5}$/);
});

test("--explain names the template behind each field and what it shadowed", () => {
  const r = berth("template", "render", "--config", SEED_002, "--template", "hello-kb-mixed", "--agent-name", "a", "--explain");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /template chain \(applied in this order\): defaults -> hello-kb -> hello-kb-mixed/);
  assert.match(r.out, /spec\.containers\[maven\]\.image: "maven:3\.6\.3-jdk-11" +<- hello-kb \(fields\)\n +shadows "maven:3\.8\.1-jdk-11" from hello-kb-mixed \(yaml\)/);
  assert.match(r.out, /spec\.containers\[maven\]\.env\[MAVEN_OPTS\]\.value: "-Xmx1g" +<- hello-kb-mixed \(yaml\)/);
  assert.match(r.out, /spec\.containers\[maven\]\.env\[ORG\]\.value: "example" +<- defaults \(fields\)/);
  assert.match(r.out, /spec\.restartPolicy: "Never" +<- berth default/);
  assert.match(r.out, /JENKINS_SECRET\]\.value: "\*\*\*\*\*\*\*\*"/);
});

test("list shows clouds, templates and their resolved parents", () => {
  const r = berth("template", "list", "--config", SEED_002);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^cloud kubernetes \(server from kubeconfig or service account, namespace default\)/);
  assert.match(r.out, /hello-kb-mixed\n.*\n +inherits: hello-kb +resolved parents: defaults -> hello-kb/);
});

test("bad input: file:line:column and exit code 2, no stack trace", (t) => {
  const dir = tempDir(t, "berth-cli-");
  const bad = join(dir, "berth.yaml");
  writeFileSync(bad, "clouds:\n- kubernetes:\n    templates:\n    - name: t\n      containers:\n      - name: Maven\n        image: maven\n");
  const invalid = berth("template", "render", "--config", bad, "--template", "t");
  assert.equal(invalid.code, 2);
  assert.equal(invalid.err, `${bad}:4:7: template 't' builds an invalid pod:\n  spec.containers[Maven].name: container names must match RFC 1123: lowercase letters, digits and '-', starting and ending alphanumeric, at most 63 (got 'Maven') (from t (fields))\n`);
  writeFileSync(bad, "clouds:\n- kubernetes:\n    templates:\n    - name: t\n      yaml: |\n        spec:\n          containers: [\n");
  const yamlError = berth("template", "render", "--config", bad, "--template", "t");
  assert.equal(yamlError.code, 2);
  assert.match(yamlError.err, new RegExp(`^${bad.replace(/[.]/g, "\\.")}:\\d+:\\d+: invalid yaml in template 't'`));
  assert.ok(!yamlError.err.includes("    at "), yamlError.err);
  const missing = berth("template", "render", "--config", join(dir, "nope.yaml"), "--template", "t");
  assert.equal(missing.code, 2);
  assert.match(missing.err, /nope\.yaml:1:1: cannot read config file: no such file/);
  const unknown = berth("template", "render", "--config", SEED_002, "--template", "nope");
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /no template 'nope' in cloud 'kubernetes' \(templates: defaults, hello-kb/);
  const flag = berth("template", "render", "--config", SEED_002, "--template", "hello-kb", "-o", "xml");
  assert.equal(flag.code, 2);
  assert.match(flag.err, /--output must be yaml or json/);
  assert.equal(berth("template", "render", "--bogus").code, 2);
});
