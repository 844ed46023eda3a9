// Post conditions against the table of reference §3.3, and when-pattern comparators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { postBlocksToRun, postConditionApplies, patternMatches } from "../../src/pipeline/runtime/conditions.ts";
import { POST_CONDITIONS } from "../../src/pipeline/catalogue.ts";
import { parse } from "../../src/pipeline/parser.ts";
import { buildDeclarative } from "../../src/pipeline/declarative.ts";
import type { Result } from "../../src/pipeline/runtime/globals.ts";

const running = (current: Result, previous: Result | null) => POST_CONDITIONS.filter((c) => postConditionApplies(c, current, previous));

test("which post conditions run, by current and previous result", () => {
  assert.deepEqual(running("SUCCESS", null), ["always", "changed", "success", "cleanup"]);
  assert.deepEqual(running("SUCCESS", "SUCCESS"), ["always", "success", "cleanup"]);
  assert.deepEqual(running("SUCCESS", "FAILURE"), ["always", "changed", "fixed", "success", "cleanup"]);
  assert.deepEqual(running("FAILURE", "SUCCESS"), ["always", "changed", "regression", "unsuccessful", "failure", "cleanup"]);
  assert.deepEqual(running("UNSTABLE", "UNSTABLE"), ["always", "unsuccessful", "unstable", "cleanup"]);
  assert.deepEqual(running("ABORTED", "SUCCESS"), ["always", "changed", "regression", "aborted", "unsuccessful", "cleanup"]);
  assert.deepEqual(running("NOT_BUILT", null), ["always", "changed", "unsuccessful", "notBuilt", "cleanup"]);
});

test("post blocks come out in execution order whatever the order written", () => {
  const { script } = parse("J", "pipeline {\n agent any\n stages { stage('a') { steps { echo 'x' } } }\n post {\n  cleanup { echo 'c' }\n  failure { echo 'f' }\n  always { echo 'a' }\n }\n}");
  const post = buildDeclarative(script).pipeline!.post;
  assert.deepEqual(postBlocksToRun(post, "FAILURE", "SUCCESS").map((b) => b.condition), ["always", "failure", "cleanup"]);
  assert.deepEqual(postBlocksToRun(post, "SUCCESS", null).map((b) => b.condition), ["always", "cleanup"]);
});

test("when patterns: Ant-style GLOB by default, EQUALS and REGEXP on request", () => {
  assert.equal(patternMatches("release/*", "release/1.2"), true);
  assert.equal(patternMatches("release/*", "release/1.2/hotfix"), false);
  assert.equal(patternMatches("release/**", "release/1.2/hotfix"), true);
  assert.equal(patternMatches("v?.*", "v1.0"), true);
  assert.equal(patternMatches("main", "main", "EQUALS"), true);
  assert.equal(patternMatches("release-\\d+", "release-12", "REGEXP"), true);
  assert.equal(patternMatches("main", null), false);
});
