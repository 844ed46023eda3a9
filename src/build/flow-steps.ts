// Steps that shape the flow of a build rather than touch a pod: echo, error, unstable, withEnv, stage,
// timeout, retry, sleep, parallel, catchError, warnError, waitUntil, input (reference §4, §5.2–§5.4).
import { Closure, PipelineError, isMap, toStr, truthy, type Value } from "../pipeline/runtime/values.ts";
import { toResult, worse, type Result } from "../pipeline/runtime/globals.ts";
import { resultOf } from "../pipeline/runtime/declarative-driver.ts";
import { arg, bool, str } from "./args.ts";
import { AgentLostError, FAIL_FAST_CAUSE, NativeBranch, type StepCall } from "../pipeline/runtime/steps.ts";
import type { LaunchError } from "../controller/provisioner.ts";
import { ABORT, INTERRUPTED, abort, childSignal, interruption, isInterruption, sleepFor, worsenResult, worsenStages, type Frame, type StageResult } from "./frame.ts";
import { branchLog } from "./output.ts";
import type { StepHandler } from "./services.ts";


const UNIT_MS: Record<string, number> = { NANOSECONDS: 1e-6, MICROSECONDS: 1e-3, MILLISECONDS: 1, SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 };

function duration(step: StepCall, defaultUnit: string): { ms: number; text: string } {
  const time = Number(arg(step, "time"));
  const unit = (str(step, "unit") ?? defaultUnit).toUpperCase();
  const factor = UNIT_MS[unit];
  if (!Number.isFinite(time) || factor === undefined) throw abort(`${step.name}: expected a number of ${defaultUnit.toLowerCase()} (time:) and a TimeUnit (unit:), got ${toStr(arg(step, "time"))} ${unit}`);
  return { ms: time * factor, text: `${time} ${unit.toLowerCase().replace(/s$/, "")}${time === 1 ? "" : "s"}` };
}

