import { test } from "node:test";
import assert from "node:assert/strict";
import type { ApiClient, Obj } from "../../../src/cluster/client/api.ts";
import { EventRecorder } from "../../../src/cluster/client/events.ts";

/** Records what the recorder sends instead of sending it. */
function fakeClient(): { client: ApiClient; sent: { method: string; path: string; body: Obj }[] } {
  const sent: { method: string; path: string; body: Obj }[] = [];
  const client = {
    event: (method: string, path: string, body: Obj) => {
      sent.push({ method, path, body });
      return Promise.resolve();
    },
  } as unknown as ApiClient;
  return { client, sent };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const pod = (uid: string): { kind: string; namespace: string; name: string; uid: string } => ({ kind: "Pod", namespace: "ci", name: `pod-${uid}`, uid });

test("events: a repeat is folded into the stored event (count up), a new reason or message is a new event", async () => {
  const { client, sent } = fakeClient();
  const recorder = new EventRecorder(client, { component: "kubelet", host: "node-1" });
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off restarting failed container");
  await settle();
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off restarting failed container");
  recorder.emit(pod("a"), "Normal", "Pulled", "already present");
  await settle();
  assert.deepEqual(sent.map((s) => s.method), ["POST", "PATCH", "POST"]);
  const first = sent[0]?.body as Obj;
  assert.equal(first.source.host, "node-1");
  assert.equal(first.involvedObject.apiVersion, "v1");
  assert.match(String(first.metadata.name), /^pod-a\.[0-9a-f]+$/);
  assert.equal(sent[1]?.path, `/api/v1/namespaces/ci/events/${String(first.metadata.name)}`);
  assert.equal(sent[1]?.body.count, 2);
});

test("events: forget drops only that object's folding state", async () => {
  const { client, sent } = fakeClient();
  const recorder = new EventRecorder(client, { component: "kubelet" });
  recorder.emit(pod("a"), "Normal", "Started", "Started container main");
  recorder.emit(pod("b"), "Normal", "Started", "Started container main");
  await settle();
  recorder.forget("a");
  recorder.emit(pod("a"), "Normal", "Started", "Started container main");
  recorder.emit(pod("b"), "Normal", "Started", "Started container main");
  await settle();
  assert.deepEqual(sent.map((s) => `${s.method} ${String(s.body.involvedObject?.uid ?? s.path)}`), ["POST a", "POST b", "POST a", `PATCH ${sent[3]?.path ?? ""}`]);
});

test("events: the folding state is bounded, the oldest key forgotten first", async () => {
  const { client, sent } = fakeClient();
  const recorder = new EventRecorder(client, { component: "kubelet" }, 2);
  for (const uid of ["a", "b", "c"]) recorder.emit(pod(uid), "Normal", "Started", "x");
  await settle();
  recorder.emit(pod("a"), "Normal", "Started", "x"); // forgotten: a new event
  recorder.emit(pod("c"), "Normal", "Started", "x"); // remembered: folded
  await settle();
  assert.deepEqual(sent.slice(3).map((s) => s.method), ["POST", "PATCH"]);
  recorder.forget("a");
  recorder.forget("b");
  recorder.forget("c");
});
