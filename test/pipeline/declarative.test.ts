// The declarative model: every section and directive lands in the typed model with its position, and
// each structural mistake Jenkins rejects is reported where it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "../../src/pipeline/parser.ts";
import { buildDeclarative } from "../../src/pipeline/declarative.ts";
import { formatDiagnostic } from "../../src/pipeline/diagnostics.ts";
import type * as M from "../../src/pipeline/declarative-model.ts";
import { show } from "./show.ts";

function build(src: string) {
  const { script, diagnostics } = parse("Jenkinsfile", src);
  assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  return buildDeclarative(script);
}
const model = (src: string): M.Pipeline => {
  const r = build(src);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  assert.ok(r.pipeline);
  return r.pipeline;
};
const problems = (src: string) => build(src).diagnostics.map(formatDiagnostic);

const FULL = readFileSync("test/pipeline/fixtures/declarative-full.groovy", "utf8");

test("a full pipeline lands in the model, section by section", () => {
  const p = model(FULL);
  assert.equal(p.line, 2);
  assert.equal(p.agent?.type, "kubernetes");
  if (p.agent?.type === "kubernetes") {
    assert.deepEqual(Object.keys(p.agent.options), ["yaml", "defaultContainer", "inheritFrom", "yamlMergeStrategy", "podRetention", "retries", "showRawYaml"]);
    assert.equal(show(p.agent.options.yamlMergeStrategy!.value), "merge()");
    assert.equal(show(p.agent.options.retries!.value), "2");
    assert.deepEqual([p.agent.options.defaultContainer!.line, p.agent.options.defaultContainer!.column], [9, 7]);
  }
  assert.deepEqual(p.environment.map((e) => `${e.name}=${show(e.value)}`), ['GREETING=gs("hello " env.USER)', 'CREDS=credentials("my-creds")']);
  assert.deepEqual(p.options.map((o) => o.name), ["timeout", "retry", "timestamps", "skipDefaultCheckout", "buildDiscarder", "disableConcurrentBuilds"]);
  assert.deepEqual(p.parameters.map((o) => o.name), ["string", "booleanParam", "choice"]);
  assert.deepEqual(p.triggers.map((o) => o.name), ["cron"]);
  assert.deepEqual(p.stages.map((s) => `${s.displayName}:${s.body?.kind}`), ["Build:steps", "Checks:parallel", "Nested:stages", "Matrix:matrix", "Deploy:steps"]);
});

test("when: conditions nest, flags are read, expression keeps its closure", () => {
  const when = model(FULL).stages[0]!.when!;
  assert.equal(when.beforeAgent, true);
  assert.equal(when.beforeInput, false);
  assert.deepEqual(when.conditions.map((c) => c.kind), ["branch", "not", "anyOf"]);
  const anyOf = when.conditions[2]!;
  assert.ok(anyOf.kind === "anyOf");
  assert.deepEqual(anyOf.children.map((c) => c.kind), ["expression", "tag"]);
  const expr = anyOf.children[0]!;
  assert.equal(expr.kind === "expression" && show(expr.body), "{return params.FLAG}");
});

test("steps keep their statements as syntax; script bodies hold arbitrary Groovy", () => {
  const build = model(FULL).stages[0]!;
  assert.ok(build.body?.kind === "steps");
  assert.deepEqual(build.body.steps.statements.map(show), ['sh("mvn -B package")ᶜ', "script({def x = helper(); if x {echo(x)ᶜ}})", 'container("busybox", {sh("true")ᶜ})']);
  assert.deepEqual(build.post?.blocks.map((b) => b.condition), ["always"]);
});

test("parallel with failFast and a stage-level kubernetes agent; nested stages; matrix; input", () => {
  const [, checks, nested, matrix, deploy] = model(FULL).stages;
  assert.equal(show(checks!.failFast), "true");
  assert.ok(checks!.body?.kind === "parallel");
  assert.equal(checks!.body.stages[1]!.agent?.type, "kubernetes");
  assert.ok(nested!.body?.kind === "stages");
  assert.equal(nested!.body.stages[0]!.displayName, "Inner");
  assert.ok(matrix!.body?.kind === "matrix");
  const m = matrix!.body.matrix;
  assert.deepEqual(m.axes.map((a) => `${a.name}=${a.values.map(show).join("|")}`), ['OS="linux"|"mac"', 'JDK="11"|"17"']);
  assert.deepEqual(m.excludes[0]!.map((a) => `${a.name}${a.negated ? "!=" : "="}${a.values.map(show).join("|")}`), ['OS="mac"', 'JDK!="17"']);
  assert.equal(m.stages[0]!.displayName, "Test");
  assert.equal(show(deploy!.input!.fields.message!.value), '"Deploy?"');
  assert.deepEqual(deploy!.input!.parameters.map((p) => p.name), ["string"]);
});

