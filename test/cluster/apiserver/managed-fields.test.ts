// metadata.managedFields and server-side apply with field managers and conflicts, on the REST store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPath } from "../../../src/cluster/apiserver/managed-fields.ts";
import { ApiError } from "../../../src/cluster/apiserver/status.ts";
import type { KubeObject } from "../../../src/cluster/apiserver/types.ts";
import type { Loose } from "../helpers/server.ts";
import { openTestStore, q, rt, type TestStore } from "../helpers/store.ts";

const CM = rt("configmaps");
const PODS = rt("pods");
const APPLY = "application/apply-patch+yaml";

function apply(t: TestStore, manager: string, body: Record<string, unknown>, force = false, resource = CM): KubeObject {
  const name = (body.metadata as { name: string }).name;
  return t.store.patch(resource, "default", name, APPLY, body, q({ fieldManager: manager, ...(force ? { force: "true" } : {}) })).object;
}

const cm = (data: Record<string, string>, labels?: Record<string, string>): Record<string, unknown> => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", ...(labels ? { labels } : {}) }, data });

function managers(obj: KubeObject): Record<string, Loose> {
  return Object.fromEntries((obj.metadata.managedFields as Loose[]).map((e) => [`${e.manager}/${e.operation}`, e.fieldsV1]));
}

function conflictOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    return error;
  }
  assert.fail("expected a conflict");
}

test("create and update record who set which field, in FieldsV1", () => {
  const t = openTestStore();
  try {
    const created = t.store.create(CM, "default", { metadata: { name: "c", labels: { app: "web" } }, data: { a: "1" } }, q({ fieldManager: "kubectl-create" }));
    const entry = (created.metadata.managedFields as Loose[])[0];
    assert.equal(entry.manager, "kubectl-create");
    assert.equal(entry.operation, "Update");
    assert.equal(entry.apiVersion, "v1");
    assert.equal(entry.fieldsType, "FieldsV1");
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(entry.fieldsV1, { "f:data": { "f:a": {} }, "f:metadata": { "f:labels": { "f:app": {} } } });
    const labelled = t.store.patch(CM, "default", "c", "application/merge-patch+json", { metadata: { labels: { app: "api", tier: "x" } } }, q({ fieldManager: "kubectl-label" })).object;
    assert.deepEqual(managers(labelled), {
      "kubectl-create/Update": { "f:data": { "f:a": {} } },
      "kubectl-label/Update": { "f:metadata": { "f:labels": { "f:app": {}, "f:tier": {} } } },
    });
    // A write that changes nothing changes no entry, and the resourceVersion stays.
    const same = t.store.patch(CM, "default", "c", "application/merge-patch+json", { data: { a: "1" } }, q({ fieldManager: "other" })).object;
    assert.equal(same.metadata.resourceVersion, labelled.metadata.resourceVersion);
    // Store-internal writes without a manager record nothing.
    assert.equal(t.store.create(CM, "default", { metadata: { name: "plain" } }, q()).metadata.managedFields, undefined);
  } finally {
    t.close();
  }
});

test("pod fields: keyed lists by merge key, defaulted fields owned by the creator", () => {
  const t = openTestStore();
  try {
    const pod = t.store.create(PODS, "default", { metadata: { name: "p" }, spec: { containers: [{ name: "main", image: "nginx", ports: [{ containerPort: 80 }] }] } }, q({ fieldManager: "kubectl-run" }));
    const fields = (pod.metadata.managedFields as Loose[])[0].fieldsV1;
    const container = fields["f:spec"]["f:containers"]['k:{"name":"main"}'];
    assert.deepEqual(container["."], {});
    assert.deepEqual(container["f:image"], {});
    assert.deepEqual(container["f:imagePullPolicy"], {}, "defaults belong to the writer");
    assert.deepEqual(container["f:ports"]['k:{"containerPort":80,"protocol":"TCP"}'], { ".": {}, "f:containerPort": {}, "f:protocol": {} });
    assert.equal(formatPath(["f:spec", "f:containers", 'k:{"name":"main"}', "f:image"]), '.spec.containers[name="main"].image');
    assert.equal(formatPath(["f:metadata", "f:finalizers", 'v:"a"']), '.metadata.finalizers[="a"]');
  } finally {
    t.close();
  }
});

