// npm run bench:pipeline — how fast Berth reads Jenkinsfiles: parse, and parse + declarative model +
// lint, in lines per second, on a generated Jenkinsfile of about 5,000 lines mixing script-level
// methods and a declarative pipeline with many stages (kubernetes agent, when, parallel, script, post).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "../src/pipeline/parser.ts";
import { lintSource } from "../src/pipeline/lint.ts";
import { loadConfigFile } from "../src/config/load.ts";
import { Controller } from "../src/controller/provisioner.ts";
import { startAgentEndpoint } from "../src/controller/agent-hub.ts";
import { runBuild } from "../src/build/run-build.ts";
import { BuildOutput } from "../src/build/output.ts";
import { credentialStore } from "../src/build/credentials.ts";
import { percentile, startClusterProcess } from "./support.ts";

const TARGET_LINES = 5000;

function generate(): string {
  const head = [
    "def label = \"bench-${UUID.randomUUID().toString()}\"",
    "def shards = [:]",
    "def describe(String name, Map opts = [:]) {",
    "  def parts = name.split('-').collect { it.capitalize() }",
    "  return \"${parts.join(' ')} (${opts.size()} options)\"",
    "}",
    "pipeline {",
    "  agent {",
    "    kubernetes {",
    "      yaml '''",
    "apiVersion: v1",
    "kind: Pod",
    "spec:",
    "  containers:",
    "  - name: build",
    "    image: alpine:3.20",
    "    command: [sleep, 99d]",
    "'''",
    "      defaultContainer 'build'",
    "    }",
    "  }",
    "  environment { MODE = 'bench' }",
    "  options { timeout(time: 1, unit: 'HOURS') }",
    "  stages {",
  ];
  const stage = (i: number) => [
    `    stage('stage-${i}') {`,
    "      when { anyOf { branch 'main'; expression { return env.MODE == 'bench' } } }",
    "      steps {",
    `        sh "echo stage ${i} \${env.MODE} && ls -la | wc -l"`,
    `        container('build') { sh 'make test-${i}' }`,
    "        script {",
    `          def n = ${i} * 2 + (params.EXTRA ? 1 : 0)`,
    "          if (n % 3 == 0) { echo describe('stage-" + i + "', [n: n]) } else { echo \"n=${n}\" }",
    `          shards["shard-${i}"] = { echo 'shard ${i}' }`,
    "        }",
    "      }",
    "      post { failure { echo 'failed' } }",
    "    }",
  ];
  const lines = [...head];
  let i = 0;
  while (lines.length < TARGET_LINES - 3) lines.push(...stage(i++));
  lines.push("  }", "  post { always { echo 'done' } }", "}");
  return `${lines.join("\n")}\n`;
}

function measure(label: string, text: string, run: () => void): void {
  const lines = text.split("\n").length - 1;
  for (let w = 0; w < 5; w++) run(); // warm up the JIT
  const times: number[] = [];
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const rate = Math.round(lines / (median / 1000));
  console.log(`${label.padEnd(34)} ${lines} lines  median ${median.toFixed(1)} ms  ${rate.toLocaleString("en-US")} lines/s`);
}

const generated = generate();
const check = lintSource("bench.Jenkinsfile", generated);
if (check.diagnostics.length > 0) throw new Error(`generated Jenkinsfile is not lint-clean: ${check.diagnostics[0]!.message}`);
measure("parse", generated, () => parse("bench.Jenkinsfile", generated));
measure("parse + declarative model + lint", generated, () => lintSource("bench.Jenkinsfile", generated));

// ── End to end: seed 001's first example, trigger to `Finished: SUCCESS` ──────────────────────────────
// Against the raw time of its shell command (`echo hello world`) run by `sh` on the host, in the same run.
// Three ways to trigger it: a build in a controller that is already up (a CI server's view), `berth run`
// reusing a running embedded cluster, and `berth run` starting the cluster itself.
const EXAMPLE = "examples/seed-001/jnlp-container/Jenkinsfile";

function hostShell(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => spawn("sh", ["-c", "echo hello world"], { stdio: "ignore" }).on("exit", () => resolve(performance.now() - t0)));
}

function cli(home: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/berth.js", "run", EXAMPLE], { env: { ...process.env, BERTH_HOME: home }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 && out.trimEnd().endsWith("Finished: SUCCESS") ? resolve(performance.now() - t0) : reject(new Error(`berth run exited ${code}:\n${out}`))));
  });
}

async function median(runs: number, once: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  return percentile(times, 50);
}

const home = mkdtempSync(join(tmpdir(), "berth-bench-home-"));
const cluster = await startClusterProcess(join(home, "cluster"));
const endpoint = await startAgentEndpoint({ log: () => {} });
const config = loadConfigFile("examples/seed-001/berth.yaml");
const controller = await Controller.start({ clouds: config.clouds, hub: endpoint.hub, controllerUrl: endpoint.url, connectionFor: () => ({ kubeconfig: cluster.kubeconfig }), log: () => {} });
const text = readFileSync(EXAMPLE, "utf8");
let number = 0;
const inController = async () => {
  const t0 = performance.now();
  const lines: string[] = [];
  const outcome = await runBuild({ jenkinsfile: EXAMPLE, text, controller, jobName: "bench", buildNumber: ++number, buildDir: join(home, "builds", String(number)), output: new BuildOutput((l) => lines.push(l)), credentials: credentialStore([]) });
  if (outcome.result !== "SUCCESS" || lines.at(-1) !== "Finished: SUCCESS") throw new Error(lines.join("\n"));
  return performance.now() - t0;
};
await inController(); // warm up: first pod, JIT
const host = await median(20, hostShell);
const warm = await median(10, inController);
await controller.stop();
await endpoint.close();
const reused = await median(5, () => cli(home));
await cluster.stop();
const cold = await median(3, () => cli(mkdtempSync(join(tmpdir(), "berth-bench-cold-"))));
const row = (label: string, ms: number) => console.log(`${label.padEnd(58)} median ${ms.toFixed(0).padStart(5)} ms  ${(ms / host).toFixed(0).padStart(4)}x the host`);
console.log(`\nseed 001's first example (${EXAMPLE}), trigger to Finished: SUCCESS`);
console.log(`${"`sh -c 'echo hello world'` on the host (baseline)".padEnd(58)} median ${host.toFixed(1).padStart(5)} ms`);
row("build in a running controller (pod, agent, step, cleanup)", warm);
row("`berth run`, reusing a running embedded cluster", reused);
row("`berth run`, starting the embedded cluster itself", cold);
