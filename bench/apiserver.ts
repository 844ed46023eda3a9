// `npm run bench:apiserver`: latency, throughput, watch fan-out and memory of the embedded API
// server. The server runs alone in its own process (bench/apiserver-process.ts: no scheduler or
// kubelet, so pods stay Pending); the load comes from this process over HTTPS on 127.0.0.1.
// Figures go to stdout; docs/performance.md records the latest ones.
//
// Latency is measured two ways. Closed loop (each client sends its next request when the previous
// returns) measures saturation: by Little's law the latency is the clients in flight divided by the
// throughput. Open loop (RATE requests per second in total, on a fixed schedule, default 1,000/s)
// measures latency under a given load, as Kubernetes' API latency SLOs are measured.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  CoreV1Api,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { httpsConnection, type Send } from "./https-connection.ts";
import { openLoop, percentile, spawnUntilReady, type OpenLoopResult } from "./support.ts";

const SERVER = new URL("./apiserver-process.ts", import.meta.url).pathname;
const BARE_SERVER = new URL("./bare-https-process.ts", import.meta.url).pathname;
/** Closed-loop requests per client: 50 × 200 (about 7 s) so that one hiccup does not make the p99, as it did with 50 × 40. */
const SAMPLES_PER_CLIENT = { 1: 500, 50: 200 } as const;
const CLIENT_NODE_CREATES = 3000;
const CLIENT_NODE_WARMUP = 500;
const WATCHES = 100;
const WATCH_EVENTS = 1000;
const MEMORY_PODS = 10_000;
const OPEN_LOOP_CLIENTS = 50;
const OPEN_LOOP_RATE = Number(process.env.RATE ?? 1000);
const OPEN_LOOP_SECONDS = 10;
/**
 * Seconds at the same rate before the rounds are recorded (their p99 is printed apart): until a fresh
 * server's storage has reached its steady footprint. Its WAL and database grow into memory the VM has
 * not touched yet until the WAL first starts over (about 24 s at 1,000 creates/s) and compaction starts
 * reusing the database's pages (after 20,000 writes); measured in continuous runs, p99 per 10 s was
 * 30-55 ms in the first window, 10-19 ms in the next two and 7-9 ms from 35 s on.
 */
const OPEN_LOOP_WARMUP_SECONDS = 30;
const FLOOR_WARMUP_SECONDS = 10;
/**
 * Rounds of OPEN_LOOP_SECONDS, back to back: one noisy stretch of the VM moves a single round's p99 a
 * lot, the median of three much less. (Alternating each round with a floor round left each server idle
 * for 10 s before its next round, and a server's first seconds after idling were slower.)
 */
const OPEN_LOOP_ROUNDS = 3;
/** Further create rates, each for a few seconds, to show how the tail grows with the load. */
const OTHER_RATES = [500, 1000, 1500, 2000];
const OTHER_RATE_SECONDS = 4;

interface Server {
  url: string;
  token: string;
  ca: string;
  pid: number;
  kubeconfig: string;
  stop(): Promise<void>;
}

async function startServer(dataDir: string): Promise<Server> {
  const { pid, stop } = await spawnUntilReady([SERVER, dataDir]);
  const kubeconfig = join(dataDir, "kubeconfig");
  const config = parse(readFileSync(kubeconfig, "utf8")) as { clusters: { cluster: { server: string; "certificate-authority-data": string } }[]; users: { user: { token: string } }[] };
  const cluster = config.clusters[0]!.cluster;
  return {
    url: cluster.server,
    token: config.users[0]!.user.token,
    ca: Buffer.from(cluster["certificate-authority-data"], "base64").toString(),
    pid,
    kubeconfig,
    stop,
  };
}

/** The floor: a bare HTTPS server answering at once (bench/bare-https-process.ts), as a Server on the API server's address and credentials. */
async function startBareServer(api: Server, dataDir: string): Promise<Server> {
  const bare = await spawnUntilReady([BARE_SERVER, dataDir]);
  const url = new URL(api.url);
  url.port = /ready (\d+)/.exec(bare.readyLine)?.[1] ?? "";
  return { ...api, url: url.origin, pid: bare.pid, stop: bare.stop };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** The process's user+system CPU time in µs (/proc clock ticks are 10 ms on Linux). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function summary(samples: number[]): string {
  return `p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms, max ${percentile(samples, 100).toFixed(2)} ms (n=${samples.length})`;
}

