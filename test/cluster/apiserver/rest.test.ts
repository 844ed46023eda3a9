import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonText } from "../../../src/cluster/apiserver/rest.ts";
import { ApiError } from "../../../src/cluster/apiserver/status.ts";
import { Storage } from "../../../src/cluster/apiserver/storage.ts";
import { startWatch, type WatchSink } from "../../../src/cluster/apiserver/watch.ts";
import type { KubeObject } from "../../../src/cluster/apiserver/types.ts";
import { openTestStore, podBody, q, rt } from "../helpers/store.ts";

function rejects(fn: () => unknown, code: number, message?: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, code, e.message);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

test("create stamps server-owned metadata and a global increasing resourceVersion", () => {
  const t = openTestStore();
  try {
    const before = t.storage.currentRV;
    const a = t.store.create(rt("pods"), "default", podBody("a"), q());
    const b = t.store.create(rt("configmaps"), "default", { metadata: { generateName: "cm-" }, data: { k: "v" } }, q());
    assert.equal(Number(a.metadata.resourceVersion), before + 1);
    assert.equal(Number(b.metadata.resourceVersion), before + 2);
    assert.match(a.metadata.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.match(a.metadata.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(b.metadata.name ?? "", /^cm-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(a.apiVersion, "v1");
    assert.equal(a.kind, "Pod");
    rejects(() => t.store.create(rt("pods"), "default", podBody("a"), q()), 409, 'pods "a" already exists');
    rejects(() => t.store.create(rt("pods"), "nope", podBody("x"), q()), 404, 'namespaces "nope" not found');
    rejects(() => t.store.create(rt("pods"), "default", { ...podBody("x"), metadata: { name: "x", namespace: "other" } }, q()), 400);
    rejects(() => t.store.create(rt("pods"), "default", { kind: "ConfigMap", metadata: { name: "x" } }, q()), 400);
    rejects(() => t.store.create(rt("pods"), "default", { metadata: {} , spec: { containers: [{ name: "m", image: "i" }] } }, q()), 422, /metadata.name: Required value: name or generateName is required/);
  } finally {
    t.close();
  }
});

test("a stale resourceVersion on update is 409 Conflict with the real message", () => {
  const t = openTestStore();
  try {
    const cm = t.store.create(rt("configmaps"), "default", { metadata: { name: "c" }, data: { a: "1" } }, q());
    const updated = t.store.update(rt("configmaps"), "default", "c", { ...cm, data: { a: "2" } }, q());
    assert.ok(Number(updated.metadata.resourceVersion) > Number(cm.metadata.resourceVersion));
    rejects(
      () => t.store.update(rt("configmaps"), "default", "c", { ...cm, data: { a: "3" } }, q()),
      409,
      'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again',
    );
    // A no-op update writes nothing.
    const same = t.store.update(rt("configmaps"), "default", "c", updated, q());
    assert.equal(same.metadata.resourceVersion, updated.metadata.resourceVersion);
  } finally {
    t.close();
  }
});

test("status and main resource ignore each other's changes; pod spec is immutable", () => {
  const t = openTestStore();
  try {
    const pod = t.store.create(rt("pods"), "default", podBody("p"), q());
    const withStatus = t.store.update(rt("pods"), "default", "p", { ...pod, status: { phase: "Running" }, spec: { ...(pod.spec as object), restartPolicy: "Never" } }, q(), "status");
    assert.equal((withStatus.status as { phase: string }).phase, "Running");
    assert.equal((withStatus.spec as { restartPolicy: string }).restartPolicy, "Always");
    const relabelled = t.store.update(rt("pods"), "default", "p", { ...withStatus, metadata: { ...withStatus.metadata, labels: { x: "y" } }, status: { phase: "Failed" } }, q());
    assert.equal((relabelled.status as { phase: string }).phase, "Running");
    assert.deepEqual(relabelled.metadata.labels, { x: "y" });
    rejects(() => t.store.patch(rt("pods"), "default", "p", "application/merge-patch+json", { spec: { restartPolicy: "Never" } }, q()), 422, /pod updates may not change fields/);
    const image = t.store.patch(rt("pods"), "default", "p", "application/strategic-merge-patch+json", { spec: { containers: [{ name: "main", image: "nginx:2" }] } }, q());
    assert.equal((image.object.spec as { containers: { image: string }[] }).containers[0]?.image, "nginx:2");
  } finally {
    t.close();
  }
});

test("patch types, apply-patch upsert, unknown content type 415", () => {
  const t = openTestStore();
  try {
    t.store.create(rt("configmaps"), "default", { metadata: { name: "c" }, data: { a: "1" } }, q());
    const merged = t.store.patch(rt("configmaps"), "default", "c", "application/merge-patch+json", { data: { b: "2" } }, q());
    assert.deepEqual(merged.object.data, { a: "1", b: "2" });
    const jsonPatched = t.store.patch(rt("configmaps"), "default", "c", "application/json-patch+json", [{ op: "remove", path: "/data/a" }], q());
    assert.deepEqual(jsonPatched.object.data, { b: "2" });
    const applied = t.store.patch(rt("configmaps"), "default", "new", "application/apply-patch+yaml", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "new" }, data: { z: "1" } }, q({ fieldManager: "kubectl" }));
    assert.equal(applied.created, true);
    rejects(() => t.store.patch(rt("configmaps"), "default", "c", "application/apply-patch+yaml", {}, q()), 422, /fieldManager: Required value/);
    rejects(() => t.store.patch(rt("configmaps"), "default", "c", "text/plain", {}, q()), 415);
    rejects(() => t.store.patch(rt("configmaps"), "default", "missing", "application/merge-patch+json", {}, q()), 404);
    rejects(() => t.store.patch(rt("configmaps"), "default", "c", "application/merge-patch+json", { metadata: { resourceVersion: "1" } }, q()), 409);
  } finally {
    t.close();
  }
});

test("list: label and field selectors, limit and continue", () => {
  const t = openTestStore();
  try {
    for (let i = 0; i < 5; i++) t.store.create(rt("pods"), "default", { ...podBody(`p${i}`), metadata: { name: `p${i}`, labels: { n: String(i % 2) } } }, q());
    const names = (list: Record<string, unknown>): string[] => (list.items as KubeObject[]).map((i) => i.metadata.name ?? "");
    assert.deepEqual(names(t.store.list(rt("pods"), "default", q({ labelSelector: "n=1" }))), ["p1", "p3"]);
    assert.deepEqual(names(t.store.list(rt("pods"), "default", q({ fieldSelector: "metadata.name=p4" }))), ["p4"]);
    assert.deepEqual(names(t.store.list(rt("pods"), undefined, q({ fieldSelector: "metadata.namespace=default,status.phase=Pending,spec.nodeName=" }))).length, 5);
    rejects(() => t.store.list(rt("pods"), "default", q({ fieldSelector: "spec.foo=1" })), 400, "field label not supported: spec.foo");
    const first = t.store.list(rt("pods"), "default", q({ limit: "2" }));
    assert.deepEqual(names(first), ["p0", "p1"]);
    const token = (first.metadata as { continue: string }).continue;
    const second = t.store.list(rt("pods"), "default", q({ limit: "2", continue: token }));
    assert.deepEqual(names(second), ["p2", "p3"]);
    const third = t.store.list(rt("pods"), "default", q({ limit: "2", continue: (second.metadata as { continue: string }).continue }));
    assert.deepEqual(names(third), ["p4"]);
    assert.equal((third.metadata as { continue?: string }).continue, undefined);
    rejects(() => t.store.list(rt("pods"), "default", q({ continue: "garbage" })), 400);
  } finally {
    t.close();
  }
});

test("graceful delete, finalizers, and deletion of bound pods", () => {
  const t = openTestStore();
  try {
    t.store.create(rt("configmaps"), "default", { metadata: { name: "f", finalizers: ["example.com/hold"] } }, q());
    const pending = t.store.delete(rt("configmaps"), "default", "f", {}, q()) as KubeObject;
    assert.ok(pending.metadata.deletionTimestamp);
    rejects(() => t.store.patch(rt("configmaps"), "default", "f", "application/merge-patch+json", { metadata: { finalizers: ["example.com/hold", "more"] } }, q()), 422, /no new finalizers/);
    t.store.patch(rt("configmaps"), "default", "f", "application/merge-patch+json", { metadata: { finalizers: null } }, q());
    rejects(() => t.store.get(rt("configmaps"), "default", "f"), 404, 'configmaps "f" not found');

    t.store.create(rt("pods"), "default", podBody("bound"), q());
    assert.deepEqual(t.store.bind("default", "bound", { metadata: { name: "bound" }, target: { name: "node-1" } }), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
    rejects(() => t.store.bind("default", "bound", { target: { name: "node-1" } }), 409, /pod bound is already assigned to node "node-1"/);
    const deleting = t.store.delete(rt("pods"), "default", "bound", {}, q()) as KubeObject;
    assert.equal(deleting.metadata.deletionGracePeriodSeconds, 30);
    assert.equal(deleting.kind, "Pod");
    t.store.delete(rt("pods"), "default", "bound", { gracePeriodSeconds: 0 }, q());
    rejects(() => t.store.get(rt("pods"), "default", "bound"), 404);

    t.store.create(rt("pods"), "default", podBody("unbound"), q());
    const gone = t.store.delete(rt("pods"), "default", "unbound", {}, q()) as KubeObject;
    assert.equal(gone.metadata.deletionTimestamp, undefined, "unscheduled pods go at once");
    const status = t.store.delete(rt("configmaps"), "default", "kube-root-ca.crt", {}, q());
    assert.equal(status.kind, "Status");
    assert.equal(status.status, "Success");
  } finally {
    t.close();
  }
});

test("namespaces: defaults, default service account, deletion removes content", async () => {
  const t = openTestStore();
  try {
    const ns = t.store.create(rt("namespaces"), undefined, { metadata: { name: "team" } }, q());
    assert.deepEqual(ns.metadata.labels, { "kubernetes.io/metadata.name": "team" });
    assert.equal((ns.status as { phase: string }).phase, "Active");
    assert.ok(t.store.get(rt("serviceaccounts"), "team", "default"));
    t.store.create(rt("pods"), "team", podBody("p"), q());
    t.store.create(rt("secrets"), "team", { metadata: { name: "s" }, stringData: { a: "b" } }, q());
    assert.deepEqual(t.store.get(rt("secrets"), "team", "s").data, { a: "Yg==" });
    const terminating = t.store.delete(rt("namespaces"), undefined, "team", {}, q()) as KubeObject;
    assert.equal((terminating.status as { phase: string }).phase, "Terminating");
    rejects(() => t.store.create(rt("configmaps"), "team", { metadata: { name: "late" } }, q()), 403, /unable to create new content in namespace team because it is being terminated/);
    while (t.storage.get("namespaces", "", "team")) await new Promise((resolve) => setImmediate(resolve));
    rejects(() => t.store.get(rt("namespaces"), undefined, "team"), 404);
    assert.equal(t.storage.countInNamespace("team"), 0);
  } finally {
    t.close();
  }
});

test("resource quota: 403 exceeded quota worded as the real server, and status.used kept", () => {
  const t = openTestStore();
  try {
    t.store.create(rt("resourcequotas"), "default", { metadata: { name: "q1" }, spec: { hard: { pods: "2" } } }, q());
    t.store.create(rt("pods"), "default", podBody("a"), q());
    t.store.create(rt("pods"), "default", podBody("b"), q());
    rejects(() => t.store.create(rt("pods"), "default", podBody("c"), q()), 403, 'pods "c" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=2, limited: pods=2');
    assert.deepEqual(t.store.get(rt("resourcequotas"), "default", "q1").status, { hard: { pods: "2" }, used: { pods: "2" } });
    t.store.create(rt("resourcequotas"), "default", { metadata: { name: "q2" }, spec: { hard: { "requests.cpu": "1" } } }, q());
    t.store.delete(rt("pods"), "default", "a", {}, q());
    rejects(() => t.store.create(rt("pods"), "default", podBody("c"), q()), 403, 'pods "c" is forbidden: failed quota: q2: must specify requests.cpu for: main');
    const big = podBody("c", { spec: { containers: [{ name: "main", image: "x", resources: { requests: { cpu: "1500m" } } }] } });
    rejects(() => t.store.create(rt("pods"), "default", big, q()), 403, 'pods "c" is forbidden: exceeded quota: q2, requested: requests.cpu=1500m, used: requests.cpu=0, limited: requests.cpu=1');
  } finally {
    t.close();
  }
});

test("service account admission: a missing service account is 403", () => {
  const t = openTestStore();
  try {
    const pod = podBody("p", { spec: { serviceAccountName: "robot", containers: [{ name: "m", image: "i" }] } });
    rejects(() => t.store.create(rt("pods"), "default", pod, q()), 403, 'pods "p" is forbidden: error looking up service account default/robot: serviceaccount "robot" not found');
  } finally {
    t.close();
  }
});

function collectingSink(): WatchSink & { events: { type: string; object: KubeObject }[]; ended: boolean } {
  const sink = {
    events: [] as { type: string; object: KubeObject }[],
    ended: false,
    write(line: string) {
      sink.events.push(JSON.parse(line) as { type: string; object: KubeObject });
      return true;
    },
    backlog: () => 0,
    end() {
      sink.ended = true;
    },
    onClose() {},
  };
  return sink;
}

const watchOptions = { asTable: undefined, bookmarkIntervalMs: 60_000, maxBacklogBytes: 1 << 20 };

test("watch: synthetic ADDED from RV 0, resume from an RV, selector transitions, 410 after compaction", () => {
  const t = openTestStore(10);
  try {
    const a = t.store.create(rt("configmaps"), "default", { metadata: { name: "a", labels: { w: "1" } } }, q());
    const fromZero = collectingSink();
    startWatch(t.store, rt("configmaps"), "default", q({ resourceVersion: "0", labelSelector: "w=1", timeoutSeconds: "60" }), fromZero, watchOptions);
    assert.deepEqual(fromZero.events.map((e) => `${e.type} ${e.object.metadata.name}`), ["ADDED a"]);
    const resumed = collectingSink();
    startWatch(t.store, rt("configmaps"), "default", q({ resourceVersion: String(Number(a.metadata.resourceVersion) - 1), timeoutSeconds: "60" }), resumed, watchOptions);
    assert.deepEqual(resumed.events.map((e) => `${e.type} ${e.object.metadata.name}`), ["ADDED a"]);
    t.store.patch(rt("configmaps"), "default", "a", "application/merge-patch+json", { metadata: { labels: { w: "2" } } }, q());
    t.store.patch(rt("configmaps"), "default", "a", "application/merge-patch+json", { metadata: { labels: { w: "1" } } }, q());
    t.store.delete(rt("configmaps"), "default", "a", {}, q());
    assert.deepEqual(fromZero.events.map((e) => e.type), ["ADDED", "DELETED", "ADDED", "DELETED"]);
    assert.deepEqual(resumed.events.map((e) => e.type), ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
    for (let i = 0; i < 1100; i++) t.store.create(rt("configmaps"), "default", { metadata: { name: `bulk${i}` } }, q());
    assert.ok(t.storage.compactedRV > 0);
    const old = collectingSink();
    startWatch(t.store, rt("configmaps"), "default", q({ resourceVersion: "1" }), old, watchOptions);
    assert.equal(old.events[0]?.type, "ERROR");
    assert.equal((old.events[0]?.object as unknown as { code: number }).code, 410);
    assert.equal(old.ended, true);
  } finally {
    t.close();
  }
});

test("storage survives reopening: objects, resourceVersion and change log", () => {
  const t = openTestStore();
  try {
    t.store.create(rt("configmaps"), "default", { metadata: { name: "keep" }, data: { a: "1" } }, q());
    const rv = t.storage.currentRV;
    const again = new Storage(t.file);
    try {
      assert.equal(again.currentRV, rv);
      assert.deepEqual(again.get("configmaps", "default", "keep")?.data, { a: "1" });
      assert.equal(again.changesSince("configmaps", rv - 1).length, 1);
    } finally {
      again.close();
    }
  } finally {
    t.close();
  }
});

test("watch: bookmarks and a clean end at timeoutSeconds; watch-list ends its initial events with a bookmark", async () => {
  const t = openTestStore();
  try {
    t.store.create(rt("configmaps"), "default", { metadata: { name: "a" } }, q());
    const timed = collectingSink();
    startWatch(t.store, rt("configmaps"), "default", q({ resourceVersion: String(t.storage.currentRV), allowWatchBookmarks: "true", timeoutSeconds: "0" }), timed, watchOptions);
    while (!timed.ended) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(timed.events.map((e) => e.type), ["BOOKMARK"]);
    assert.equal(timed.events[0]?.object.metadata.resourceVersion, String(t.storage.currentRV));
    const watchList = collectingSink();
    startWatch(t.store, rt("configmaps"), "default", q({ sendInitialEvents: "true", resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: "true", timeoutSeconds: "60" }), watchList, watchOptions);
    const types = watchList.events.map((e) => e.type);
    assert.equal(types.at(-1), "BOOKMARK");
    assert.ok(types.slice(0, -1).every((type) => type === "ADDED") && types.length >= 3, types.join());
    assert.deepEqual(watchList.events.at(-1)?.object.metadata.annotations, { "k8s.io/initial-events-end": "true" });
  } finally {
    t.close();
  }
});

test("events.k8s.io/v1 and core/v1 events are two views of one store", () => {
  const t = openTestStore();
  try {
    const eventTime = "2026-01-01T00:00:00.000000Z";
    const created = t.store.create(rt("events", "events.k8s.io"), "default", {
      metadata: { name: "web.1" },
      eventTime,
      regarding: { kind: "Pod", name: "web", namespace: "default" },
      note: "Successfully assigned default/web to node-1",
      reason: "Scheduled",
      type: "Normal",
      reportingController: "default-scheduler",
      reportingInstance: "default-scheduler-1",
      action: "Binding",
    }, q());
    assert.equal(created.apiVersion, "events.k8s.io/v1");
    assert.equal(created.note, "Successfully assigned default/web to node-1");
    const core = t.store.get(rt("events"), "default", "web.1");
    assert.equal(core.apiVersion, "v1");
    assert.equal(core.message, "Successfully assigned default/web to node-1");
    assert.deepEqual(core.involvedObject, { kind: "Pod", name: "web", namespace: "default" });
    assert.equal(core.reportingComponent, "default-scheduler");
    assert.equal(core.eventTime, eventTime, "MicroTime keeps its six digits");
    const selected = t.store.list(rt("events"), "default", q({ fieldSelector: "involvedObject.name=web,involvedObject.kind=Pod,reason=Scheduled" }));
    assert.equal((selected.items as unknown[]).length, 1);
  } finally {
    t.close();
  }
});

test("dry run stores nothing; deletecollection deletes what the selector matches", () => {
  const t = openTestStore();
  try {
    const rv = t.storage.currentRV;
    const dry = t.store.create(rt("configmaps"), "default", { metadata: { name: "dry" } }, q({ dryRun: "All" }));
    assert.equal(dry.metadata.name, "dry");
    assert.equal(t.storage.currentRV, rv);
    rejects(() => t.store.get(rt("configmaps"), "default", "dry"), 404);
    for (const [name, team] of [["a", "x"], ["b", "x"], ["c", "y"]]) t.store.create(rt("configmaps"), "default", { metadata: { name, labels: { team } } }, q());
    const deleted = t.store.deleteCollection(rt("configmaps"), "default", {}, q({ labelSelector: "team=x" }));
    assert.deepEqual((deleted.items as KubeObject[]).map((i) => i.metadata.name), ["a", "b"]);
    assert.deepEqual((t.store.list(rt("configmaps"), "default", q({ labelSelector: "team" })).items as KubeObject[]).map((i) => i.metadata.name), ["c"]);
  } finally {
    t.close();
  }
});

test("getText answers with the served form: the stored text when it already is, converted otherwise", () => {
  const t = openTestStore();
  try {
    const pod = t.store.create(rt("pods"), "default", podBody("text"), q({ fieldManager: "m" }));
    const text = t.store.getText(rt("pods"), "default", "text");
    assert.ok(text.startsWith('{"apiVersion":"v1","kind":"Pod",'));
    assert.deepEqual(JSON.parse(text), pod);
    assert.deepEqual(JSON.parse(t.store.getText(rt("namespaces"), undefined, "default")), t.store.get(rt("namespaces"), undefined, "default"));
    t.store.create(rt("events"), "default", { metadata: { name: "e" }, involvedObject: { kind: "Pod", name: "text", namespace: "default" }, reason: "R", message: "m", type: "Normal" }, q());
    const asEventsV1 = JSON.parse(t.store.getText(rt("events", "events.k8s.io"), "default", "e"));
    assert.equal(asEventsV1.apiVersion, "events.k8s.io/v1");
    assert.equal(asEventsV1.note, "m");
    assert.throws(() => t.store.getText(rt("pods"), "default", "missing"), (e: unknown) => e instanceof ApiError && e.code === 404);
  } finally {
    t.close();
  }
});

test("an answer made from a just-written object is its stored text, byte for byte what serialising it gives", () => {
  const t = openTestStore();
  try {
    const created = t.store.create(rt("pods"), "default", podBody("a"), q({ fieldManager: "test" }));
    assert.equal(jsonText(created), JSON.stringify(created));
    assert.equal(jsonText(created), t.storage.getText("pods", "default", "a"));
    const updated = t.store.update(rt("pods"), "default", "a", { ...created, metadata: { ...created.metadata, labels: { app: "db" } } }, q({ fieldManager: "test" }));
    assert.equal(jsonText(updated), JSON.stringify(updated));
    const roles = t.store.create(rt("roles", "rbac.authorization.k8s.io"), "default", { metadata: { name: "r" }, rules: [] }, q());
    assert.equal(jsonText(roles), JSON.stringify(roles));
    assert.equal(jsonText({ kind: "Status" }), '{"kind":"Status"}');
  } finally {
    t.close();
  }
});
