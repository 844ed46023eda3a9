// npm run bench:cluster — the embedded cluster end to end (API server, scheduler, kubelet, process
// runtime) on this machine:
//   1. pod startup latency as Kubernetes defines it (creation to all containers running, observed via
//      watch), p50/p99, at a steady 20 pods/s (goal p99 <= 100 ms; Kubernetes' SLO is 5 s);
//   2. 1,000 pods with one `sleep` container each from one burst to Running, then deleted again, and the
//      host's process count back to where it was (goals: <= 10 s each);
//   3. exec round trip for `true` through the API server and kubelet over WebSocket, p50 (goal <= 15 ms).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { ApiClient, type Obj } from "../src/cluster/client/api.ts";
import { startCluster } from "../src/cluster/index.ts";
import { percentile } from "./support.ts";

const STEADY_PODS = Number(process.env.STEADY_PODS ?? 200);
const BURST_PODS = Number(process.env.BURST_PODS ?? 1000);
const EXEC_ROUNDS = Number(process.env.EXEC_ROUNDS ?? 200);

/** CPU seconds of this process (user + system) and of its reaped children and their descendants. */
function cpuSeconds(): { self: number; children: number } {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = (i: number): number => Number(fields[i] ?? 0) / 100;
  return { self: ticks(11) + ticks(12), children: ticks(13) + ticks(14) };
}

function processCount(): number {
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// COUNT_REQUESTS=1: how many requests of each kind the cluster's own clients (kubelets, scheduler) and
// this benchmark made, to spot retries or relists.
const requestCounts = new Map<string, number>();
const eventReasons = new Map<string, string>();
if (process.env.COUNT_REQUESTS) {
  const original = ApiClient.prototype.request;
  ApiClient.prototype.request = function (this: ApiClient, method: string, path: string, ...rest: unknown[]): Promise<Obj> {
    let key = `${method} ${path.replace(/\?.*$/, "").replace(/\/(pods|events|leases|nodes|serviceaccounts|configmaps)\/[^/]+/, "/$1/*")}`;
    const body = rest[0] as Obj | undefined;
    if (method === "POST" && body?.kind === "Event") {
      eventReasons.set(String(body.metadata?.name), `${String(body.reason)}: ${String(body.message).slice(0, 100)}`);
      key += ` (${String(body.reason)})`;
    }
    if (method === "PATCH" && path.includes("/events/")) key += ` (${eventReasons.get(path.split("/").pop() ?? "") ?? "?"})`;
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
    return (original as (...args: unknown[]) => Promise<Obj>).call(this, method, path, ...rest);
  } as typeof original;
  const originalWatch = ApiClient.prototype.watch;
  ApiClient.prototype.watch = function (this: ApiClient, ...args: Parameters<typeof originalWatch>) {
    const key = `WATCH ${args[0]}`;
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
    return originalWatch.apply(this, args);
  };
}

const dataDir = mkdtempSync(join(tmpdir(), "berth-bench-cluster-"));
const cluster = await startCluster({ dataDir, port: 0, nodes: 2, maxPodsPerNode: 1000 });
const client = new ApiClient({ url: cluster.url, token: cluster.adminToken, caCertPem: cluster.caCertPem, userAgent: "berth/bench" });
const NS = "bench";
await client.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
console.log(`cluster up: 2 nodes (1,000 pods each), runtime ${cluster.runtime.info().runtimeName}, pod isolation ${cluster.runtime.info().capabilities.podIsolation ? "on" : "off"}`);

// Watch every pod of the namespace; resolve waiters when a pod has all containers running or is gone.
const createdAt = new Map<string, number>();
const runningAt = new Map<string, number>();
const boundAt = new Map<string, number>();
const gone = new Set<string>();
const waiters: (() => void)[] = [];
const list = await client.get(`/api/v1/namespaces/${NS}/pods`);
const watch = client.watch(`/api/v1/namespaces/${NS}/pods`, new URLSearchParams({ resourceVersion: String(list.metadata.resourceVersion) }), (event) => {
  const pod = event.object as Obj;
  const name = String(pod.metadata?.name);
  if (event.type === "DELETED") gone.add(name);
  if (pod.spec?.nodeName && !boundAt.has(name)) boundAt.set(name, performance.now());
  else if (!runningAt.has(name)) {
    const statuses = (pod.status?.containerStatuses ?? []) as Obj[];
    if (statuses.length > 0 && statuses.every((s) => s.state?.running)) runningAt.set(name, performance.now());
  }
  for (const waiter of waiters.splice(0)) waiter();
});
async function waitFor(condition: () => boolean): Promise<void> {
  const progress = setInterval(() => console.log(`  … ${runningAt.size} pods seen running, ${gone.size} deleted`), 5000);
  try {
    while (!condition()) await new Promise<void>((resolve) => waiters.push(resolve));
  } finally {
    clearInterval(progress);
  }
}

const podBody = (name: string): Obj => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { terminationGracePeriodSeconds: 5, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] },
});

async function createPod(name: string): Promise<void> {
  createdAt.set(name, performance.now());
  // The benchmark observes pods by watch; decoding each answer would only add its own CPU to the figure.
  await client.create(`/api/v1/namespaces/${NS}/pods`, podBody(name), { discardResponse: true });
}

