// Inheritance: reference §3.1–§3.3 and seed 001/002, with Berth's documented differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { combineTemplates, resolveTemplate } from "../../src/templates/inherit.ts";
import { TemplateError } from "../../src/templates/errors.ts";
import type { PodTemplate } from "../../src/templates/model.ts";
import { cloudOf } from "./helpers.ts";

const resolve = (templates: PodTemplate[], name: string, extra = {}) =>
  resolveTemplate(templates.find((t) => t.name === name)!, cloudOf(templates, extra));

test("seed 001: a child overrides only the maven image; ttyEnabled, command and golang are inherited", () => {
  const mypod: PodTemplate = {
    name: "mypod",
    containers: [
      { name: "maven", image: "maven:3.3.9-jdk-8-alpine", ttyEnabled: true, command: "cat" },
      { name: "golang", image: "golang:1.8.0", ttyEnabled: true, command: "cat" },
    ],
  };
  const another: PodTemplate = { name: "anotherpod", inheritFrom: "mypod", containers: [{ name: "maven", image: "maven:3.3.9-jdk-7-alpine" }] };
  const r = resolve([mypod, another], "anotherpod");
  assert.deepEqual(r.template.containers, [
    { name: "maven", image: "maven:3.3.9-jdk-7-alpine", ttyEnabled: true, command: "cat" },
    { name: "golang", image: "golang:1.8.0", ttyEnabled: true, command: "cat" },
  ]);
  assert.deepEqual(r.chain, ["mypod", "anotherpod"]);
});

test("scalar settings: the child's value when set, else the parent's", () => {
  const parent: PodTemplate = { name: "p", serviceAccount: "sa-p", nodeSelector: "a=b", namespace: "ns-p", idleMinutes: 5, instanceCap: 3, slaveConnectTimeout: 100 };
  const child: PodTemplate = { name: "c", inheritFrom: "p", serviceAccount: "sa-c", idleMinutes: 7 };
  const t = resolve([parent, child], "c").template;
  assert.equal(t.serviceAccount, "sa-c");
  assert.equal(t.nodeSelector, "a=b");
  assert.equal(t.namespace, "ns-p");
  assert.equal(t.idleMinutes, 7);
  assert.equal(t.instanceCap, 3);
  assert.equal(t.slaveConnectTimeout, 100);
  assert.equal(t.name, "c");
});

test("several parents: processed in order, later ones override earlier ones", () => {
  const a: PodTemplate = { name: "a", serviceAccount: "from-a", schedulerName: "sched-a", containers: [{ name: "x", image: "a-image" }] };
  const b: PodTemplate = { name: "b", serviceAccount: "from-b", containers: [{ name: "x", image: "b-image" }, { name: "y", image: "y" }] };
  const c: PodTemplate = { name: "c", inheritFrom: "a  b" };
  const r = resolve([a, b, c], "c");
  assert.equal(r.template.serviceAccount, "from-b");
  assert.equal(r.template.schedulerName, "sched-a");
  assert.deepEqual(r.template.containers?.map((x) => [x.name, x.image]), [["x", "b-image"], ["y", "y"]]);
  assert.deepEqual(r.chain, ["a", "b", "c"]);
});

test("an unknown parent is ignored with a warning", () => {
  const r = resolve([{ name: "c", inheritFrom: "missing", serviceAccount: "x" }], "c");
  assert.equal(r.template.serviceAccount, "x");
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /'missing', which does not exist/);
});

test("the cloud's defaults template is the implicit first parent, with the lowest precedence", () => {
  const defaults: PodTemplate = { name: "defaults", serviceAccount: "default-sa", imagePullSecrets: ["d"], envVars: [{ kind: "envVar", key: "ORG", value: "x" }] };
  const parent: PodTemplate = { name: "p", serviceAccount: "p-sa", imagePullSecrets: ["p"] };
  const child: PodTemplate = { name: "c", inheritFrom: "p" };
  const r = resolve([defaults, parent, child], "c", { defaultsProviderTemplate: "defaults" });
  assert.deepEqual(r.chain, ["defaults", "p", "c"]);
  assert.equal(r.template.serviceAccount, "p-sa");
  assert.deepEqual(r.template.imagePullSecrets, ["d", "p"]);
  assert.deepEqual(r.template.envVars, [{ kind: "envVar", key: "ORG", value: "x" }]);
  // Applied once, at the top: not again for each parent.
  assert.equal(r.chain.filter((n) => n === "defaults").length, 1);
  // The defaults template resolved on its own does not inherit from itself.
  assert.deepEqual(resolve([defaults], "defaults", { defaultsProviderTemplate: "defaults" }).chain, ["defaults"]);
});