test("post conditions come out in the order they run, whatever order they were written in", () => {
  assert.deepEqual(model(FULL).post!.blocks.map((b) => b.condition), ["always", "changed", "success", "failure", "cleanup"]);
});

test("agent forms: any, none, label, node, map label", () => {
  const agent = (a: string) => model(`pipeline {\n agent ${a}\n stages { stage('s') { steps { echo 'x' } } }\n}`).agent;
  assert.equal(agent("any")?.type, "any");
  assert.equal(agent("none")?.type, "none");
  const label = agent("{ label 'linux && docker' }");
  assert.equal(label?.type === "label" && show(label.label), '"linux && docker"');
  const node = agent("{ node { label 'x'; customWorkspace '/ws' } }");
  assert.deepEqual(node?.type === "node" && Object.keys(node.fields), ["label", "customWorkspace"]);
  assert.equal(agent("label: 'x'")?.type, "label");
  const k = agent("{ kubernetes { label 'mypod'\n containerTemplate {\n name 'maven'\n image 'maven:3'\n ttyEnabled true\n command 'cat'\n }\n } }");
  assert.deepEqual(k?.type === "kubernetes" && Object.keys(k.containerTemplate ?? {}), ["name", "image", "ttyEnabled", "command"]);
});

test("a scripted pipeline has no model", () => {
  assert.equal(build("node { sh 'x' }").pipeline, null);
});

test("structural errors carry positions: unknown section, misplaced directive, missing steps and sections", () => {
  assert.deepEqual(problems("pipeline {\n  agent any\n  stages { stage('a') { steps { echo 'x' } } }\n  foo { }\n}"),
    ["Jenkinsfile:4:3: unknown section 'foo' in pipeline — expected one of agent, environment, options, parameters, triggers, tools, libraries, stages, post"]);
  assert.deepEqual(problems("pipeline {\n  agent any\n  steps { echo 'x' }\n  stages { stage('a') { steps { echo 'x' } } }\n}"),
    ["Jenkinsfile:3:3: 'steps' is not allowed directly in pipeline — it belongs in a stage: stages { stage('name') { steps … } }"]);
  assert.deepEqual(problems("pipeline {\n  agent any\n  stages {\n    stage('a') {\n      agent any\n    }\n  }\n}"),
    ["Jenkinsfile:4:5: stage 'a' has nothing to run — expected one of steps, stages, parallel, matrix"]);
  assert.deepEqual(problems("pipeline {\n  stages { stage('a') { steps { echo 'x' } } }\n}"),
    ["Jenkinsfile:1:1: pipeline has no 'agent' section — add agent any, agent none or agent { kubernetes { … } }"]);
  assert.deepEqual(problems("pipeline {\n  agent any\n}"),
    ["Jenkinsfile:1:1: pipeline has no 'stages' section — expected stages { stage('name') { steps { … } } }"]);
  assert.deepEqual(problems("pipeline {\n  agent any\n  stages { stage('a') {\n parameters { }\n steps { echo 'x' } } }\n}"),
    ["Jenkinsfile:4:2: 'parameters' is only allowed at the top of pipeline, not in stage 'a'"]);
  assert.deepEqual(problems("pipeline {\n  agent any\n  stages { stage('a') {\n sh 'x'\n } }\n}"), [
    "Jenkinsfile:3:12: stage 'a' has nothing to run — expected one of steps, stages, parallel, matrix",
    "Jenkinsfile:4:2: step 'sh' is not allowed directly in stage 'a' — put it in steps { … }",
  ]);
});

test("steps accept only steps: Groovy statements must move into script { }", () => {
  assert.deepEqual(problems("pipeline {\n agent any\n stages { stage('a') { steps {\n def x = 1\n if (x) { echo 'y' }\n env.X = 'y'\n currentBuild.getNumber()\n dir('d') { for (i in [1]) { } }\n deleteDir\n } } }\n}"), [
    "Jenkinsfile:4:2: a declaration is not allowed in steps — wrap it in script { … }",
    "Jenkinsfile:5:2: 'if' is not allowed in steps — wrap it in script { … }",
    "Jenkinsfile:6:2: an assignment is not allowed in steps — wrap it in script { … }",
    "Jenkinsfile:7:2: method calls on objects are not allowed in steps — wrap it in script { … }",
    "Jenkinsfile:8:13: 'for' is not allowed in 'dir' — wrap it in script { … }",
  ]);
});

