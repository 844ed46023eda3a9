// One build of a Jenkinsfile: the interpreter run against the build's step runtime, the result worked
// out as Jenkins does (worst of what was set and of the error that ended the run), and `Finished: X` as
// the log's last line.
import { mkdir, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { inspect } from "node:util";
import type { Controller } from "../controller/provisioner.ts";
import { Interpreter } from "../pipeline/runtime/interpreter.ts";
import { worse, type Result } from "../pipeline/runtime/globals.ts";
import { PipelineError } from "../pipeline/runtime/values.ts";
import { parseOrThrow } from "../pipeline/parser.ts";
import type { CredentialStore } from "./credentials.ts";
import { ABORT, isInterruption, type Frame } from "./frame.ts";
import { resultOf } from "../pipeline/runtime/declarative-driver.ts";
import type { BuildOutput } from "./output.ts";
import type { BuildServices, InputPolicy } from "./services.ts";
import { BuildStepRuntime } from "./step-runtime.ts";
import { sourceRepository } from "./scm.ts";

export interface BuildRequest {
  /** Path of the Jenkinsfile; its directory is the build's source (checkout scm, yamlFile, load). */
  jenkinsfile: string;
  text: string;
  /** The controller, or how to get it when the build first needs a pod (so a build without one never starts it). */
  controller: Controller | (() => Promise<Controller>);
  jobName: string;
  buildNumber: number;
  /** Where the build keeps its artifacts (`archive/`) and, while it runs, its stashes. */
  buildDir: string;
  params?: Record<string, string>;
  /** Variables every step sees (BRANCH_NAME, GIT_COMMIT of the source…), under the build's own. */
  env?: Record<string, string>;
  output: BuildOutput;
  credentials: CredentialStore;
  input?: InputPolicy;
  ask?: (question: string) => Promise<string>;
  /** Aborting it stops the build (its reason, an interruption, is what the build log says). */
  signal?: AbortSignal;
}

export interface BuildOutcome {
  result: Result;
  error?: unknown;
}

/** How the error that ended a build is told in its log, Jenkins style. */
export function describeFailure(e: unknown, file: string): string[] {
  if (e instanceof PipelineError) {
    const where = e.line > 0 ? ` (${basename(file)}:${e.line}:${e.column})` : "";
    if (isInterruption(e)) return [e.message];
    if (e.javaClass === ABORT) return [`ERROR: ${e.message}${where}`];
    return [`ERROR: ${e.javaClass}: ${e.message}${where}`];
  }
  // Anything else is a bug in Berth: the stack helps whoever reports it.
  return [`ERROR: ${e instanceof Error ? (e.stack ?? e.message) : inspect(e)}`];
}

export async function runBuild(request: BuildRequest): Promise<BuildOutcome> {
  const { output } = request;
  const script = parseOrThrow(request.jenkinsfile, request.text);
  const stashDir = join(request.buildDir, "stashes");
  await mkdir(request.buildDir, { recursive: true });
  const buildId = `${request.jobName}#${request.buildNumber}`;
  const sourceDir = resolve(dirname(request.jenkinsfile));
  const { root: sourceRoot, branch } = await sourceRepository(sourceDir);
  const env: Record<string, string> = {
    // As a multibranch job would: the branch the Jenkinsfile's repository is on (for `when { branch … }`).
    ...(branch ? { BRANCH_NAME: branch } : {}),
    ...request.env,
    ...request.params,
    BUILD_NUMBER: String(request.buildNumber),
    BUILD_ID: String(request.buildNumber),
    BUILD_TAG: `berth-${request.jobName}-${request.buildNumber}`,
    BUILD_DISPLAY_NAME: `#${request.buildNumber}`,
    JOB_NAME: request.jobName,
    JOB_BASE_NAME: request.jobName,
  };
  const signal = request.signal ?? new AbortController().signal;
  const root: Frame = { signal, log: output, templates: [] };
  const services: BuildServices = {
    controller: async () => (typeof request.controller === "function" ? request.controller() : request.controller),
    output,
    get currentBuild() {
      return interpreter.currentBuild;
    },
    buildId,
    jobName: request.jobName,
    sourceDir,
    sourceRoot,
    jenkinsfile: request.jenkinsfile,
    artifactsDir: join(request.buildDir, "archive"),
    stashDir,
    credentials: request.credentials,
    input: request.input ?? "fail",
    ...(request.ask ? { ask: request.ask } : {}),
  };
  const interpreter = new Interpreter(script, { runtime: new BuildStepRuntime(services, root), env, params: request.params ?? {} });
  output.line(`Started build ${buildId} of ${request.jenkinsfile}`);
  let error: unknown;
  try {
    await interpreter.run({ envLayers: [], frame: root });
  } catch (e) {
    error = e;
    for (const line of describeFailure(e, request.jenkinsfile)) output.line(line);
  } finally {
    await rm(stashDir, { recursive: true, force: true });
  }
  const result = worse(interpreter.currentBuild.result ?? "SUCCESS", error === undefined ? "SUCCESS" : resultOf(error));
  const summary = output.stageSummary();
  if (summary.length > 0) output.line(["Stages:", ...summary].join("\n"));
  output.line(`Finished: ${result}`);
  return error === undefined ? { result } : { result, error };
}
