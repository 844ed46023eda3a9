import { test } from "node:test";
import assert from "node:assert/strict";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "../../../src/cluster/apiserver/selectors.ts";
import { ApiError } from "../../../src/cluster/apiserver/status.ts";

const labels = { app: "web", tier: "front", "example.com/team": "a" };

test("label selectors: equality, inequality, sets, existence", () => {
  const cases: [string, boolean][] = [
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app=web,tier=back", false],
    ["app in (web, api)", true],
    ["app notin (web)", false],
    ["missing notin (x)", true],
    ["tier", true],
    ["!tier", false],
    ["!missing", true],
    ["example.com/team=a", true],
    ["", true],
  ];
  for (const [selector, expected] of cases) assert.equal(matchesLabels(parseLabelSelector(selector), labels), expected, selector);
});

test("label selectors: != matches objects without the label", () => {
  assert.equal(matchesLabels(parseLabelSelector("app!=web"), {}), true);
});

test("malformed label selectors are a 400, not an empty match", () => {
  assert.throws(() => parseLabelSelector("a=b=c"), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(() => parseLabelSelector("in (a)"), (e: unknown) => e instanceof ApiError && e.code === 400);
});

test("field selectors: whitelisted fields only, = and !=", () => {
  const supported = (f: string): boolean => ["metadata.name", "status.phase"].includes(f);
  const selector = parseFieldSelector("metadata.name=web,status.phase!=Failed", supported);
  const values: Record<string, string> = { "metadata.name": "web", "status.phase": "Running" };
  assert.equal(matchesFields(selector, (f) => values[f] ?? ""), true);
  values["status.phase"] = "Failed";
  assert.equal(matchesFields(selector, (f) => values[f] ?? ""), false);
  assert.throws(
    () => parseFieldSelector("spec.foo=1", supported),
    (e: unknown) => e instanceof ApiError && e.code === 400 && e.message === "field label not supported: spec.foo",
  );
});