test("server-side apply: conflicts between managers, shared ownership, force", () => {
  const t = openTestStore();
  try {
    const first = apply(t, "alice", cm({ a: "1", b: "2" }));
    assert.deepEqual(managers(first), { "alice/Apply": { "f:data": { "f:a": {}, "f:b": {} } } });
    // bob applies a different value of a field alice owns: 409 with the cause kubectl explains.
    const error = conflictOf(() => apply(t, "bob", cm({ a: "9" })));
    assert.equal(error.code, 409);
    assert.equal(error.reason, "Conflict");
    assert.equal(error.message, 'Apply failed with 1 conflict: conflict with "alice": .data.a');
    assert.deepEqual(error.details?.causes, [{ reason: "FieldManagerConflict", message: 'conflict with "alice"', field: ".data.a" }]);
    const status = error.toStatus() as Loose;
    assert.equal(status.details.name, undefined);
    // Two conflicts are listed per manager.
    assert.equal(conflictOf(() => apply(t, "bob", cm({ a: "9", b: "8" }))).message, 'Apply failed with 2 conflicts: conflicts with "alice":\n- .data.a\n- .data.b');
    // The same value is no conflict: both own the field.
    const shared = apply(t, "bob", cm({ a: "1", c: "3" }));
    assert.deepEqual(managers(shared)["bob/Apply"], { "f:data": { "f:a": {}, "f:c": {} } });
    assert.deepEqual(managers(shared)["alice/Apply"], { "f:data": { "f:a": {}, "f:b": {} } });
    // force takes the field over.
    const forced = apply(t, "bob", cm({ a: "9", c: "3" }), true);
    assert.equal((forced.data as Loose).a, "9");
    assert.deepEqual(managers(forced)["alice/Apply"], { "f:data": { "f:b": {} } });
    // An update conflicts with nobody, and takes the field; the applier then conflicts with it.
    t.store.patch(CM, "default", "cfg", "application/merge-patch+json", { data: { b: "edited" } }, q({ fieldManager: "kubectl-edit" }));
    assert.match(conflictOf(() => apply(t, "alice", cm({ b: "2" }))).message, /^Apply failed with 1 conflict: conflict with "kubectl-edit" using v1 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: \.data\.b$/);
  } finally {
    t.close();
  }
});

test("server-side apply removes what the manager stops applying, unless another manager owns it", () => {
  const t = openTestStore();
  try {
    apply(t, "alice", cm({ a: "1", b: "2", c: "3" }, { app: "web" }));
    apply(t, "bob", cm({ c: "3" }));
    const after = apply(t, "alice", cm({ a: "1" }));
    assert.deepEqual(after.data, { a: "1", c: "3" });
    assert.equal(after.metadata.labels, undefined);
    // An identical apply writes nothing.
    assert.equal(apply(t, "alice", cm({ a: "1" })).metadata.resourceVersion, after.metadata.resourceVersion);
    // Containers are merged by name, and a container left out by its only applier goes.
    const pod = (containers: Record<string, unknown>[]): Record<string, unknown> => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers } });
    apply(t, "alice", pod([{ name: "a", image: "x" }, { name: "b", image: "y" }]), false, PODS);
    const error = conflictOf(() => apply(t, "bob", pod([{ name: "a", image: "z" }]), false, PODS));
    assert.deepEqual(error.details?.causes?.map((c) => c.field), ['.spec.containers[name="a"].image']);
  } finally {
    t.close();
  }
});

test("managedFields sent on purpose replace the list; [{}] clears it", () => {
  const t = openTestStore();
  try {
    const created = t.store.create(CM, "default", { metadata: { name: "c" }, data: { a: "1" } }, q({ fieldManager: "kubectl-client-side-apply" }));
    const moved = (created.metadata.managedFields as Loose[]).map((e) => ({ ...e, manager: "kubectl", operation: "Apply" }));
    const migrated = t.store.patch(CM, "default", "c", "application/json-patch+json", [{ op: "replace", path: "/metadata/managedFields", value: moved }], q({ fieldManager: "kubectl" })).object;
    assert.deepEqual(Object.keys(managers(migrated)), ["kubectl/Apply"]);
    const cleared = t.store.patch(CM, "default", "c", "application/merge-patch+json", { metadata: { managedFields: [{}] } }, q({ fieldManager: "x" })).object;
    assert.equal(cleared.metadata.managedFields, undefined);
  } finally {
    t.close();
  }
});