test("an inheritance cycle is an error naming the cycle", () => {
  const templates: PodTemplate[] = [
    { name: "a", inheritFrom: "b", at: { file: "berth.yaml", line: 3, column: 5 } },
    { name: "b", inheritFrom: "a" },
  ];
  assert.throws(() => resolve(templates, "a"), (e: unknown) => e instanceof TemplateError && /inheritance cycle: a -> b -> a/.test(e.message));
  assert.throws(() => resolve([{ name: "self", inheritFrom: "self" }], "self"), /cycle: self -> self/);
});

test("a grandparent chain resolves all the way up", () => {
  const r = resolve(
    [
      { name: "g", containers: [{ name: "c", image: "g", command: "cat" }], activeDeadlineSeconds: 60 },
      { name: "p", inheritFrom: "g", containers: [{ name: "c", image: "p" }] },
      { name: "k", inheritFrom: "p", containers: [{ name: "c", workingDir: "/w" }] },
    ],
    "k",
  );
  assert.deepEqual(r.template.containers, [{ name: "c", image: "p", command: "cat", workingDir: "/w" }]);
  assert.equal(r.template.activeDeadlineSeconds, 60);
});

test("env vars merge by key: overwritten keys keep the parent's place, new ones are appended", () => {
  const t = combineTemplates(
    { envVars: [{ kind: "envVar", key: "A", value: "1" }, { kind: "envVar", key: "B", value: "2" }] },
    { envVars: [{ kind: "envVar", key: "C", value: "3" }, { kind: "envVar", key: "A", value: "9" }] },
  );
  assert.deepEqual(t.envVars?.map((e) => [e.key, e.kind === "envVar" ? e.value : ""]), [["A", "9"], ["B", "2"], ["C", "3"]]);
});

test("container env vars, ports and resources combine per key", () => {
  const t = combineTemplates(
    { containers: [{ name: "m", image: "i", resourceLimitCpu: "1", resourceRequestMemory: "1Gi", envVars: [{ kind: "envVar", key: "A", value: "1" }], ports: [{ name: "http", containerPort: 80 }] }] },
    { containers: [{ name: "m", resourceLimitCpu: "2", envVars: [{ kind: "envVar", key: "B", value: "2" }], ports: [{ name: "http", containerPort: 8080 }, { name: "dbg", containerPort: 5005 }] }] },
  );
  const c = t.containers![0]!;
  assert.equal(c.resourceLimitCpu, "2");
  assert.equal(c.resourceRequestMemory, "1Gi");
  assert.deepEqual(c.envVars?.map((e) => e.key), ["A", "B"]);
  assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080 }, { name: "dbg", containerPort: 5005 }]);
});

test("volumes merge by mount path; pull secrets are a union; annotations merge by key", () => {
  const t = combineTemplates(
    {
      volumes: [{ kind: "emptyDirVolume", mountPath: "/a" }, { kind: "hostPathVolume", mountPath: "/b", hostPath: "/x" }],
      imagePullSecrets: ["one", "two"],
      annotations: [{ key: "k", value: "parent" }, { key: "p", value: "1" }],
    },
    {
      volumes: [{ kind: "secretVolume", mountPath: "/b/", secretName: "s" }, { kind: "emptyDirVolume", mountPath: "/c" }],
      imagePullSecrets: ["two", "three"],
      annotations: [{ key: "k", value: "child" }],
    },
  );
  assert.deepEqual(t.volumes?.map((v) => [v.kind, v.mountPath]), [["emptyDirVolume", "/a"], ["secretVolume", "/b/"], ["emptyDirVolume", "/c"]]);
  assert.deepEqual(t.imagePullSecrets, ["one", "two", "three"]);
  assert.deepEqual(t.annotations, [{ key: "k", value: "child" }, { key: "p", value: "1" }]);
});

