// Garbage collection of ownerReferences and deletion propagation (Background, Foreground, Orphan),
// and finalizers in general, on the REST store with its controllers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GarbageCollector } from "../../../src/cluster/apiserver/gc.ts";
import { ApiError } from "../../../src/cluster/apiserver/status.ts";
import type { KubeObject } from "../../../src/cluster/apiserver/types.ts";
import { openTestStore, q, rt, type TestStore } from "../helpers/store.ts";

const CM = rt("configmaps");

/** Lets the garbage collector run until `done` holds (it works in later event-loop turns). */
async function settle(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), "the garbage collector did not reach the expected state");
}

function exists(t: TestStore, name: string): boolean {
  return t.storage.get(CM.storageKey, "default", name) !== undefined;
}

function owned(t: TestStore, name: string, owner: KubeObject, block = false): KubeObject {
  return t.store.create(CM, "default", {
    metadata: { name, ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: owner.metadata.name, uid: owner.metadata.uid, ...(block ? { blockOwnerDeletion: true } : {}) }] },
  }, q());
}

test("background: dependents, and their dependents, go after the owner", async () => {
  const t = openTestStore();
  try {
    const owner = t.store.create(CM, "default", { metadata: { name: "owner" } }, q());
    const child = owned(t, "child", owner);
    owned(t, "grandchild", child);
    const unrelated = t.store.create(CM, "default", { metadata: { name: "unrelated" } }, q());
    t.store.delete(CM, "default", "owner", { propagationPolicy: "Background" }, q());
    assert.equal(exists(t, "owner"), false);
    await settle(() => !exists(t, "child") && !exists(t, "grandchild"));
    assert.ok(exists(t, unrelated.metadata.name as string));
  } finally {
    t.close();
  }
});

test("a dependent with another live owner only loses the dangling reference", async () => {
  const t = openTestStore();
  try {
    const a = t.store.create(CM, "default", { metadata: { name: "a" } }, q());
    const b = t.store.create(CM, "default", { metadata: { name: "b" } }, q());
    t.store.create(CM, "default", {
      metadata: { name: "shared", ownerReferences: [a, b].map((o) => ({ apiVersion: "v1", kind: "ConfigMap", name: o.metadata.name, uid: o.metadata.uid })) },
    }, q());
    t.store.delete(CM, "default", "a", {}, q());
    await settle(() => (t.storage.get(CM.storageKey, "default", "shared")?.metadata.ownerReferences?.length ?? 0) === 1);
    assert.equal(t.storage.get(CM.storageKey, "default", "shared")?.metadata.ownerReferences?.[0]?.name, "b");
  } finally {
    t.close();
  }
});

test("a dependent whose owner never existed (or was replaced) is collected; unknown kinds are left alone", async () => {
  const t = openTestStore();
  try {
    t.store.create(CM, "default", { metadata: { name: "orphaned", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "ghost", uid: "00000000-0000-0000-0000-000000000000" }] } }, q());
    t.store.create(CM, "default", { metadata: { name: "rs-owned", ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "11111111-0000-0000-0000-000000000000" }] } }, q());
    await settle(() => !exists(t, "orphaned"));
    assert.ok(exists(t, "rs-owned"));
  } finally {
    t.close();
  }
});