test("stage bodies: exactly one; parallel not nested; failFast only with parallel; when, post, agent validated", () => {
  const wrap = (stage: string) => problems(`pipeline {\n agent any\n stages {\n${stage}\n }\n}`);
  assert.deepEqual(wrap("stage('a') { steps { echo 'x' }\n parallel { stage('b') { steps { echo 'y' } } } }"),
    ["Jenkinsfile:5:2: stage 'a' has both steps and parallel — only one of steps, stages, parallel, matrix is allowed"]);
  assert.deepEqual(wrap("stage('a') { parallel { stage('b') { parallel { stage('c') { steps { echo 'y' } } } } } }"),
    ["Jenkinsfile:4:38: parallel stages cannot be nested inside another parallel or matrix stage"]);
  assert.deepEqual(wrap("stage('a') { failFast true\n steps { echo 'x' } }"), ["Jenkinsfile:4:23: failFast is only allowed in a stage with parallel or matrix"]);
  assert.deepEqual(wrap("stage('a') { when { sometimes() }\n steps { echo 'x' } }"), [
    "Jenkinsfile:4:21: unknown when condition 'sometimes' — expected one of branch, buildingTag, changelog, changeset, changeRequest, environment, equals, expression, tag, triggeredBy, not, allOf, anyOf",
  ]);
  assert.deepEqual(wrap("stage('a') { steps { echo 'x' }\n post { afterwards { echo 'y' } } }"),
    ["Jenkinsfile:5:9: unknown post condition 'afterwards' — expected one of always, changed, fixed, regression, aborted, success, unsuccessful, unstable, failure, notBuilt, cleanup"]);
  assert.deepEqual(wrap("stage('a') { agent { kubernetes { yml 'x' } }\n steps { echo 'x' } }"),
    [`Jenkinsfile:4:35: unknown kubernetes agent option 'yml' — expected one of label, namespace, cloud, inheritFrom, workspaceVolume, yaml, yamlMergeStrategy, inheritYamlMergeStrategy, serviceAccount, schedulerName, nodeSelector, workingDir, podRetention, activeDeadlineSeconds, idleMinutes, instanceCap, slaveConnectTimeout, supplementalGroups, showRawYaml, agentContainer, agentInjection, yamlFile, defaultContainer, customWorkspace, retries, containerTemplate, containerTemplates`]);
  assert.deepEqual(wrap("stage('a') { options { buildDiscarder(logRotator(numToKeepStr: '1')) }\n steps { echo 'x' } }"),
    ["Jenkinsfile:4:24: option 'buildDiscarder' is only allowed in the pipeline's options, not in a stage's"]);
  assert.deepEqual(wrap("stage('a') { steps { echo 'x' } }\nstage('a') { steps { echo 'y' } }"), ["Jenkinsfile:5:1: duplicate stage name 'a'"]);
});

test("environment, parameters and options reject what they cannot hold", () => {
  assert.deepEqual(problems("pipeline {\n agent any\n environment { sh 'x' }\n parameters { string(name: 'A', default: 'x')\n file(name: 'f') }\n options { ansiColour('xterm') }\n stages { stage('a') { steps { echo 'x' } } }\n}"), [
    "Jenkinsfile:3:16: unexpected 'sh' in environment — expected NAME = value",
    "Jenkinsfile:4:33: unknown parameter 'default' for string — expected one of name, defaultValue, description, trim",
    "Jenkinsfile:5:2: unsupported parameter type 'file' — expected one of string, text, booleanParam, choice, password",
    "Jenkinsfile:6:12: unknown option 'ansiColour' — expected one of buildDiscarder, checkoutToSubdirectory, disableConcurrentBuilds, disableResume, newContainerPerStage, overrideIndexTriggers, preserveStashes, quietPeriod, retry, skipDefaultCheckout, skipStagesAfterUnstable, timeout, timestamps, parallelsAlwaysFailFast, disableRestartFromStage, durabilityHint or a block step",
  ]);
});
