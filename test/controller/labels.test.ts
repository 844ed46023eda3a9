import { test } from "node:test";
import assert from "node:assert/strict";
import { LabelExpressionError, matchesLabels, parseLabelExpression, templateServes } from "../../src/controller/labels.ts";

const matches = (expression: string, labels: string[]) => matchesLabels(parseLabelExpression(expression)!, new Set(labels));

test("label expressions: atoms, not, and, or, implies, iff, parentheses, precedence", () => {
  assert.ok(matches("maven", ["maven", "java"]));
  assert.ok(!matches("go", ["maven"]));
  assert.ok(matches("maven && java", ["maven", "java"]));
  assert.ok(!matches("maven && !java", ["maven", "java"]));
  assert.ok(matches("go || maven && java", ["go"]));
  assert.ok(!matches("(go || maven) && java", ["go"]));
  assert.ok(matches("windows -> x86", ["linux"]));
  assert.ok(!matches("windows -> x86", ["windows"]));
  assert.ok(matches("a <-> b", []));
  assert.ok(matches("my-pod-1.2 && x:y", ["my-pod-1.2", "x:y"]));
  assert.ok(matches('"with space"', ["with space"]));
  assert.equal(parseLabelExpression("   "), undefined);
});

test("malformed expressions are errors", () => {
  for (const bad of ["a &&", "(a", "a b", "&& a", '"a']) assert.throws(() => parseLabelExpression(bad), LabelExpressionError, bad);
});

test("templates serve the labels their atoms satisfy; NORMAL ones also serve unlabelled requests", () => {
  assert.ok(templateServes({ label: "maven java" }, "maven && java"));
  assert.ok(!templateServes({ label: "maven" }, "go"));
  assert.ok(!templateServes({ label: "maven" }, undefined));
  assert.ok(templateServes({ label: "maven", nodeUsageMode: "NORMAL" }, undefined));
  assert.ok(!templateServes({ label: "maven", nodeUsageMode: "EXCLUSIVE" }, ""));
});
