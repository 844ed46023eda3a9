// `berth run <Jenkinsfile>`: one build, start to finish, from the terminal. The Jenkinsfile is checked
// before anything starts (syntax and steps: bad input exits 2); then a cluster is found (a kubeconfig,
// or the embedded one), a controller and its agent endpoint start, the build runs with its log on the
// terminal and in the build's directory, and everything is stopped again. Exit codes: 0 SUCCESS,
// 1 FAILURE/UNSTABLE/NOT_BUILT/ABORTED, 2 bad input, 130 stopped with Ctrl-C (after its pods are gone).
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { loadConfigFile, type BerthConfig } from "../config/load.ts";
import type { Cloud } from "../templates/model.ts";
import { lintSource } from "../pipeline/lint.ts";
import { formatDiagnostic } from "../pipeline/diagnostics.ts";
import type { Controller } from "../controller/provisioner.ts";
import type { ConnectionSettings } from "../kube/connect.ts";
import type { InputPolicy } from "../build/services.ts";
import { berthHome, embeddedCluster, type EmbeddedCluster } from "./embedded.ts";
import { TerminalProgress } from "./progress.ts";
import { EXIT_BAD_INPUT, UsageError } from "./errors.ts";

export const EXIT_INTERRUPTED = 130;

interface RunOptions {
  config?: string;
  kubeconfig?: string;
  embedded?: boolean;
  param: string[];
  input?: InputPolicy;
  job?: string;
}

/** With no berth.yaml: one cloud on the cluster's default namespace, and a plain template for `agent any`. */
export function defaultConfig(): BerthConfig {
  const cloud: Cloud = { name: "kubernetes", podLabels: { jenkins: "slave" }, podRetention: "never", templates: [{ name: "default", nodeUsageMode: "NORMAL" }] };
  return { file: "(built-in)", clouds: [cloud], credentials: [], warnings: [] };
}

/** berth.yaml: the one given, else the nearest one beside the Jenkinsfile or in a directory above it. */
function findConfig(jenkinsfile: string, given: string | undefined): BerthConfig {
  if (given) return loadConfigFile(given);
  for (let dir = dirname(resolve(jenkinsfile)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "berth.yaml"))) return loadConfigFile(join(dir, "berth.yaml"));
    if (existsSync(join(dir, ".git")) || dirname(dir) === dir) return defaultConfig();
  }
}

function parseParams(list: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of list) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UsageError(`--param wants NAME=value, got '${p}'`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return params;
}

/** The next build number of a job, kept as Jenkins keeps it: a nextBuildNumber file in the job's directory. */
function nextBuildNumber(jobDir: string): number {
  mkdirSync(jobDir, { recursive: true });
  const file = join(jobDir, "nextBuildNumber");
  const n = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) || 1 : 1;
  writeFileSync(file, `${n + 1}\n`);
  return n;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("Run a Jenkinsfile: pods on the embedded cluster (or the cluster of a kubeconfig), the build log on the terminal.")
    .argument("<jenkinsfile>", "the pipeline to run")
    .option("--config <berth.yaml>", "clouds, pod templates and credentials (default: the nearest berth.yaml beside or above the Jenkinsfile)")
    .option("--kubeconfig <file>", "run on the cluster of this kubeconfig instead of the embedded one")
    .option("--embedded", "run on the embedded cluster (the default when there is no kubeconfig)")
    .option("--param <NAME=value>", "a build parameter (repeatable)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--input <answer>", "how `input` steps are answered when nobody can be asked: proceed, abort or fail (default: ask on a terminal, else fail)")
    .option("--job <name>", "the job's name (default: the Jenkinsfile's directory name)")
    .action(async (file: string, opts: RunOptions) => {
      process.exitCode = await runCommand(file, opts);
    });
}

