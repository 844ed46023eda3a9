// npm run bench:steps — steps in an agent pod on the embedded cluster (process runtime, cluster in its own
// process):
//   1. 20 sequential `sh 'date'` inside container('x') (JENKINS-50429 measured 12 s after its fix; goal <= 1 s);
//   2. per-step overhead of `sh 'true'` in the agent container and in another container, p50, against
//      `sh -c true` run directly on this host in the same run (the ratio);
//   3. log throughput of a step printing 200 MB into the build log (goal >= 50 MB/s), controller memory flat;
//   4. stash and unstash of 100 MB in 800 files (to the controller's disk and back), controller memory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, type BuildLog } from "../src/controller/provisioner.ts";
import { startAgentEndpoint } from "../src/controller/agent-hub.ts";
import { sh, type StepContext } from "../src/steps/sh.ts";
import { stash, unstash } from "../src/steps/stash.ts";
import { SecretMasker } from "../src/steps/masker.ts";
import type { Cloud } from "../src/templates/model.ts";
import { percentile, startClusterProcess } from "./support.ts";

const LOG_MB = Number(process.env["BENCH_LOG_MB"] ?? 200);

let bytes = 0;
const counting: BuildLog = { line: (text) => void (bytes += text.length + 1) };

const cluster = await startClusterProcess();
const endpoint = await startAgentEndpoint({ log: () => {} });
const cloud: Cloud = {
  name: "embedded",
  namespace: "default",
  podLabels: { jenkins: "slave" },
  podRetention: "never",
  templates: [{ name: "steps", label: "steps", showRawYaml: false, containers: [{ name: "x", image: "busybox", command: "sleep 3600" }] }],
};
const controller = await Controller.start({ clouds: [cloud], hub: endpoint.hub, controllerUrl: endpoint.url, connectionFor: () => ({ kubeconfig: cluster.kubeconfig }), log: () => {} });

try {
  const agent = await controller.requestAgent({ label: "steps", log: { line: () => {} } });
  const cwd = "/home/jenkins/agent/workspace/bench";
  await agent.run(["mkdir", "-p", cwd]).result;
  const ctx: StepContext = { agent, log: counting, cwd, env: {}, masker: new SecretMasker([]) };
  const inX: StepContext = { ...ctx, container: "x" };

  for (let i = 0; i < 3; i++) await sh(inX, { script: "date" }); // warm-up
  let started = performance.now();
  for (let i = 0; i < 20; i++) await sh(inX, { script: "date" });
  const twenty = performance.now() - started;
  console.log(`1. 20 sequential sh 'date' in container('x'): ${(twenty / 1000).toFixed(2)} s (goal <= 1 s)`);

  const time = async (run: () => Promise<unknown>, n: number) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await run();
      samples.push(performance.now() - t0);
    }
    return percentile(samples, 50);
  };
  const host = await time(async () => execFileSync("sh", ["-c", "true"]), 50);
  const agentStep = await time(() => sh(ctx, { script: "true" }), 30);
  const otherStep = await time(() => sh(inX, { script: "true" }), 30);
  console.log(`2. sh 'true' p50: agent container ${agentStep.toFixed(1)} ms, container('x') ${otherStep.toFixed(1)} ms; sh -c true on the host ${host.toFixed(2)} ms`);
  console.log(`   ratio to the host: ${(agentStep / host).toFixed(1)}x in the agent container, ${(otherStep / host).toFixed(1)}x in another container`);

  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  bytes = 0;
  started = performance.now();
  // 200 MB of 100-byte lines, generated in the container.
  await sh(ctx, { script: `#!/bin/sh\nhead -c ${LOG_MB * 1024 * 1024} /dev/zero | tr '\\0' 'x' | fold -w 99` });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  console.log(
    `3. log throughput: ${(bytes / 1024 / 1024).toFixed(0)} MB in ${seconds.toFixed(1)} s = ${(bytes / 1024 / 1024 / seconds).toFixed(1)} MB/s (goal >= 50 MB/s); ` +
      `controller RSS +${((rssPeak - rssBefore) / 1024 / 1024).toFixed(0)} MB at peak`,
  );

  await sh(ctx, { script: "#!/bin/sh\nfor d in $(seq 1 8); do mkdir -p tree/d$d; for f in $(seq 1 100); do head -c 131072 /dev/urandom > tree/d$d/f$f; done; done" });
  const stashes = mkdtempSync(join(tmpdir(), "berth-bench-stash-"));
  globalThis.gc?.();
  const memBefore = process.memoryUsage().rss;
  let memPeak = memBefore;
  const memSampler = setInterval(() => (memPeak = Math.max(memPeak, process.memoryUsage().rss)), 100);
  started = performance.now();
  await stash(ctx, stashes, { name: "tree", includes: "tree/" });
  const stashed = (performance.now() - started) / 1000;
  started = performance.now();
  await unstash({ ...ctx, cwd: `${cwd}/restored` }, stashes, "tree");
  const unstashed = (performance.now() - started) / 1000;
  clearInterval(memSampler);
  rmSync(stashes, { recursive: true, force: true });
  console.log(
    `4. stash 100 MB (800 files): ${stashed.toFixed(1)} s = ${(100 / stashed).toFixed(0)} MB/s; unstash: ${unstashed.toFixed(1)} s = ${(100 / unstashed).toFixed(0)} MB/s; ` +
      `controller RSS +${((memPeak - memBefore) / 1024 / 1024).toFixed(0)} MB at peak`,
  );
  await agent.release({ failed: false });
} finally {
  await controller.stop();
  await endpoint.close();
  await cluster.stop();
}
