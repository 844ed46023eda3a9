import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { agentNameFor, isValidLabelValue, randomSuffix, sanitizeLabel, splitCommandLine, templateLabels } from "../../src/templates/naming.ts";

test("sanitizeLabel turns a URL into a valid label value the way the plugin does", () => {
  assert.equal(sanitizeLabel("http://jenkins.example.com/"), "http___jenkins_example_comx");
  assert.equal(sanitizeLabel("folder/job#12"), "folder_job_12");
  assert.equal(sanitizeLabel("-abc-"), "xabcx");
});

test("sanitizeLabel keeps the last 57 characters", () => {
  const long = "a".repeat(40) + "b".repeat(40);
  const s = sanitizeLabel(long);
  assert.equal(s.length, 57);
  assert.ok(s.endsWith("b".repeat(40)));
  assert.ok(isValidLabelValue(s));
});

test("template labels: the label and a SHA-1 digest of it; a default when there is no label", () => {
  assert.deepEqual(templateLabels(undefined), { "jenkins/label": "slave-default", "jenkins/label-digest": "0" });
  const labels = templateLabels("maven java");
  assert.equal(labels["jenkins/label"], "maven_java");
  assert.equal(labels["jenkins/label-digest"], createHash("sha1").update("maven java").digest("hex"));
});

test("agent names: lowercased, spaces and underscores as dashes, five-character suffix without vowels", () => {
  const name = agentNameFor("yw674-test_14-pfb9q-92hxs");
  assert.match(name, /^yw674-test-14-pfb9q-92hxs-[bcdfghjklmnpqrstvwxz0-9]{5}$/);
  assert.match(agentNameFor(undefined), /^jenkins-agent-[a-z0-9]{5}$/);
  assert.match(agentNameFor("My Template"), /^my-template-[a-z0-9]{5}$/);
  // A name that cannot be made a DNS name falls back to jenkins-agent.
  assert.match(agentNameFor("ünïcode!"), /^jenkins-agent-[a-z0-9]{5}$/);
  assert.ok(agentNameFor("x".repeat(100)).length <= 63);
});

test("random suffixes use the plugin's alphabet", () => {
  let i = 0;
  const seq = [0, 0.999, 1 / 30, 19 / 30, 20 / 30];
  assert.equal(randomSuffix(() => seq[i++]!), "b9cz0");
});

test("splitCommandLine honours quotes and escapes", () => {
  assert.deepEqual(splitCommandLine("/bin/sh -c"), ["/bin/sh", "-c"]);
  assert.deepEqual(splitCommandLine(`sh -c "echo hello world" 'a b'`), ["sh", "-c", "echo hello world", "a b"]);
  assert.deepEqual(splitCommandLine(`a\\ b "x\\"y" ''`), ["a b", 'x"y', ""]);
  assert.deepEqual(splitCommandLine("  "), []);
});
