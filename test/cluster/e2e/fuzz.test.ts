// Robustness: a seeded stream of random and mutated requests. The server must answer every one
// with a proper status (errors as metav1.Status with a matching code), never crash, and leave only
// valid objects in storage.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { validatePodSpec } from "../../../src/cluster/apiserver/pods.ts";
import { RESOURCE_TYPES } from "../../../src/cluster/apiserver/resources.ts";
import type { KubeObject } from "../../../src/cluster/apiserver/types.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const SEED = 20261130;
const REQUESTS = 1500;
const CONCURRENCY = 8;

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.dispose();
});

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (p: number): boolean => random() < p;

const NAMES = ["a", "b", "web", "x-1", "Bad_Name", "", "a".repeat(300), "..", "%2F", "ns/../x"];
const NAMESPACES = ["default", "fuzz", "missing", "kube-system"];
const RANDOM_VALUES: unknown[] = [null, 0, -1, 1.5, 70000, "", "x", true, [], {}, [1, "a"], { nested: { deep: [null] } }, "🙂", "a".repeat(1000)];

function validPod(name: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "fuzz" }, finalizers: chance(0.1) ? ["fuzz/hold"] : undefined },
    spec: { containers: [{ name: "main", image: "busybox", ports: [{ containerPort: 8080, name: "http" }], env: [{ name: "A", value: "1" }] }], volumes: [{ name: "v", emptyDir: {} }] },
  };
}

function validObject(plural: string, name: string): Record<string, unknown> {
  switch (plural) {
    case "pods":
      return validPod(name);
    case "configmaps":
      return { metadata: { name }, data: { k: "v" } };
    case "secrets":
      return { metadata: { name }, stringData: { k: "v" } };
    case "namespaces":
      return { metadata: { name } };
    case "persistentvolumeclaims":
      return { metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } };
    default:
      return { metadata: { name } };
  }
}

/** Replaces, deletes or adds a random field somewhere in a JSON tree. */
function mutate(value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || chance(0.2)) return chance(0.5) ? [] : [pick(RANDOM_VALUES)];
    const copy = [...value];
    const i = Math.floor(random() * copy.length);
    copy[i] = mutate(copy[i], depth + 1);
    return copy;
  }
  if (value && typeof value === "object") {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const roll = random();
    if (keys.length === 0 || roll < 0.15) copy[pick(["extra", "metadata", "spec", "status", "kind", "apiVersion", "$patch", "__proto__"])] = pick(RANDOM_VALUES);
    else if (roll < 0.3) delete copy[pick(keys)];
    else {
      const key = pick(keys);
      copy[key] = depth > 4 || chance(0.3) ? pick(RANDOM_VALUES) : mutate(copy[key], depth + 1);
    }
    return copy;
  }
  return pick(RANDOM_VALUES);
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function randomRequest(): FuzzRequest {
  const types = RESOURCE_TYPES;
  const rt = pick(types);
  const ns = pick(NAMESPACES);
  const name = chance(0.7) ? pick(NAMES.slice(0, 4)) : pick(NAMES);
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const collection = rt.namespaced ? `${base}/namespaces/${ns}/${rt.plural}` : `${base}/${rt.plural}`;
  const sub = chance(0.15) ? `/${pick([...Object.keys(rt.subresources), "bogus"])}` : "";
  const paths = [collection, `${collection}/${encodeURIComponent(name)}${sub}`, `${collection}/${name}/x/y/z`, `${base}/${rt.plural}`, pick(["/", "/api", "/apis", "/version", "/openapi/v2", "/api/v2/pods", "/apis/nope/v1/things", "/%E0%A4%A"])];
  const method = pick(["GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
  let path = pick(paths);
  if (method === "POST" && chance(0.6)) path = collection;
  const query = new URLSearchParams();
  if (chance(0.3)) query.set("labelSelector", pick(["app=fuzz", "app in (a,b)", "!app", "a=b=c", "((", "app notin ()"]));
  if (chance(0.2)) query.set("fieldSelector", pick(["metadata.name=a", "status.phase!=Failed", "spec.nope=1", "=", "metadata.name"]));
  if (chance(0.2)) query.set("limit", pick(["1", "0", "-1", "abc", "100000"]));
  if (chance(0.1)) query.set("continue", pick(["", "garbage", Buffer.from('{"rv":1,"namespace":"","name":""}').toString("base64url")]));
  if (chance(0.1)) query.set("watch", pick(["true", "1", "maybe"]));
  if (query.get("watch")) query.set("timeoutSeconds", "0");
  if (chance(0.1)) query.set("resourceVersion", pick(["0", "1", "-5", "abc", "999999999"]));
  if (chance(0.05)) query.set("dryRun", "All");
  if (chance(0.1)) query.set("gracePeriodSeconds", pick(["0", "-1", "x", "30"]));
  if (method === "PATCH" && chance(0.5)) query.set("fieldManager", "fuzz");
  const qs = query.toString();
  const contentType = method === "PATCH" ? pick(["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml", "text/plain"]) : pick(["application/json", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]);
  let body: Buffer | undefined;
  if (method !== "GET" && method !== "OPTIONS") {
    const valid = validObject(rt.plural, name || "fuzz");
    const roll = random();
    if (roll < 0.3) body = Buffer.from(JSON.stringify(valid));
    else if (roll < 0.65) body = Buffer.from(JSON.stringify(mutate(mutate(valid))));
    else if (roll < 0.75) body = Buffer.from(JSON.stringify(valid).slice(0, Math.floor(random() * 40)));
    else if (roll < 0.82) body = Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)));
    else if (roll < 0.88) body = Buffer.concat([Buffer.from("k8s\0"), Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256)))]);
    else if (roll < 0.94) body = Buffer.from(JSON.stringify(pick([[{ op: "add", path: "/metadata/labels/x", value: "y" }], [{ op: "remove", path: "/nope" }], [{ op: "test", path: "", value: 1 }], "x"])));
    else body = Buffer.from("a: [unclosed\n  - {");
  }
  return { method, path: qs ? `${path}?${qs}` : path, headers: { "Content-Type": contentType, Accept: chance(0.2) ? "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" : "application/json" }, body };
}