test("foreground: the owner stays with deletionTimestamp until its blocking dependents are gone", async () => {
  const t = openTestStore();
  try {
    const owner = t.store.create(CM, "default", { metadata: { name: "owner" } }, q());
    const child = owned(t, "child", owner, true);
    // The child waits on a finalizer of someone else's, so the owner must wait too.
    t.store.patch(CM, "default", "child", "application/merge-patch+json", { metadata: { finalizers: ["example.com/hold"] } }, q());
    const answer = t.store.delete(CM, "default", "owner", { propagationPolicy: "Foreground" }, q()) as KubeObject;
    assert.ok(answer.metadata.deletionTimestamp, "the answer is the object being deleted");
    assert.deepEqual(answer.metadata.finalizers, ["foregroundDeletion"]);
    await settle(() => t.storage.get(CM.storageKey, "default", "child")?.metadata.deletionTimestamp !== undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(exists(t, "owner"), "the owner waits for the blocking dependent");
    const held = t.storage.get(CM.storageKey, "default", "child") as KubeObject;
    t.store.update(CM, "default", "child", { ...held, metadata: { ...held.metadata, finalizers: [] } }, q());
    assert.equal(exists(t, "child"), false);
    await settle(() => !exists(t, "owner"));
    assert.equal(child.metadata.name, "child");
  } finally {
    t.close();
  }
});

test("foreground with only non-blocking dependents: the owner goes at once, then they follow", async () => {
  const t = openTestStore();
  try {
    const owner = t.store.create(CM, "default", { metadata: { name: "owner" } }, q());
    owned(t, "child", owner, false);
    t.store.delete(CM, "default", "owner", { propagationPolicy: "Foreground" }, q());
    await settle(() => !exists(t, "owner") && !exists(t, "child"));
  } finally {
    t.close();
  }
});

test("orphan: dependents lose the reference and stay; orphanDependents=true means the same", async () => {
  const t = openTestStore();
  try {
    for (const options of [{ propagationPolicy: "Orphan" }, { orphanDependents: true }]) {
      const owner = t.store.create(CM, "default", { metadata: { name: "owner" } }, q());
      owned(t, "child", owner, true);
      const answer = t.store.delete(CM, "default", "owner", options, q()) as KubeObject;
      assert.deepEqual(answer.metadata.finalizers, ["orphan"]);
      await settle(() => !exists(t, "owner"));
      const child = t.storage.get(CM.storageKey, "default", "child") as KubeObject;
      assert.equal(child.metadata.ownerReferences, undefined);
      t.store.delete(CM, "default", "child", {}, q());
    }
  } finally {
    t.close();
  }
});

test("bad propagation options are 422 Invalid", () => {
  const t = openTestStore();
  try {
    t.store.create(CM, "default", { metadata: { name: "x" } }, q());
    for (const options of [{ propagationPolicy: "Sideways" }, { propagationPolicy: "Orphan", orphanDependents: true }]) {
      assert.throws(() => t.store.delete(CM, "default", "x", options, q()), (e: unknown) => e instanceof ApiError && e.code === 422 && /DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy/.test(e.message));
    }
  } finally {
    t.close();
  }
});

test("finalizers: the object stays with deletionTimestamp until an update removes the last one", () => {
  const t = openTestStore();
  try {
    t.store.create(CM, "default", { metadata: { name: "f", finalizers: ["a.example.com/x", "b.example.com/y"] } }, q());
    const deleting = t.store.delete(CM, "default", "f", {}, q()) as KubeObject;
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.throws(() => t.store.patch(CM, "default", "f", "application/json-patch+json", [{ op: "add", path: "/metadata/finalizers/-", value: "c.example.com/z" }], q()), (e: unknown) => e instanceof ApiError && e.code === 422);
    t.store.patch(CM, "default", "f", "application/json-patch+json", [{ op: "remove", path: "/metadata/finalizers/0" }], q());
    assert.ok(exists(t, "f"));
    t.store.patch(CM, "default", "f", "application/merge-patch+json", { metadata: { finalizers: null } }, q());
    assert.equal(exists(t, "f"), false);
  } finally {
    t.close();
  }
});

test("a restarted collector indexes what is stored and finishes pending orphaning", async () => {
  const t = openTestStore();
  try {
    const owner = t.store.create(CM, "default", { metadata: { name: "owner" } }, q());
    owned(t, "child", owner);
    // Simulate a crash between the delete and the collector's work: an owner with the orphan finalizer.
    const stored = t.storage.get(CM.storageKey, "default", "owner") as KubeObject;
    t.storage.put(CM.storageKey, { ...stored, metadata: { ...stored.metadata, deletionTimestamp: "2026-01-01T00:00:00Z", deletionGracePeriodSeconds: 0, finalizers: ["orphan"] } }, stored);
    const second = new GarbageCollector(t.store);
    try {
      assert.equal(second.dependentsOf(owner.metadata.uid as string), 1);
      await settle(() => !exists(t, "owner"));
      assert.equal((t.storage.get(CM.storageKey, "default", "child") as KubeObject).metadata.ownerReferences, undefined);
    } finally {
      second.stop();
    }
  } finally {
    t.close();
  }
});
