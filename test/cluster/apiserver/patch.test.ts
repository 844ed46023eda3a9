import { test } from "node:test";
import assert from "node:assert/strict";
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from "../../../src/cluster/apiserver/patch.ts";
import { ApiError } from "../../../src/cluster/apiserver/status.ts";

const pod = {
  metadata: { name: "web", labels: { a: "1" }, finalizers: ["x"] },
  spec: {
    containers: [
      { name: "main", image: "nginx:1", env: [{ name: "A", value: "1" }], ports: [{ containerPort: 80 }] },
      { name: "side", image: "busybox", args: ["a", "b"] },
    ],
    tolerations: [{ key: "t" }],
  },
};

test("merge patch: objects merge, null deletes, arrays are replaced", () => {
  const out = applyMergePatch(pod, { metadata: { labels: { a: null, b: "2" } }, spec: { tolerations: [] } }) as typeof pod;
  assert.deepEqual(out.metadata.labels, { b: "2" });
  assert.deepEqual(out.spec.tolerations, []);
  assert.equal(pod.metadata.labels.a, "1", "input untouched");
});

test("json patch: add, replace, remove, move, copy, test", () => {
  const out = applyJsonPatch(pod, [
    { op: "add", path: "/metadata/labels/b", value: "2" },
    { op: "replace", path: "/spec/containers/0/image", value: "nginx:2" },
    { op: "remove", path: "/spec/tolerations" },
    { op: "copy", from: "/metadata/labels/b", path: "/metadata/labels/c" },
    { op: "move", from: "/metadata/labels/a", path: "/metadata/labels/d" },
    { op: "add", path: "/metadata/finalizers/-", value: "y" },
    { op: "test", path: "/metadata/labels/c", value: "2" },
  ]) as typeof pod & { spec: { tolerations?: unknown } };
  assert.deepEqual(out.metadata.labels, { b: "2", c: "2", d: "1" });
  assert.equal(out.spec.containers[0]?.image, "nginx:2");
  assert.equal(out.spec.tolerations, undefined);
  assert.deepEqual(out.metadata.finalizers, ["x", "y"]);
});

test("json patch: a failed test or missing path is 422, a malformed patch 400", () => {
  assert.throws(() => applyJsonPatch(pod, [{ op: "test", path: "/metadata/name", value: "other" }]), (e: unknown) => e instanceof ApiError && e.code === 422);
  assert.throws(() => applyJsonPatch(pod, [{ op: "remove", path: "/nope" }]), (e: unknown) => e instanceof ApiError && e.code === 422);
  assert.throws(() => applyJsonPatch(pod, { op: "add" }), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(() => applyJsonPatch(pod, [{ op: "frobnicate", path: "/a" }]), (e: unknown) => e instanceof ApiError && e.code === 400);
});

test("strategic merge patch: containers merge by name, env by name, ports by containerPort", () => {
  const out = applyStrategicMergePatch(pod, {
    spec: {
      containers: [
        { name: "main", image: "nginx:2", env: [{ name: "B", value: "2" }], ports: [{ containerPort: 80, name: "http" }] },
        { name: "new", image: "alpine" },
      ],
    },
  }) as typeof pod;
  assert.deepEqual(out.spec.containers.map((c) => c.name), ["main", "side", "new"]);
  const main = out.spec.containers[0] as (typeof pod.spec.containers)[0] & { ports: { name?: string }[] };
  assert.equal(main.image, "nginx:2");
  assert.deepEqual(main.env, [{ name: "A", value: "1" }, { name: "B", value: "2" }]);
  assert.deepEqual(main.ports, [{ containerPort: 80, name: "http" }]);
});

test("strategic merge patch: lists without a merge key are replaced; $patch delete/replace; finalizers as a set", () => {
  const out = applyStrategicMergePatch(pod, {
    metadata: { finalizers: ["x", "z"], "$deleteFromPrimitiveList/finalizers": ["x"] },
    spec: { tolerations: [{ key: "u" }], containers: [{ name: "side", $patch: "delete" }] },
  }) as typeof pod;
  assert.deepEqual(out.spec.tolerations, [{ key: "u" }]);
  assert.deepEqual(out.spec.containers.map((c) => c.name), ["main"]);
  assert.deepEqual(out.metadata.finalizers, ["z"]);
  const replaced = applyStrategicMergePatch(pod, { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "x" }] } }) as typeof pod;
  assert.deepEqual(replaced.spec.containers, [{ name: "only", image: "x" }]);
});

test("strategic merge patch: $setElementOrder orders the merged list as kubectl apply expects", () => {
  const out = applyStrategicMergePatch(pod, {
    spec: { "$setElementOrder/containers": [{ name: "side" }, { name: "main" }], containers: [{ name: "main", image: "nginx:3" }] },
  }) as typeof pod;
  assert.deepEqual(out.spec.containers.map((c) => `${c.name}:${c.image}`), ["side:busybox", "main:nginx:3"]);
});