function send(req: FuzzRequest): Promise<{ status: number; text: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const r = request(`${server.url}${req.path}`, { method: req.method, ca: server.caCertPem, headers: { Authorization: `Bearer ${server.adminToken}`, ...req.headers, ...(req.body ? { "Content-Length": String(req.body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), contentType: String(res.headers["content-type"] ?? "") }));
    });
    r.on("error", reject);
    if (req.body) r.write(req.body);
    r.end();
  });
}

test(`fuzz: ${REQUESTS} random and mutated requests (seed ${SEED}) never crash the server or corrupt storage`, async () => {
  await send({ method: "POST", path: "/api/v1/namespaces", headers: { "Content-Type": "application/json" }, body: Buffer.from('{"metadata":{"name":"fuzz"}}') });
  const requests = Array.from({ length: REQUESTS }, randomRequest);
  const codes = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const req = requests[next++] as FuzzRequest;
      const res = await send(req).catch((error: unknown) => {
        throw new Error(`${req.method} ${req.path}: ${String(error)}`);
      });
      codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
      assert.notEqual(res.status, 500, `500 for ${req.method} ${req.path}: ${res.text}`);
      if (res.status >= 400) {
        const status = JSON.parse(res.text) as { kind: string; code: number; status: string };
        assert.equal(status.kind, "Status", `${req.method} ${req.path}`);
        assert.equal(status.code, res.status);
        assert.equal(status.status, "Failure");
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log("fuzz status codes:", JSON.stringify([...codes].sort((a, b) => a[0] - b[0])));
  assert.ok((codes.get(201) ?? 0) > 20, `some creates succeed: ${JSON.stringify([...codes])}`);
  assert.ok((codes.get(400) ?? 0) + (codes.get(422) ?? 0) > 100, "many requests are rejected");

  // Still serving, and everything stored is a valid object.
  assert.equal((await send({ method: "GET", path: "/version", headers: {} })).status, 200);
  const storage = server.store.storage;
  const uids = new Set<string>();
  for (const rt of RESOURCE_TYPES.filter((t) => !t.virtual && !t.toStorage)) {
    for (const obj of storage.list(rt.storageKey, undefined) as Iterable<KubeObject>) {
      const where = `${rt.plural} ${obj.metadata.namespace}/${obj.metadata.name}`;
      assert.ok(obj.metadata.name, where);
      assert.ok(obj.metadata.uid && !uids.has(obj.metadata.uid), `${where}: unique uid`);
      uids.add(obj.metadata.uid);
      assert.ok(Number(obj.metadata.resourceVersion) > 0 && Number(obj.metadata.resourceVersion) <= storage.currentRV, where);
      assert.equal(obj.kind, rt.kind, where);
      assert.equal(Boolean(obj.metadata.namespace), rt.namespaced, where);
      if (rt.plural === "pods") assert.deepEqual(validatePodSpec(obj.spec), [], where);
    }
  }
});

test("oversized bodies get 413 and the server keeps serving", async () => {
  const big = Buffer.alloc(4 * 1024 * 1024, "a");
  const res = await send({ method: "POST", path: "/api/v1/namespaces/default/configmaps", headers: { "Content-Type": "application/json" }, body: big });
  assert.equal(res.status, 413);
  assert.equal((JSON.parse(res.text) as { code: number }).code, 413);
  assert.equal((await send({ method: "GET", path: "/version", headers: {} })).status, 200);
});
