// npm run bench:controller — the controller on the embedded cluster (process runtime), which runs in a
// separate `berth cluster start` process so that the controller's own memory can be measured.
//   1. time to agent (request -> agent connected), p50/p99, with its breakdown; baseline in the same run:
//      a bare pod (one sleep container, no agent) from create to Running, seen through a watch;
//   2. API requests per agent lifecycle, writes apart (goal: <= 3 writes);
//   3. agents per minute through one controller with 20 concurrent builds (goal: >= 300/min);
//   4. controller memory per concurrent agent (goal: <= 2 MB).
// Figures: docs/performance.md.
import { Controller, type BuildLog, type LaunchTimings, type LeasedAgent } from "../src/controller/provisioner.ts";
import { startAgentEndpoint } from "../src/controller/agent-hub.ts";
import { createKubeClient } from "../src/kube/client.ts";
import { watchPods } from "../src/kube/watch.ts";
import type { Cloud } from "../src/templates/model.ts";
import { percentile, startClusterProcess } from "./support.ts";

const SEQUENTIAL = Number(process.env["BENCH_AGENTS"] ?? 30);
const CONCURRENCY = 20;
const THROUGHPUT_AGENTS = Number(process.env["BENCH_THROUGHPUT_AGENTS"] ?? 100);
// Each agent pod requests 100m CPU; one node of this 2-core machine has room for 20 at once.
const HELD = 15;

const quiet: BuildLog = { line: () => {} };

function ms(v: number): string {
  return `${v.toFixed(0)} ms`;
}

const cluster = await startClusterProcess();
const endpoint = await startAgentEndpoint({ log: () => {} });
const cloud: Cloud = { name: "embedded", namespace: "default", podLabels: { jenkins: "slave" }, podRetention: "never", templates: [{ name: "agent", label: "agent", showRawYaml: false }] };
const controller = await Controller.start({ clouds: [cloud], hub: endpoint.hub, controllerUrl: endpoint.url, connectionFor: () => ({ kubeconfig: cluster.kubeconfig }), log: () => {}, flowControl: { rateLimit: { qps: 1000, burst: 1000 } } });
const client = createKubeClient({ kubeconfig: cluster.kubeconfig });

async function lifecycle(): Promise<LaunchTimings> {
  const agent = await controller.requestAgent({ label: "agent", log: quiet });
  const result = await agent.run(["true"]).result;
  if (result.code !== 0) throw new Error(`agent command failed: ${JSON.stringify(result)}`);
  await agent.release({ failed: false });
  return agent.timings;
}

// Baseline: a bare pod from create to Running.
async function barePodStartup(i: number): Promise<number> {
  const watch = await watchPods(client, { labelSelector: `bench=bare-${i}` });
  const started = performance.now();
  const running = new Promise<number>((resolve) => watch.on((_e, pod) => pod.status?.phase === "Running" && resolve(performance.now() - started)));
  await client.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: `bare-${i}`, labels: { bench: `bare-${i}` } }, spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "3600"] }] } } });
  const elapsed = await running;
  await watch.stop();
  await client.core.deleteNamespacedPod({ namespace: "default", name: `bare-${i}`, gracePeriodSeconds: 0 });
  return elapsed;
}

try {
  for (let i = 0; i < 3; i++) await lifecycle(); // warm-up
  const bare: number[] = [];
  for (let i = 0; i < 10; i++) bare.push(await barePodStartup(i));

  const phases = { total: [] as number[], controller: [] as number[], create: [] as number[], scheduling: [] as number[], containers: [] as number[], connect: [] as number[] };
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = await lifecycle();
    phases.total.push(t.connected! - t.requested!);
    phases.controller.push(t.createSent! - t.requested!);
    phases.create.push(t.created! - t.createSent!);
    phases.scheduling.push((t.scheduled ?? t.created!) - t.created!);
    phases.containers.push((t.started ?? t.scheduled!) - (t.scheduled ?? t.created!));
    phases.connect.push(t.connected! - (t.started ?? t.scheduled!));
  }
  console.log(`1. time to agent over ${SEQUENTIAL} sequential agents (process runtime, embedded cluster)`);
  console.log(`   p50 ${ms(percentile(phases.total, 50))}, p99 ${ms(percentile(phases.total, 99))} (goal: p50 <= 300 ms)`);
  for (const [name, values] of Object.entries(phases)) if (name !== "total") console.log(`   ${name.padEnd(11)} p50 ${ms(percentile(values, 50))}`);
  const bareP50 = percentile(bare, 50);
  console.log(`   baseline, a bare pod from create to Running: p50 ${ms(bareP50)}; time to agent is ${(percentile(phases.total, 50) / bareP50).toFixed(2)}x that`);

  const before = { ...controller.apiStats()["embedded"]! };
  await lifecycle();
  const after = controller.apiStats()["embedded"]!;
  console.log(`2. API requests per agent lifecycle: ${after.writes - before.writes} writes, ${after.reads - before.reads} reads (goal: <= 3 writes)`);

  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (done < THROUGHPUT_AGENTS) {
        done++;
        await lifecycle();
      }
    }),
  );
  const perMinute = (done / (performance.now() - started)) * 60_000;
  console.log(`3. agents per minute, ${CONCURRENCY} concurrent builds: ${perMinute.toFixed(0)} (${done} agents; goal: >= 300)`);

  globalThis.gc?.();
  const heapBefore = process.memoryUsage();
  const held: LeasedAgent[] = await Promise.all(Array.from({ length: HELD }, () => controller.requestAgent({ label: "agent", log: quiet })));
  globalThis.gc?.();
  const heapWith = process.memoryUsage();
  const perAgent = (heapWith.heapUsed + heapWith.external - heapBefore.heapUsed - heapBefore.external) / HELD / 1024 / 1024;
  const rssPerAgent = (heapWith.rss - heapBefore.rss) / HELD / 1024 / 1024;
  const shown = (mb: number) => (mb < 0.05 ? "< 0.05 MB (below what this measurement can resolve)" : `${mb.toFixed(2)} MB`);
  console.log(`4. controller memory per concurrent agent (${HELD} held): heap ${shown(perAgent)}, RSS ${shown(rssPerAgent)} (goal: <= 2 MB)`);
  await Promise.all(held.map((a) => a.release({ failed: false })));
} finally {
  await controller.stop();
  await endpoint.close();
  await cluster.stop();
}
