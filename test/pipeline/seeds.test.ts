// Every Jenkinsfile snippet of seeds 001 and 002, verbatim: the Groovy ones parse and lint clean; the
// documentation fragments fail with one precise message each, as they would in Jenkins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SEED_FILES, twinOf } from "./seed-files.ts";
import { lintSource } from "../../src/pipeline/lint.ts";
import { formatDiagnostic } from "../../src/pipeline/diagnostics.ts";


const FRAGMENTS: Record<string, string> = {
  "seed-001-jnlp-image-line.groovy": "1:121: unexpected ',' — expected end of statement (a new line or ';')",
  "seed-001-inherit-from.groovy": "1:55: unexpected 'containers' — expected ',' or ')' in the argument list",
  "seed-001-container-options.groovy": "16:1: '...' is not Groovy (documentation elides code with it; write the code out)",
  "seed-001-declarative-yamlfile.groovy": "10:1: '...' is not Groovy (documentation elides code with it; write the code out)",
  "seed-001-declarative-container-template.groovy": "14:10: '...' is not Groovy (documentation elides code with it; write the code out)",
};

const files = Object.keys(SEED_FILES).sort();

test("all 17 seed snippets are in examples/", () => {
  assert.equal(files.length, 17);
});

for (const f of files) {
  const path = SEED_FILES[f]!;
  const expected = FRAGMENTS[f];
  test(expected ? `${f} is a documentation fragment: one precise error` : `${f} parses and lints clean`, () => {
    const { diagnostics } = lintSource(path, readFileSync(path, "utf8"));
    const lines = diagnostics.map(formatDiagnostic);
    assert.deepEqual(lines, expected ? [`${path}:${expected}`] : []);
  });
}

for (const f of Object.keys(FRAGMENTS)) {
  const path = twinOf(f);
  test(`${f} completed into Groovy lints clean`, () => {
    assert.deepEqual(lintSource(path, readFileSync(path, "utf8")).diagnostics.map(formatDiagnostic), []);
  });
}

test("the declarative seed's model: kubernetes agent options and one stage with steps", () => {
  const path = SEED_FILES["seed-001-declarative-yaml.groovy"]!;
  const { pipeline } = lintSource(path, readFileSync(path, "utf8"));
  assert.ok(pipeline);
  assert.equal(pipeline.agent?.type, "kubernetes");
  if (pipeline.agent?.type !== "kubernetes") return;
  assert.deepEqual(Object.keys(pipeline.agent.options), ["label", "defaultContainer", "yaml"]);
  const yaml = pipeline.agent.options.yaml!.value;
  assert.equal(yaml.kind, "Literal"); // a """ string without ${} stays a plain string
  assert.match(String(yaml.kind === "Literal" && yaml.value), /^\napiVersion: v1\nkind: Pod\n/);
  assert.equal(pipeline.stages.length, 1);
  assert.equal(pipeline.stages[0]!.displayName, "Run maven");
  assert.equal(pipeline.stages[0]!.body?.kind, "steps");
});