/** `count` keep-alive connections (httpsConnection.ts says why not node:https's client), one per client. */
function connections(server: Server, count: number): Send[] {
  return Array.from({ length: count }, () => httpsConnection(server.url, { ca: server.ca, headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" } }));
}

const pod = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, labels: { bench: "1" } }, spec: { containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "3600"], resources: { requests: { cpu: "10m", memory: "16Mi" } } }] } });

async function latency(server: Server, clients: 1 | 50, prefix: string): Promise<{ create: number[]; get: number[]; pairsPerSecond: number }> {
  const calls = connections(server, clients);
  const create: number[] = [];
  const get: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < SAMPLES_PER_CLIENT[clients]; i++) {
        const name = `${prefix}-${c}-${i}`;
        let t = performance.now();
        await calls[c]!("POST", "/api/v1/namespaces/default/pods", pod(name));
        create.push(performance.now() - t);
        t = performance.now();
        await calls[c]!("GET", `/api/v1/namespaces/default/pods/${name}`);
        get.push(performance.now() - t);
      }
    }),
  );
  return { create, get, pairsPerSecond: create.length / ((performance.now() - start) / 1000) };
}

async function openLoopCreates(server: Server, calls: Send[], rate: number, seconds: number, prefix: string): Promise<OpenLoopResult> {
  return openLoop(rate, seconds, calls.length, (c, i) => calls[c]!("POST", "/api/v1/namespaces/default/pods", pod(`${prefix}-${i}`)));
}

interface OpenLoopLatency {
  warmup: number[];
  rounds: OpenLoopResult[];
  floor: OpenLoopResult[];
  get: number[];
  createCpu: number;
  generatorCpu: number;
  getCpu: number;
}

/**
 * RATE creates per second from 50 clients: a warm-up, then rounds back to back; then as many gets of
 * the created pods at the same rate; then the floor, the same creates on the bare HTTPS server after a
 * warm-up of its own. With the server's and the generator's CPU per request.
 */
async function openLoopLatency(server: Server, dataDir: string, calls: Send[]): Promise<OpenLoopLatency> {
  const warmup = (await openLoopCreates(server, calls, OPEN_LOOP_RATE, OPEN_LOOP_WARMUP_SECONDS, "ow")).latencies;
  const before = cpuMicros(server.pid);
  const generatorBefore = process.cpuUsage();
  const rounds: OpenLoopResult[] = [];
  for (let round = 0; round < OPEN_LOOP_ROUNDS; round++) rounds.push(await openLoopCreates(server, calls, OPEN_LOOP_RATE, OPEN_LOOP_SECONDS, `o${round}`));
  const generator = process.cpuUsage(generatorBefore);
  const created = rounds.reduce((n, r) => n + r.latencies.length, 0);
  const createCpu = (cpuMicros(server.pid) - before) / created;
  const getsBefore = cpuMicros(server.pid);
  const get = (await openLoop(OPEN_LOOP_RATE, OPEN_LOOP_SECONDS, calls.length, (c, i) => calls[c]!("GET", `/api/v1/namespaces/default/pods/o0-${i}`))).latencies;
  const getCpu = (cpuMicros(server.pid) - getsBefore) / get.length;
  const bare = await startBareServer(server, dataDir);
  try {
    const bareCalls = connections(bare, OPEN_LOOP_CLIENTS);
    await Promise.all(bareCalls.map((call) => call("GET", "/")));
    await openLoopCreates(bare, bareCalls, OPEN_LOOP_RATE, FLOOR_WARMUP_SECONDS, "fw");
    const floor: OpenLoopResult[] = [];
    for (let round = 0; round < OPEN_LOOP_ROUNDS; round++) floor.push(await openLoopCreates(bare, bareCalls, OPEN_LOOP_RATE, OPEN_LOOP_SECONDS, `f${round}`));
    return { warmup, rounds, floor, get, createCpu, generatorCpu: (generator.user + generator.system) / created, getCpu };
  } finally {
    await bare.stop();
  }
}

/**
 * client-node 2.x gives every request of its generated API classes a new undici connection pool (a
 * new TLS handshake per request). A tuned client keeps one pool per cluster, as Berth's own kube
 * client does: this HTTP library reuses the first request's dispatcher for all later ones.
 */