async function runCommand(file: string, opts: RunOptions): Promise<number> {
  if (opts.kubeconfig && opts.embedded) throw new UsageError("give either --kubeconfig or --embedded, not both");
  if (opts.input && !["proceed", "abort", "fail"].includes(opts.input)) throw new UsageError(`--input wants proceed, abort or fail, got '${opts.input}'`);
  const jenkinsfile = resolve(file);
  let text: string;
  try {
    text = readFileSync(jenkinsfile, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  // Everything that is wrong with the file is said before anything starts.
  const { diagnostics } = lintSource(file, text);
  if (diagnostics.length > 0) {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return EXIT_BAD_INPUT;
  }
  // Loaded only now, so that `berth --help`, `berth lint` and a Jenkinsfile with errors do not wait for the
  // build runtime and the Kubernetes client (about a second of module loading).
  const [{ Controller, connectionOf }, { startAgentEndpoint }, { createKubeClient }, { BuildOutput }, { runBuild }, { credentialStore }, { interruption }] = await Promise.all([
    import("../controller/provisioner.ts"), import("../controller/agent-hub.ts"), import("../kube/client.ts"),
    import("../build/output.ts"), import("../build/run-build.ts"), import("../build/credentials.ts"), import("../build/frame.ts"),
  ]);
  const config = findConfig(jenkinsfile, opts.config);
  for (const w of config.warnings) process.stderr.write(`berth: warning: ${w}\n`);
  const params = parseParams(opts.param);
  const jobName = (opts.job ?? basename(dirname(jenkinsfile))).replace(/[^A-Za-z0-9_.-]/g, "_") || "job";

  const stopping = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    process.stderr.write("\nAborting the build and removing its pods (Ctrl-C again to quit at once)\n");
    stopping.abort(interruption("Aborted by user"));
  };
  process.on("SIGINT", onSigint);

  const terminal = new TerminalProgress(process.stdout);
  const jobDir = join(berthHome(), "jobs", jobName);
  const buildNumber = nextBuildNumber(jobDir);
  const buildDir = join(jobDir, "builds", String(buildNumber));
  mkdirSync(buildDir, { recursive: true });
  const logFile = createWriteStream(join(buildDir, "log"));
  const output = new BuildOutput((line) => {
    terminal.line(line);
    logFile.write(`${line}\n`);
  }, terminal);

  const remote = opts.kubeconfig ?? (opts.embedded ? undefined : config.clouds.find((c) => c.kubeconfig || c.serverUrl) ? "cloud" : undefined);
  let cluster: EmbeddedCluster | undefined;
  let endpoint: Awaited<ReturnType<typeof startAgentEndpoint>> | undefined;
  let controller: Controller | undefined;
  let connectionFor: ((cloud: Cloud) => ConnectionSettings) | undefined;
  // The cluster, the agent endpoint and the controller start when the build first needs a pod (or a
  // Kubernetes secret): a pipeline that never asks for one does not wait for them.
  let connecting: Promise<Controller> | undefined;
  const connect = () => (connecting ??= (async () => {
    if (!remote) {
      cluster = await embeddedCluster();
      output.line(`Running on ${cluster.description}`);
      const kubeconfig = cluster.kubeconfig;
      connectionFor = (cloud) => ({ kubeconfig, ...(cloud.namespace ? { namespace: cloud.namespace } : {}) });
    } else if (opts.kubeconfig) {
      const kubeconfig = resolve(opts.kubeconfig);
      connectionFor = (cloud) => ({ kubeconfig, ...(cloud.context ? { context: cloud.context } : {}), ...(cloud.namespace ? { namespace: cloud.namespace } : {}) });
      output.line(`Running on the cluster of ${opts.kubeconfig}`);
    }
    // On the embedded cluster agents run on this machine; elsewhere they connect to the cloud's jenkinsUrl.
    const advertised = remote ? config.clouds.find((c) => c.jenkinsUrl)?.jenkinsUrl : undefined;
    endpoint = await startAgentEndpoint({ log: () => {}, ...(advertised ? { host: "0.0.0.0", port: Number(new URL(advertised).port) || 80 } : {}) });
    controller = await Controller.start({ clouds: config.clouds, hub: endpoint.hub, controllerUrl: advertised ?? endpoint.url, ...(connectionFor ? { connectionFor } : {}), log: (l) => output.line(`[controller] ${l}`) });
    return controller;
  })());
  const firstCloud = config.clouds[0]!;
  const credentials = credentialStore(config.credentials, async () => {
    await connect();
    const client = createKubeClient(connectionFor?.(firstCloud) ?? connectionOf(firstCloud));
    return { client, namespace: firstCloud.namespace ?? client.namespace };
  });
  try {
    const ask = process.stdin.isTTY && !opts.input ? askOnTerminal(terminal) : undefined;
    const outcome = await runBuild({
      jenkinsfile, text, controller: connect, jobName, buildNumber, buildDir, params, output, credentials,
      input: opts.input ?? "fail", ...(ask ? { ask } : {}), signal: stopping.signal,
    });
    if (stopping.signal.aborted) return EXIT_INTERRUPTED;
    return outcome.result === "SUCCESS" ? 0 : 1;
  } finally {
    terminal.end();
    await connecting?.catch(() => undefined);
    await controller?.stop();
    await endpoint?.close();
    await cluster?.stop();
    await new Promise((done) => logFile.end(done));
    process.off("SIGINT", onSigint);
  }
}

function askOnTerminal(terminal: TerminalProgress): (question: string) => Promise<string> {
  return async (question) => {
    terminal.end();
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}