/** The message a caught error prints: an AbortException's own text, anything else with its class. */
export function describeError(e: unknown): string {
  if (e instanceof PipelineError) return e.javaClass === ABORT || isInterruption(e) ? e.message : `${e.javaClass}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

const echo: StepHandler = async (step, frame) => {
  frame.log.line(str(step, "message") ?? "");
  return null;
};

const error: StepHandler = async (step) => {
  throw abort(str(step, "message") ?? "", step);
};

const unstable: StepHandler = async (step, frame, build) => {
  frame.log.line(`WARNING: ${str(step, "message") ?? ""}`);
  worsenResult(frame, build, "UNSTABLE");
  return null;
};

/** `K=V` entries layered for the body; `PATH+X=/p` is kept as written and prepended to the PATH of the container the step runs in. */
const withEnv: StepHandler = async (step) => {
  const overrides = arg(step, "overrides");
  const list = Array.isArray(overrides) ? overrides : overrides === null ? [] : [overrides];
  const extra: Record<string, string> = {};
  for (const entry of list.map((e) => toStr(e))) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw abort(`withEnv: '${entry}' is not of the form NAME=value`, step);
    extra[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return step.body!(extra);
};

/**
 * A stage's result: what ended it, else the worst that its own threads marked (`unstable`, `warnError`,
 * `catchError(stageResult:)`, `junit`, a failed nested stage). A parallel sibling's result is its own.
 * Kept for the build's summary.
 */
const stage: StepHandler = async (step, frame, build) => {
  const name = str(step, "name") ?? "";
  if (step.args.has("skip")) {
    frame.log.line(`Stage "${name}" skipped due to ${str(step, "skip") ?? ""}`);
    build.output.progress.stage?.([name], "skipped", str(step, "skip") ?? "");
    build.output.stageFinished(name, "skipped", 0);
    return null;
  }
  frame.log.line(`[Pipeline] stage (${name})`);
  build.output.progress.stage?.([name], "started");
  const started = performance.now();
  const own: StageResult = { result: "SUCCESS" };
  const finish = (result: Result) => {
    worsenStages(frame, result);
    build.output.progress.stage?.([name], "finished", result);
    build.output.stageFinished(name, result, performance.now() - started);
  };
  try {
    const value = step.body ? await step.body(undefined, { ...frame, stages: [...(frame.stages ?? []), own] }) : null;
    finish(own.result);
    return value;
  } catch (e) {
    finish(worse(own.result, resultOf(e)));
    throw e;
  }
};

const timeout: StepHandler = async (step, frame) => {
  const { ms, text } = duration(step, "MINUTES");
  const activity = bool(step, "activity") ?? false;
  frame.log.line(activity ? `Timeout set to expire after ${text} without activity` : `Timeout set to expire in ${text}`);
  const child = childSignal(frame.signal);
  const expired = interruption("Timeout has been exceeded");
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      frame.log.line("Cancelling nested steps due to timeout");
      child.abort(expired);
    }, ms);
  };
  arm();
  // An inactivity timeout restarts whenever the body prints something.
  const log = activity ? { line: (t: string) => { arm(); frame.log.line(t); } } : frame.log;
  try {
    return await step.body!(undefined, { ...frame, signal: child.signal, log });
  } catch (e) {
    // A thread stopped by this timeout fails with the timeout's cause, whatever the step it was in said.
    if (child.signal.reason === expired && !frame.signal.aborted) throw expired;
    throw e;
  } finally {
    clearTimeout(timer);
    child.dispose();
  }
};

/** Retry conditions as the plugin defines them: kubernetesAgent() / agent() match a lost agent pod. */
function retryMatches(conditions: Value, e: unknown): boolean {
  if (!Array.isArray(conditions) || conditions.length === 0) return true;
  return conditions.some((c) => {
    const symbol = isMap(c) ? toStr(c.get("$symbol") ?? null) : "";
    if (symbol === "kubernetesAgent" || symbol === "agent") return e instanceof AgentLostError;
    return false; // nonresumable(): a controller restart, which a Berth build does not survive
  });
}

/** The build's pod was lost to the infrastructure (evicted, deleted, node gone): what kubernetesAgent() retries. */
export class AgentLost extends AgentLostError {
  constructor(e: LaunchError, at: { line: number; column: number }) {
    super(e.message, ABORT, at);
  }
}

const retry: StepHandler = async (step, frame) => {
  const count = Number(arg(step, "count"));
  if (!Number.isInteger(count) || count < 1) throw abort(`retry: count must be a positive number, got ${toStr(arg(step, "count"))}`, step);
  for (let attempt = 1; ; attempt++) {
    try {
      return await step.body!();
    } catch (e) {
      // A real abort of the build is never retried; an expired inner timeout is.
      if (frame.signal.aborted || attempt >= count || !retryMatches(arg(step, "conditions"), e)) throw e;
      frame.log.line(`ERROR: ${describeError(e)}`);
      frame.log.line("Retrying");
    }
  }
};

const sleep: StepHandler = async (step, frame) => {
  const { ms, text } = duration(step, "SECONDS");
  frame.log.line(`Sleeping for ${text}`);
  await sleepFor(ms, frame.signal);
  return null;
};

/** Jenkins' severity for the error a parallel step fails with: ordinary exceptions, then AbortException, then interruptions. */
function severity(e: unknown): number {
  if (isInterruption(e)) return 0;
  if (e instanceof PipelineError && e.javaClass === ABORT) return 1;
  return 2;
}

const parallel: StepHandler = async (step, frame) => {
  const failFast = bool(step, "failFast") ?? false;
  const branches = [...step.args].filter(([name]) => name !== "failFast");
  const results = new Map<Value, Value>();
  const failures: { name: string; error: unknown }[] = [];
  const signals = branches.map(() => childSignal(frame.signal));
  await Promise.all(branches.map(async ([name, closure], i) => {
    const branchFrame: Frame = { ...frame, signal: signals[i]!.signal, log: branchLog(frame.log, name) };
    try {
      if (!(closure instanceof Closure || closure instanceof NativeBranch)) throw abort(`parallel: branch '${name}' is not a closure`, step);
      results.set(name, await step.invoke(closure, [], undefined, branchFrame));
    } catch (e) {
      failures.push({ name, error: e });
      branchFrame.log.line(`Failed in branch ${name}`);
      if (failFast) {
        const cause = new PipelineError(`Failed in branch ${name}`, INTERRUPTED, { line: 0, column: 0 }, FAIL_FAST_CAUSE);
        signals.forEach((s, j) => j !== i && s.abort(cause));
      }
    }
  }));
  signals.forEach((s) => s.dispose());
  if (failures.length === 0) return results;
  if (failFast) throw failures[0]!.error;
  return Promise.reject(failures.reduce((a, b) => (severity(b.error) > severity(a.error) ? b : a)).error);
};

async function caught(step: StepCall, frame: Frame, onError: (e: unknown) => void): Promise<Value> {
  try {
    return await step.body!();
  } catch (e) {
    // With catchInterruptions: false, a real abort of the build (not an inner timeout) goes on up.
    if (isInterruption(e) && frame.signal.aborted && !(bool(step, "catchInterruptions") ?? true)) throw e;
    onError(e);
    return null;
  }
}

const catchError: StepHandler = (step, frame, build) =>
  caught(step, frame, (e) => {
    const message = str(step, "message") ?? "";
    frame.log.line(message ? message : `ERROR: ${describeError(e)}`);
    if (message) frame.log.line(`ERROR: ${describeError(e)}`);
    const buildResult = isInterruption(e) ? "ABORTED" : toResult(str(step, "buildResult") ?? "FAILURE");
    worsenResult(frame, build, buildResult, isInterruption(e) ? "ABORTED" : toResult(str(step, "stageResult") ?? "SUCCESS"));
  });

const warnError: StepHandler = (step, frame, build) =>
  caught(step, frame, (e) => {
    frame.log.line(`WARNING: ${str(step, "message") ?? ""}`);
    frame.log.line(`ERROR: ${describeError(e)}`);
    worsenResult(frame, build, isInterruption(e) ? "ABORTED" : "UNSTABLE");
  });

const waitUntil: StepHandler = async (step, frame) => {
  const quiet = bool(step, "quiet") ?? false;
  let delay = Number(arg(step, "initialRecurrencePeriod") ?? 250);
  for (;;) {
    if (truthy(await step.body!())) return null;
    if (!quiet) frame.log.line(`Will try again after ${(delay / 1000).toFixed(delay < 1000 ? 2 : 0)} sec`);
    await sleepFor(delay, frame.signal);
    delay = Math.min(15_000, delay * 1.2);
  }
};

/** Default answers of input parameters: `string`/`text`/`password` their default, `booleanParam` its default, `choice` its first choice. */
function defaultAnswer(parameter: Value): Value {
  if (!isMap(parameter)) return null;
  const symbol = toStr(parameter.get("$symbol") ?? null);
  const value = parameter.get("defaultValue") ?? null;
  if (symbol === "booleanParam") return value === null ? false : truthy(value);
  if (symbol === "choice") {
    const choices = parameter.get("choices") ?? null;
    const list = Array.isArray(choices) ? choices : toStr(choices).split("\n");
    return list[0] ?? null;
  }
  return value === null ? "" : toStr(value);
}

const input: StepHandler = async (step, frame, build) => {
  const message = str(step, "message") ?? "";
  const ok = str(step, "ok") ?? "Proceed";
  const parameters = arg(step, "parameters");
  const list = Array.isArray(parameters) ? parameters : [];
  frame.log.line(`Input requested: ${message}`);
  let proceed: boolean;
  if (build.ask) {
    const answer = (await build.ask(`${message} [${ok}/Abort] `)).trim().toLowerCase();
    proceed = answer === "" || answer === ok.toLowerCase() || answer === "y" || answer === "yes" || answer === "proceed";
  } else if (build.input === "fail") {
    throw abort(`input '${message}' needs an answer, and this run is not interactive: run it on a terminal, or pass --input proceed (or --input abort) to answer it`, step);
  } else {
    proceed = build.input === "proceed";
    frame.log.line(`Answered automatically (--input ${build.input})`);
  }
  if (!proceed) throw interruption(`Rejected: ${message}`);
  const user = process.env["USER"] ?? "berth";
  frame.log.line(`Approved by ${user}`);
  const submitter = str(step, "submitterParameter") ?? "";
  const answers = new Map<Value, Value>(list.filter(isMap).map((p) => [toStr(p.get("name") ?? null), defaultAnswer(p)]));
  if (submitter) answers.set(submitter, user);
  if (answers.size === 0) return null;
  if (answers.size === 1) return [...answers.values()][0]!;
  return answers;
};

/** Job properties configure the next builds of a Jenkins job; a run of a Jenkinsfile has none to configure. */
const properties: StepHandler = async (_step, frame) => {
  frame.log.line("properties: job properties (parameters, triggers, build discarder) have no effect on a berth run; declare parameters in `parameters { }` or pass --param");
  return null;
};

export const FLOW_STEPS: Record<string, StepHandler> = {
  properties,
  echo, error, unstable, withEnv, stage, timeout, retry, sleep, parallel, catchError, warnError, waitUntil, input,
  isUnix: async () => true,
};