function pooledCoreApi(kc: KubeConfig): CoreV1Api {
  const fetchLibrary = new IsomorphicFetchHttpLibrary();
  let dispatcher: ReturnType<RequestContext["getDispatcher"]>;
  const httpApi = wrapHttpLibrary({
    send: (request: RequestContext): Promise<ResponseContext> => {
      const own = request.getDispatcher();
      if (own) {
        dispatcher ??= own;
        request.setDispatcher(dispatcher);
      }
      return fetchLibrary.send(request).toPromise();
    },
  });
  return new CoreV1Api(createConfiguration({ baseServer: new ServerConfiguration(kc.getCurrentCluster()!.server, {}), authMethods: { default: kc }, httpApi }));
}

async function clientNodeThroughput(server: Server, pooled: boolean): Promise<number> {
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  const core = pooled ? pooledCoreApi(kc) : kc.makeApiClient(CoreV1Api);
  const namespace = pooled ? "throughput-pooled" : "throughput";
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  let next = 0;
  const creates = async (count: number, prefix: string): Promise<void> => {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < count) await core.createNamespacedPod({ namespace, body: pod(`${prefix}-${next++}`) });
      }),
    );
    next = 0;
  };
  // Untimed first: client-node's code is still being compiled during its first few hundred calls.
  await creates(CLIENT_NODE_WARMUP, "w");
  const start = performance.now();
  await creates(CLIENT_NODE_CREATES, "t");
  return CLIENT_NODE_CREATES / ((performance.now() - start) / 1000);
}

async function watchLatency(server: Server): Promise<{ samples: number[]; eventsPerSecond: number; cpuPerEvent: number; generatorCpuPerEvent: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: WATCHES + 5, ca: server.ca });
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  let ready = 0;
  let received = 0;
  let allReceived!: () => void;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  const listRV = await new Promise<string>((resolve, reject) => {
    const req = request(`${server.url}/api/v1/namespaces/default/configmaps?limit=1`, { agent, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve((JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion));
    });
    req.on("error", reject);
    req.end();
  });
  const streams = Array.from({ length: WATCHES }, () =>
    new Promise<() => void>((resolve) => {
      const req = request(`${server.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${listRV}&labelSelector=watch%3D1`, { agent, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
        ready++;
        let buffered = "";
        res.on("data", (chunk: Buffer) => {
          const now = performance.now();
          buffered += chunk.toString();
          let newline: number;
          while ((newline = buffered.indexOf("\n")) >= 0) {
            const event = JSON.parse(buffered.slice(0, newline)) as { object: { metadata: { name: string } } };
            buffered = buffered.slice(newline + 1);
            samples.push(now - (sentAt.get(event.object.metadata.name) ?? now));
            if (++received === WATCHES * WATCH_EVENTS) allReceived();
          }
        });
        resolve(() => req.destroy());
      });
      req.on("error", () => {});
      req.end();
    }),
  );
  const closers = await Promise.all(streams);
  if (ready !== WATCHES) throw new Error("not all watches opened");
  const [call] = connections(server, 1);
  const start = performance.now();
  const cpuBefore = cpuMicros(server.pid);
  const generatorBefore = process.cpuUsage();
  for (let i = 0; i < WATCH_EVENTS; i++) {
    const name = `w-${i}`;
    sentAt.set(name, performance.now());
    await call!("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name, labels: { watch: "1" } }, data: { i: String(i) } });
  }
  await done;
  const seconds = (performance.now() - start) / 1000;
  const cpuPerEvent = (cpuMicros(server.pid) - cpuBefore) / WATCH_EVENTS;
  const generator = process.cpuUsage(generatorBefore);
  for (const close of closers) close();
  agent.destroy();
  return { samples, eventsPerSecond: WATCH_EVENTS / seconds, cpuPerEvent, generatorCpuPerEvent: (generator.user + generator.system) / WATCH_EVENTS };
}

