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

const pod = (uid: string): { kind: string; namespace: string; name: string; uid: string } => ({ kind: "Pod", namespace: "ci", name: `pod-${uid}`, uid });

test("events: a repeat is folded into the stored event (count up), a new reason or message is a new event", async () => {
  const { client, sent } = fakeClient();
  const recorder = new EventRecorder(client, { component: "kubelet", host: "node-1" });
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off restarting failed container");
  await recorder.flushed();
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off restarting failed container");
  recorder.emit(pod("a"), "Normal", "Pulled", "already present");
  await recorder.flushed();
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
  await recorder.flushed();
  recorder.forget("a");
  recorder.emit(pod("a"), "Normal", "Started", "Started container main");
  recorder.emit(pod("b"), "Normal", "Started", "Started container main");
  await recorder.flushed();
  assert.deepEqual(sent.map((s) => `${s.method} ${String(s.body.involvedObject?.uid ?? s.path)}`), ["POST a", "POST b", "POST a", `PATCH ${sent[3]?.path ?? ""}`]);
});

test("events: the folding state is bounded, the oldest key forgotten first", async () => {
  const { client, sent } = fakeClient();
  const recorder = new EventRecorder(client, { component: "kubelet" }, 2);
  for (const uid of ["a", "b", "c"]) recorder.emit(pod(uid), "Normal", "Started", "x");
  await recorder.flushed();
  recorder.emit(pod("a"), "Normal", "Started", "x"); // forgotten: a new event
  recorder.emit(pod("c"), "Normal", "Started", "x"); // remembered: folded
  await recorder.flushed();
  assert.deepEqual(sent.slice(3).map((s) => s.method), ["POST", "PATCH"]);
  recorder.forget("a");
  recorder.forget("b");
  recorder.forget("c");
});

test("events: written one at a time in order; a repeat recorded before its event went out rides on that write", async () => {
  const sent: { method: string; body: Obj }[] = [];
  let inFlight = 0;
  let most = 0;
  const client = {
    event: async (method: string, _path: string, body: Obj) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      sent.push({ method, body: structuredClone(body) });
      inFlight--;
    },
  } as unknown as ApiClient;
  const recorder = new EventRecorder(client, { component: "kubelet" });
  recorder.emit(pod("a"), "Normal", "Pulling", "Pulling image");
  recorder.emit(pod("a"), "Normal", "Pulled", "pulled");
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off");
  recorder.emit(pod("a"), "Normal", "Pulling", "Pulling image"); // the first write is already on its way: a PATCH
  recorder.emit(pod("a"), "Warning", "BackOff", "Back-off"); // still queued: its POST says count 2
  await recorder.flushed();
  assert.equal(most, 1);
  assert.deepEqual(sent.map((s) => `${s.method} ${String(s.body.reason ?? "")} ${String(s.body.count)}`), ["POST Pulling 1", "POST Pulled 1", "POST BackOff 2", "PATCH  2"]);
});

test("events: a failed write does not stop the ones after it", async () => {
  const sent: string[] = [];
  const client = {
    event: (_method: string, _path: string, body: Obj) => {
      if (body.reason === "Gone") return Promise.reject(new Error("namespace terminating"));
      sent.push(String(body.reason));
      return Promise.resolve();
    },
  } as unknown as ApiClient;
  const recorder = new EventRecorder(client, { component: "kubelet" });
  recorder.emit(pod("a"), "Normal", "Gone", "x");
  recorder.emit(pod("a"), "Normal", "Started", "x");
  await recorder.flushed();
  assert.deepEqual(sent, ["Started"]);
});

test("events: after close, nothing more is sent and what waited is dropped", async () => {
  const sent: string[] = [];
  let release: () => void = () => undefined;
  const client = {
    event: (_method: string, _path: string, body: Obj) => {
      sent.push(String(body.reason));
      return new Promise<void>((resolve) => (release = resolve));
    },
  } as unknown as ApiClient;
  const recorder = new EventRecorder(client, { component: "kubelet" });
  recorder.emit(pod("a"), "Normal", "Pulling", "x");
  recorder.emit(pod("a"), "Normal", "Pulled", "x");
  recorder.close();
  recorder.emit(pod("a"), "Normal", "Created", "x");
  release();
  await recorder.flushed();
  assert.deepEqual(sent, ["Pulling"]);
});
