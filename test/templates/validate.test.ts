// Validation of the final pod, each problem naming its field and the template behind it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseQuantity, validatePod } from "../../src/templates/validate.ts";
import { assertValid } from "../../src/templates/render.ts";
import { TemplateError } from "../../src/templates/errors.ts";
import type { PodTemplate } from "../../src/templates/model.ts";
import { render } from "./helpers.ts";

function problemsOf(templates: PodTemplate[], name: string) {
  return render(templates, name).problems;
}

test("a valid pod has no problems", () => {
  assert.deepEqual(problemsOf([{ name: "t", containers: [{ name: "maven", image: "maven:3", resourceLimitCpu: "1", resourceRequestCpu: "500m" }] }], "t"), []);
});

test("container names must match RFC 1123; the problem names the template that supplied it", () => {
  const problems = problemsOf([{ name: "base", containers: [{ name: "Maven_1", image: "maven" }] }, { name: "t", inheritFrom: "base" }], "t");
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.path, "spec.containers[Maven_1].name");
  assert.match(problems[0]!.message, /RFC 1123/);
  assert.equal(problems[0]!.source, "base (fields)");
});

test("bad quantities, a request above its limit, and a missing image are reported", () => {
  const problems = problemsOf([{ name: "t", containers: [{ name: "a", image: "a", resourceLimitCpu: "lots" }, { name: "b", resourceRequestMemory: "2Gi", resourceLimitMemory: "1Gi" }] }], "t");
  const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  assert.match(byPath["spec.containers[a].resources.limits.cpu"] ?? "", /quantity/);
  assert.match(byPath["spec.containers[b].resources.requests.memory"] ?? "", /more than the limit/);
  assert.match(byPath["spec.containers[b].image"] ?? "", /image is required/);
});

test("duplicate container names, mounts of missing volumes, and bad ports from YAML are found", () => {
  const yaml = [
    "spec:",
    "  containers:",
    "  - name: a",
    "    image: a",
    "    ports: [{containerPort: 70000, name: this-name-is-far-too-long}]",
    "    volumeMounts: [{name: nope, mountPath: /x}]",
    "  initContainers:",
    "  - name: a",
    "    image: a",
  ].join("\n");
  const problems = problemsOf([{ name: "t", yaml }], "t");
  const messages = problems.map((p) => `${p.path}: ${p.message}`).join("\n");
  assert.match(messages, /duplicate container name 'a'/);
  assert.match(messages, /refers to volume 'nope'/);
  assert.match(messages, /containerPort must be between 1 and 65535/);
  assert.match(messages, /port name 'this-name-is-far-too-long'/);
  assert.ok(problems.every((p) => p.source === "t (yaml)" || p.source === undefined), messages);
});

test("assertValid lists every problem in one error at the template's position", () => {
  const template: PodTemplate = { name: "t", containers: [{ name: "BAD", image: "x" }], at: { file: "berth.yaml", line: 7, column: 11 } };
  const rendered = render([template], "t");
  assert.throws(
    () => assertValid(rendered, template),
    (e: unknown) => e instanceof TemplateError && e.format().startsWith("berth.yaml:7:11: template 't' builds an invalid pod:\n  spec.containers[BAD].name"),
  );
});

test("validatePod flags labels and names the API server would refuse", () => {
  const problems = validatePod({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "Bad Name", labels: { "bad key!": "v", ok: "not ok!" } },
    spec: { containers: [{ name: "a", image: "a" }], restartPolicy: "Sometimes" },
  });
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes("metadata.name"));
  assert.ok(paths.includes("metadata.labels[bad key!]"));
  assert.ok(paths.includes("metadata.labels[ok]"));
  assert.ok(paths.includes("spec.restartPolicy"));
});

test("quantities", () => {
  assert.equal(parseQuantity("500m"), 0.5);
  assert.equal(parseQuantity("1Gi"), 2 ** 30);
  assert.equal(parseQuantity("1e3"), 1000);
  assert.equal(parseQuantity("2"), 2);
  assert.equal(parseQuantity("lots"), undefined);
});

test("invalid YAML inside a template is an error with a position", () => {
  const at = { file: "berth.yaml", line: 10, column: 13 };
  assert.throws(
    () => render([{ name: "t", yaml: "spec:\n  containers: [\n", yamlAt: at }], "t"),
    (e: unknown) => e instanceof TemplateError && e.at?.file === "berth.yaml" && e.at.line >= 10 && /invalid yaml in template 't'/.test(e.message),
  );
  assert.throws(() => render([{ name: "t", yaml: "- a\n- b\n" }], "t"), /must be a Pod \(a mapping\), not a list/);
  assert.throws(() => render([{ name: "t", yaml: "kind: Service\n" }], "t"), /only kind: Pod/);
});
