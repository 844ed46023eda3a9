// podTemplate arguments to a template, as the plugin's PodTemplateStepExecution makes it (pure).
import { test } from "node:test";
import assert from "node:assert/strict";
import { podTemplateFromStep } from "../../src/build/pod-template-step.ts";
import { PipelineError, type Value } from "../../src/pipeline/runtime/values.ts";

const sym = (symbol: string, fields: Record<string, Value>): Value => new Map<Value, Value>([["$symbol", symbol], ...Object.entries(fields)]);
const ctx = (extra = {}) => ({ buildId: "folder/job#12", at: { file: "Jenkinsfile", line: 3, column: 1 }, readYamlFile: () => ({ text: "spec: {}\n", file: "/src/pod.yaml" }), random: () => 0, ...extra });

test("a generated label from the build id, a name with a suffix, helper symbols read as in berth.yaml", () => {
  const args = new Map<string, Value>([
    ["containers", [sym("containerTemplate", { name: "maven", image: "maven:3", command: "cat", ttyEnabled: true, envVars: [sym("envVar", { key: "A", value: "1" })] })]],
    ["volumes", [sym("emptyDirVolume", { mountPath: "/cache", memory: false })]],
    ["podRetention", sym("onFailure", {})],
    ["yamlMergeStrategy", sym("merge", {})],
    ["idleMinutes", 5],
  ]);
  const { template, generatedLabel } = podTemplateFromStep(args, ctx());
  assert.equal(generatedLabel, "folder_job_12-bbbbb");
  assert.equal(template.label, "folder_job_12-bbbbb");
  assert.equal(template.name, "folder_job_12-bbbbb-bbbbb");
  assert.deepEqual(template.containers, [{ name: "maven", image: "maven:3", command: "cat", ttyEnabled: true, envVars: [{ kind: "envVar", key: "A", value: "1" }] }]);
  assert.deepEqual(template.volumes, [{ kind: "emptyDirVolume", mountPath: "/cache", memory: false }]);
  assert.equal(template.podRetention, "onFailure");
  assert.equal(template.yamlMergeStrategy, "merge");
  assert.equal(template.idleMinutes, 5);
  assert.equal(template.inheritFrom, undefined);
});

test("nesting: the enclosing template is the parent unless inheritFrom says otherwise; a given label is no POD_LABEL", () => {
  const enclosing = { name: "outer-xyz", namespace: "ci" };
  const nested = podTemplateFromStep(new Map<string, Value>([["label", "inner"]]), ctx({ enclosing }));
  assert.equal(nested.template.inheritFrom, "outer-xyz");
  assert.equal(nested.template.namespace, "ci");
  assert.equal(nested.generatedLabel, undefined);
  assert.equal(nested.template.label, "inner");
  assert.equal(podTemplateFromStep(new Map<string, Value>([["inheritFrom", ""]]), ctx({ enclosing })).template.inheritFrom, undefined);
  assert.equal(podTemplateFromStep(new Map<string, Value>([["inheritFrom", "base"]]), ctx({ enclosing })).template.inheritFrom, "base");
});

test("yamlFile is read and keeps its file for error positions; yaml and yamlFile together, and bad fields, are errors", () => {
  const { template } = podTemplateFromStep(new Map<string, Value>([["yamlFile", "pod.yaml"]]), ctx());
  assert.equal(template.yaml, "spec: {}\n");
  assert.deepEqual(template.yamlAt, { file: "/src/pod.yaml", line: 1, column: 1 });
  assert.throws(() => podTemplateFromStep(new Map<string, Value>([["yamlFile", "pod.yaml"], ["yaml", "x: 1"]]), ctx()), /either yaml or yamlFile/);
  assert.throws(() => podTemplateFromStep(new Map<string, Value>([["containers", [sym("containerTemplate", { image: "x" })]]]), ctx()), (e: unknown) => e instanceof PipelineError && /needs a name/.test(e.message));
  assert.equal(podTemplateFromStep(new Map<string, Value>([["yaml", "spec: {}"]]), ctx({ yamlAt: { line: 7, column: 12 } })).template.yamlAt?.line, 7);
});