test("showRawYaml: false anywhere in the chain wins", () => {
  assert.equal(combineTemplates({ showRawYaml: false }, { showRawYaml: true }).showRawYaml, false);
  assert.equal(combineTemplates({ showRawYaml: true }, {}).showRawYaml, true);
  assert.equal(combineTemplates({}, {}).showRawYaml, undefined);
});

test("yamlMergeStrategy is the child's; a parent with inheritYamlMergeStrategy passes its own on", () => {
  assert.equal(combineTemplates({ yamlMergeStrategy: "merge" }, {}).yamlMergeStrategy, undefined);
  assert.equal(combineTemplates({ yamlMergeStrategy: "merge", inheritYamlMergeStrategy: true }, {}).yamlMergeStrategy, "merge");
  assert.equal(combineTemplates({ yamlMergeStrategy: "merge", inheritYamlMergeStrategy: true }, { yamlMergeStrategy: "override" }).yamlMergeStrategy, "override");
  // Berth: a child's own inheritYamlMergeStrategy survives, so its children can inherit from it.
  assert.equal(combineTemplates({}, { inheritYamlMergeStrategy: true }).inheritYamlMergeStrategy, true);
});

test("yaml fragments accumulate, ancestors first", () => {
  const r = resolve([{ name: "p", yaml: "spec: {}" }, { name: "c", inheritFrom: "p", yaml: "metadata: {}" }], "c");
  assert.deepEqual(r.yamls.map((y) => [y.template, y.text]), [["p", "spec: {}"], ["c", "metadata: {}"]]);
  assert.equal(r.template.yaml, undefined);
});

test("Berth difference: podRetention is inherited (the plugin always takes the child's, losing the parent's)", () => {
  assert.equal(combineTemplates({ podRetention: "onFailure" }, {}).podRetention, "onFailure");
  assert.equal(combineTemplates({ podRetention: "onFailure" }, { podRetention: "always" }).podRetention, "always");
});

test("Berth difference: an explicit false or default-valued setting in the child is kept", () => {
  const t = combineTemplates(
    { hostNetwork: true, agentInjection: true, slaveConnectTimeout: 50, containers: [{ name: "c", image: "i", ttyEnabled: true, privileged: true }] },
    { hostNetwork: false, agentInjection: false, slaveConnectTimeout: 1000, containers: [{ name: "c", ttyEnabled: false, privileged: false }] },
  );
  assert.equal(t.hostNetwork, false);
  assert.equal(t.agentInjection, false);
  assert.equal(t.slaveConnectTimeout, 1000);
  assert.deepEqual(t.containers, [{ name: "c", image: "i", ttyEnabled: false, privileged: false }]);
});

test("workspaceVolume: the child's unless unset; terminationGracePeriodSeconds is inherited", () => {
  const hostPath = { kind: "hostPathWorkspaceVolume" as const, hostPath: "/ws" };
  assert.deepEqual(combineTemplates({ workspaceVolume: hostPath }, {}).workspaceVolume, hostPath);
  assert.deepEqual(combineTemplates({ workspaceVolume: hostPath }, { workspaceVolume: { kind: "emptyDirWorkspaceVolume", memory: true } }).workspaceVolume, {
    kind: "emptyDirWorkspaceVolume",
    memory: true,
  });
  assert.equal(combineTemplates({ terminationGracePeriodSeconds: 5 }, {}).terminationGracePeriodSeconds, 5);
});

test("resolution with tracing records origins and shadowed values", () => {
  const templates: PodTemplate[] = [
    { name: "p", serviceAccount: "p-sa", containers: [{ name: "m", image: "old", command: "cat" }] },
    { name: "c", inheritFrom: "p", containers: [{ name: "m", image: "new" }] },
  ];
  const r = resolveTemplate(templates[1]!, cloudOf(templates), { trace: true });
  const origins = r.provenance!.origins;
  assert.equal(origins.originOf("spec.containers[m].image").template, "c");
  assert.equal(origins.originOf("spec.containers[m].command").template, "p");
  assert.equal(origins.originOf("spec.serviceAccountName").template, "p");
  assert.deepEqual(r.provenance!.shadows.map((s) => [s.path, s.value, s.from.template, s.by.template]), [["spec.containers[m].image", "old", "p", "c"]]);
});