/** A fresh server: RSS idle, holding MEMORY_PODS pods, and after one list of all of them. */
async function memoryWithPods(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "berth-bench-memory-"));
  const server = await startServer(dir);
  try {
    const idle = rssMiB(server.pid);
    const calls = connections(server, 50);
    let next = 0;
    const start = performance.now();
    await Promise.all(
      calls.map(async (call) => {
        while (next < MEMORY_PODS) await call("POST", "/api/v1/namespaces/default/pods", pod(`m-${next++}`));
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const holding = rssMiB(server.pid);
    const t = performance.now();
    await calls[0]!("GET", "/api/v1/namespaces/default/pods");
    const listMs = performance.now() - t;
    console.log(`${MEMORY_PODS} pods created by 50 raw HTTPS clients in ${seconds.toFixed(1)} s (${(MEMORY_PODS / seconds).toFixed(0)} creates/s)`);
    console.log(`server RSS: ${idle.toFixed(0)} MiB idle, ${holding.toFixed(0)} MiB holding ${MEMORY_PODS} pods, ${rssMiB(server.pid).toFixed(0)} MiB after one list of all of them (${listMs.toFixed(0)} ms)`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "berth-bench-"));
const server = await startServer(dataDir);
try {
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`);
  await latency(server, 1, "warm");
  const calls = connections(server, OPEN_LOOP_CLIENTS);
  await Promise.all(calls.map((call) => call("GET", "/api/v1/namespaces/default/pods/warm-0-0")));
  const open = await openLoopLatency(server, dataDir, calls);
  console.log(`under load (open loop: ${OPEN_LOOP_CLIENTS} keep-alive clients sending ${OPEN_LOOP_RATE} requests/s in total on a fixed schedule, latency from each request's scheduled send time; ${OPEN_LOOP_ROUNDS} rounds of ${OPEN_LOOP_SECONDS} s back to back after ${OPEN_LOOP_WARMUP_SECONDS} s at the rate; then the floor: the same POSTs answered at once by a bare Node HTTPS server in its own process, ${OPEN_LOOP_ROUNDS} rounds after ${FLOOR_WARMUP_SECONDS} s):`);
  console.log(`  the first ${OPEN_LOOP_WARMUP_SECONDS} s on the fresh server (not in the figure): create ${summary(open.warmup)}`);
  open.rounds.forEach((round, i) => console.log(`  round ${i + 1}: create ${summary(round.latencies)}; floor ${summary(open.floor[i]!.latencies)}`));
  const createP99 = percentile(open.rounds.map((round) => percentile(round.latencies, 99)), 50);
  const floorP99 = percentile(open.floor.map((round) => percentile(round.latencies, 99)), 50);
  console.log(`  create p99, median of the rounds: ${createP99.toFixed(2)} ms (goal <= 10 ms), ${(createP99 / floorP99).toFixed(1)}x the floor's ${floorP99.toFixed(2)} ms; server CPU ${open.createCpu.toFixed(0)} µs per create`);
  const sendDelays = open.rounds.flatMap((round) => round.sendDelays);
  console.log(`  the generator sent creates p50 ${percentile(sendDelays, 50).toFixed(2)} ms, p99 ${percentile(sendDelays, 99).toFixed(2)} ms after their scheduled time (timer granularity; included in the latencies above), using ${open.generatorCpu.toFixed(0)} µs of CPU per create`);
  console.log(`  get ${summary(open.get)}; server CPU ${open.getCpu.toFixed(0)} µs per get`);
  const rates: string[] = [];
  for (const rate of OTHER_RATES) rates.push(`${rate}/s p99 ${percentile((await openLoopCreates(server, calls, rate, OTHER_RATE_SECONDS, `r${rate}`)).latencies, 99).toFixed(1)} ms`);
  console.log(`  create at other rates (${OTHER_RATE_SECONDS} s each): ${rates.join(", ")}`);
  // Saturation after the open loop: it leaves the server (heap, WAL, page cache) perturbed for seconds.
  console.log("saturation (closed loop: each client sends its next request when the previous returns, so latency = clients / throughput):");
  for (const clients of [1, 50] as const) {
    const { create, get, pairsPerSecond } = await latency(server, clients, `c${clients}`);
    console.log(`  ${clients} client(s), keep-alive HTTPS: create ${summary(create)}; get ${summary(get)}; ${pairsPerSecond.toFixed(0)} create+get pairs/s`);
  }
  console.log(`client-node pod creates, 50 concurrent, one connection pool (tuned client): ${(await clientNodeThroughput(server, true)).toFixed(0)} creates/s`);
  console.log(`client-node pod creates, 50 concurrent, client-node's default (a new TLS connection per request): ${(await clientNodeThroughput(server, false)).toFixed(0)} creates/s`);
  const watch = await watchLatency(server);
  console.log(`watch delivery, ${WATCHES} watches x ${WATCH_EVENTS} events: ${summary(watch.samples)}; ${watch.eventsPerSecond.toFixed(0)} events/s, server CPU ${watch.cpuPerEvent.toFixed(0)} µs per event, generator CPU ${watch.generatorCpuPerEvent.toFixed(0)} µs (watches and creator)`);
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
await memoryWithPods();
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
