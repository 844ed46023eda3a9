// The Jenkins Kubernetes plugin's own example pipelines (its examples/ folder, kept verbatim in
// fixtures/plugin-examples with their source in the README there): every one parses and `berth lint`
// finds nothing, through the library and through the CLI as a user runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse } from "../../src/pipeline/parser.ts";
import { lintSource } from "../../src/pipeline/lint.ts";
import { formatDiagnostic } from "../../src/pipeline/diagnostics.ts";

const DIR = "test/pipeline/fixtures/plugin-examples";

const EXAMPLES = [
  "containerLog.groovy", "currentPodLabel.groovy", "declarative-multiple-containers.groovy", "declarative.groovy",
  "declarative_from_yaml_file/Jenkinsfile", "dind.groovy", "docker.groovy", "dood.groovy", "kaniko-declarative.groovy",
  "kaniko-gcr.groovy", "kaniko.groovy", "maven-with-cache.groovy", "maven-yaml.groovy", "maven.groovy", "multi-container.groovy",
  "older-revisions/containerLog.groovy", "older-revisions/kaniko.groovy", "older-revisions/multi-container.groovy",
  "older-revisions/selenium.groovy", "openshift-home-yaml.groovy", "selenium.groovy", "windows.groovy",
];
const DECLARATIVE = new Set(["declarative-multiple-containers.groovy", "declarative.groovy", "declarative_from_yaml_file/Jenkinsfile", "kaniko-declarative.groovy"]);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

const pipelines = filesUnder(DIR).map((f) => relative(DIR, f)).filter((f) => f.endsWith(".groovy") || /(^|\/)Jenkinsfile[^/]*$/.test(f)).sort();
const read = (f: string) => readFileSync(join(DIR, f), "utf8");

test("the fixtures are the plugin's 18 example pipelines and 4 older revisions of them", () => {
  assert.deepEqual(pipelines, EXAMPLES);
});

test("the README names the source, commit and path of every fixture file, and the license", () => {
  const readme = read("README.md");
  assert.match(readme, /https:\/\/github\.com\/jenkinsci\/kubernetes-plugin/);
  assert.match(readme, /Apache License 2\.0/);
  for (const f of filesUnder(DIR).map((x) => relative(DIR, x)).filter((x) => x !== "README.md")) {
    const upstream = `examples/${f.replace(/^older-revisions\//, "")}`;
    assert.match(readme, new RegExp(`\\| \`${f}\` \\| \`${upstream}\` \\| \`[0-9a-f]{40}\` \\|`), `${f} is listed with its upstream path and commit`);
  }
});

for (const f of pipelines) {
  test(`${f} parses and lints clean`, () => {
    const path = join(DIR, f);
    const text = read(f);
    const parsed = parse(path, text);
    assert.deepEqual(parsed.diagnostics.map(formatDiagnostic), []);
    assert.ok(parsed.script.body.length > 0);
    const { diagnostics, pipeline } = lintSource(path, text);
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.equal(pipeline !== null, DECLARATIVE.has(f), DECLARATIVE.has(f) ? "a declarative pipeline" : "a scripted pipeline");
    if (pipeline) assert.equal(pipeline.agent?.type, "kubernetes");
  });
}

test("declarative_from_yaml_file reads the pod kept beside it (the path is relative to the plugin repository's root)", () => {
  const path = join(DIR, "declarative_from_yaml_file/Jenkinsfile");
  const { pipeline } = lintSource(path, readFileSync(path, "utf8"));
  assert.ok(pipeline?.agent?.type === "kubernetes");
  const yamlFile = pipeline.agent.options.yamlFile?.value;
  assert.ok(yamlFile?.kind === "Literal");
  assert.equal(yamlFile.value, "examples/declarative_from_yaml_file/KubernetesPod.yaml");
  assert.ok(existsSync(join(DIR, String(yamlFile.value).replace(/^examples\//, ""))));
});

test("the deprecated declarative containerTemplate { } block is read field by field", () => {
  const path = join(DIR, "declarative.groovy");
  const { pipeline } = lintSource(path, readFileSync(path, "utf8"));
  assert.ok(pipeline?.agent?.type === "kubernetes");
  assert.deepEqual(Object.keys(pipeline.agent.options), ["label"]);
  assert.deepEqual(Object.keys(pipeline.agent.containerTemplate ?? {}), ["name", "image", "ttyEnabled", "command"]);
});

test("berth lint on every example at once: exit 0, no output", () => {
  const r = spawnSync(process.execPath, ["bin/berth.js", "lint", ...pipelines.map((f) => join(DIR, f))], { encoding: "utf8" });
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "");
  assert.equal(r.status, 0);
});