test("an update's ownership matches the definition, over many generated edits", async () => {
  const { fieldsOf, trackUpdate, trackedView, valueAt } = await import("../../../src/cluster/apiserver/managed-fields.ts");
  type Set = Record<string, Loose>;
  const members = (set: Set, prefix: string[] = [], out: string[][] = []): string[][] => {
    for (const [k, v] of Object.entries(set)) {
      if (k === ".") continue;
      const p = [...prefix, k];
      if (Object.keys(v).length === 0 || "." in v) out.push(p);
      members(v, p, out);
    }
    return out;
  };
  const ids = (set: Set): string[] => members(set).map((p) => JSON.stringify(p)).sort();
  // By definition: the writer owns what it changed or added; nobody owns what is gone.
  const expected = (before: Loose, after: Loose): { changed: string[]; removed: string[] } => {
    const oldView = trackedView(before, "all");
    const newView = trackedView(after, "all");
    const oldIds = new globalThis.Set(ids(fieldsOf(oldView)));
    const newPaths = members(fieldsOf(newView));
    const changed = newPaths.filter((p) => !oldIds.has(JSON.stringify(p)) || JSON.stringify(valueAt(oldView, p)) !== JSON.stringify(valueAt(newView, p))).map((p) => JSON.stringify(p));
    const newIds = new globalThis.Set(newPaths.map((p) => JSON.stringify(p)));
    return { changed, removed: [...oldIds].filter((id) => !newIds.has(id)) };
  };
  let seed = 7;
  const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const base: Loose = {
    metadata: { name: "p", labels: { a: "1", b: "2" }, finalizers: ["f1", "f2"], ownerReferences: [{ uid: "u1", name: "o", kind: "ConfigMap", apiVersion: "v1" }] },
    spec: { containers: [{ name: "main", image: "i", ports: [{ containerPort: 80 }], env: [{ name: "A", value: "1" }], resources: {} }, { name: "side", image: "j" }], tolerations: [{ key: "k" }], nodeSelector: {} },
    status: { conditions: [{ type: "A", status: "True" }] },
  };
  const edits: ((o: Loose) => void)[] = [
    (o) => (o.metadata.labels = random(2) ? { a: String(random(3)) } : {}),
    (o) => (o.metadata.finalizers = random(2) ? [] : ["f3", "f1"]),
    (o) => delete o.metadata.ownerReferences,
    (o) => (o.spec.containers[0] = random(2) ? { name: "main" } : { name: "main", image: `z${random(3)}`, env: [] }),
    (o) => o.spec.containers.splice(random(2), 1),
    (o) => {
      const name = `n${random(3)}`;
      o.spec.containers = o.spec.containers.filter((c: Loose) => c.name !== name).concat({ name, image: "q", ports: [{ containerPort: 81, protocol: "UDP" }] });
    },
    (o) => (o.spec.containers[0].env = random(2) ? [] : [{ name: "A", value: String(random(2)) }]),
    (o) => (o.spec.nodeSelector = random(2) ? { a: "b" } : "x"),
    (o) => {
      const type = random(2) ? "B" : "A";
      o.status.conditions = o.status.conditions.filter((c: Loose) => c.type !== type).concat({ type, status: random(2) ? "False" : "True" });
    },
  ];
  let previous: Loose = base;
  let entries = trackUpdate([], undefined, base, "creator", "v1", undefined, "t");
  for (let i = 0; i < 1000; i++) {
    const next = JSON.parse(JSON.stringify(previous));
    for (let n = 1 + random(3); n > 0; n--) {
      try {
        edits[random(edits.length)]!(next);
      } catch {
        // an edit that does not fit the current shape
      }
    }
    const writer = `w${random(3)}`;
    const { changed, removed } = expected(previous, next);
    const before = new Map(entries.map((e) => [e.manager, ids(e.fieldsV1)]));
    entries = trackUpdate(entries, previous, next, writer, "v1", undefined, "t");
    const after = new Map(entries.map((e) => [e.manager, ids(e.fieldsV1)]));
    for (const [manager, owned] of after) {
      for (const id of owned) assert.ok(!removed.includes(id), `${manager} still owns removed ${id}`);
      if (manager === writer) for (const id of changed) assert.ok(owned.includes(id), `${writer} should own ${id}`);
      else {
        for (const id of owned) assert.ok(!changed.includes(id), `${manager} kept ${id}, changed by ${writer}`);
        for (const id of before.get(manager) ?? []) if (!changed.includes(id) && !removed.includes(id)) assert.ok(owned.includes(id), `${manager} lost ${id}`);
      }
    }
    previous = next;
  }
});