/** BURST_PROFILE=<file>: a V8 CPU profile of this process during the burst alone (open in Chrome DevTools). */
async function startProfile(): Promise<{ stop(path: string): Promise<void> }> {
  const { Session } = await import("node:inspector/promises");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  return {
    async stop(path: string) {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(path, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

async function inBatches(names: string[], concurrency: number, fn: (name: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < names.length) await fn(names[next++] as string);
  }));
}

// 1. Steady 20 pods/s.
const steady = Array.from({ length: STEADY_PODS }, (_, i) => `steady-${i}`);
const t0 = performance.now();
for (let i = 0; i < steady.length; i++) {
  const due = t0 + i * 50;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  void createPod(steady[i] as string);
}
await waitFor(() => steady.every((n) => runningAt.has(n)));
const latencies = steady.map((n) => (runningAt.get(n) as number) - (createdAt.get(n) as number));
const steadyP50 = percentile(latencies, 50);
const steadyP99 = percentile(latencies, 99);
console.log(`startup latency at 20 pods/s (${STEADY_PODS} pods): p50 ${steadyP50.toFixed(1)} ms, p99 ${steadyP99.toFixed(1)} ms (goal p99 <= 100 ms)`);
await inBatches(steady, 32, (n) => client.delete(`/api/v1/namespaces/${NS}/pods/${n}`, undefined, { discardResponse: true }));
await waitFor(() => steady.every((n) => gone.has(n)));

// 3 (before the burst, on a quiet node). Exec round trip for `true`.
await createPod("exec-target");
await waitFor(() => runningAt.has("exec-target"));
function execTrue(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const url = `${cluster.url.replace("https", "wss")}/api/v1/namespaces/${NS}/pods/exec-target/exec?command=true&stdout=true&stderr=true`;
    const ws = new WebSocket(url, ["v5.channel.k8s.io"], { ca: cluster.caCertPem, headers: { Authorization: `Bearer ${cluster.adminToken}` } });
    ws.on("message", (data: Buffer) => {
      if (data[0] === 3) {
        ws.close();
        resolve(performance.now() - start);
      }
    });
    ws.on("error", reject);
  });
}
for (let i = 0; i < 10; i++) await execTrue();
const execTimes: number[] = [];
for (let i = 0; i < EXEC_ROUNDS; i++) execTimes.push(await execTrue());
const execP50 = percentile(execTimes, 50);
console.log(`exec round trip for \`true\` (${EXEC_ROUNDS} runs): p50 ${execP50.toFixed(1)} ms, p99 ${percentile(execTimes, 99).toFixed(1)} ms (goal p50 <= 15 ms)`);
await client.delete(`/api/v1/namespaces/${NS}/pods/exec-target`);
await waitFor(() => gone.has("exec-target"));

// 2. Burst of 1,000.
await sleep(500);
const baseline = processCount();
const burst = Array.from({ length: BURST_PODS }, (_, i) => `burst-${i}`);
const profiler = process.env.BURST_PROFILE ? await startProfile() : undefined;
const burstCpu = cpuSeconds();
const burstStart = performance.now();
await inBatches(burst, 64, createPod);
await waitFor(() => burst.every((n) => runningAt.has(n)));
if (profiler) await profiler.stop(String(process.env.BURST_PROFILE));
const burstUp = (performance.now() - burstStart) / 1000;
const burstUpCpu = cpuSeconds().self - burstCpu.self;
const allBound = (Math.max(...burst.map((n) => boundAt.get(n) as number)) - burstStart) / 1000;
const peak = processCount();
console.log(`${BURST_PODS} pods from one burst to Running: ${burstUp.toFixed(2)} s (goal <= 10 s); all bound by the scheduler after ${allBound.toFixed(2)} s; processes ${baseline} -> ${peak}`);
const deleteStart = performance.now();
await inBatches(burst, 64, (n) => client.delete(`/api/v1/namespaces/${NS}/pods/${n}`, undefined, { discardResponse: true }));
await waitFor(() => burst.every((n) => gone.has(n)));
const burstDown = (performance.now() - deleteStart) / 1000;
// From the first create to the last pod gone: work deferred past "all running" (events wait behind the
// writes that start pods) is in this figure, so it is the cost of a pod's whole life.
const burstLifeCpu = cpuSeconds().self - burstCpu.self;
let after = processCount();
if (process.env.SHOW_LEFTOVERS) {
  const { execFileSync } = await import("node:child_process");
  console.log(execFileSync("ps", ["-eo", "pid,ppid,stat,etimes,args", "--sort=ppid"], { encoding: "utf8" }).split("\n").slice(0, 40).join("\n"));
}
const settleStart = performance.now();
while (after > baseline && performance.now() - settleStart < 30_000) {
  await sleep(100);
  after = processCount();
}
console.log(`${BURST_PODS} pods deleted (gone from the API): ${burstDown.toFixed(2)} s (goal <= 10 s); processes back to ${after} (baseline ${baseline}) ${((performance.now() - settleStart) / 1000).toFixed(2)} s later`);

if (process.env.COUNT_REQUESTS) console.log([...requestCounts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${n} ${k}`).join("\n"));
watch.stop();
client.close();
await cluster.stop();
// The runtime's spawner has exited and been reaped now: its CPU and that of every process it started
// (launch chains, pause processes, containers) are in this process's children figure.
const finalCpu = cpuSeconds();
console.log(
  `CPU of the burst: ${burstUpCpu.toFixed(2)} s in the cluster process until all ${BURST_PODS} were running (${((burstUpCpu * 1000) / BURST_PODS).toFixed(1)} ms per pod), ` +
    `${burstLifeCpu.toFixed(2)} s until all were deleted again (${((burstLifeCpu * 1000) / BURST_PODS).toFixed(1)} ms per pod's life); ` +
    `whole run: cluster process ${finalCpu.self.toFixed(1)} s, spawner and everything it started ${(finalCpu.children - burstCpu.children).toFixed(1)} s`,
);
rmSync(dataDir, { recursive: true, force: true });
