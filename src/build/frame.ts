// What a thread of the build runs in: the runtime's part of the interpreter's execution context. A
// block step (node, container, dir, timeout, parallel…) runs its body with a new frame derived from its
// caller's; nothing here is shared between parallel branches except through the build.
import type { LeasedAgent } from "../controller/provisioner.ts";
import type { BuildLog } from "../controller/provisioner.ts";
import type { PodTemplate } from "../templates/model.ts";
import { PipelineError } from "../pipeline/runtime/values.ts";
import type { StepCall } from "../pipeline/runtime/steps.ts";
import type { EnclosingTemplate } from "./pod-template-step.ts";
import { worse, type CurrentBuild, type Result } from "../pipeline/runtime/globals.ts";

export interface NodeFrame {
  agent: LeasedAgent;
  /** The build's workspace, as the agent container sees it. */
  workspace: string;
  /** The agent container's own environment. */
  agentEnv: Readonly<Record<string, string>>;
  /** Other containers' own environments, read when first needed (for `PATH+X`). */
  containerEnv: Map<string, Promise<Record<string, string>>>;
}

export interface Frame {
  /** Aborts this thread: the build stopped, a timeout expired, a parallel sibling failed fast. Its reason is the error to throw. */
  readonly signal: AbortSignal;
  readonly log: BuildLog;
  /** The podTemplate steps around this point, innermost last. */
  readonly templates: readonly PodTemplate[];
  readonly enclosing?: EnclosingTemplate;
  readonly cloud?: string;
  readonly node?: NodeFrame;
  /** The working directory in the agent container (`dir`); the workspace when unset. */
  readonly cwd?: string;
  readonly container?: { name: string; shell?: string };
  /** The results of the stages around this point, innermost last: what this thread did to each. */
  readonly stages?: readonly StageResult[];
}

/** A stage's result so far, worsened by the steps of its own threads only (not by a parallel sibling's). */
export interface StageResult {
  result: Result;
}

/** Marks the build and every stage around this thread: `unstable`, `warnError`, `junit`, a failed child stage. */
export function worsenResult(frame: Frame, build: { currentBuild: CurrentBuild }, buildResult: Result, stageResult: Result = buildResult): void {
  if (buildResult !== "SUCCESS") build.currentBuild.setResult(buildResult);
  worsenStages(frame, stageResult);
}

export function worsenStages(frame: Frame, result: Result): void {
  for (const stage of frame.stages ?? []) stage.result = worse(stage.result, result);
}

export const INTERRUPTED = "org.jenkinsci.plugins.workflow.steps.FlowInterruptedException";
export const ABORT = "hudson.AbortException";

/** An interruption (abort, timeout, fail fast): the build result it leads to is ABORTED. */
export function interruption(message: string): PipelineError {
  return new PipelineError(message, INTERRUPTED);
}

export function isInterruption(e: unknown): boolean {
  return e instanceof PipelineError && e.javaClass === INTERRUPTED;
}

/** A step failure as Jenkins reports it: `ERROR: <message>`, build FAILURE. */
export function abort(message: string, step?: { line: number; column: number }): PipelineError {
  return new PipelineError(message, ABORT, step ?? { line: 0, column: 0 });
}

/** The node this step runs on, or Jenkins' error for a step that needs one. */
export function requireNode(frame: Frame, step: StepCall): NodeFrame {
  if (frame.node) return frame.node;
  throw new PipelineError(
    `Required context class hudson.FilePath is missing\nPerhaps you forgot to surround the ${step.name} step with a step that provides this, such as: node`,
    "org.jenkinsci.plugins.workflow.steps.MissingContextVariableException",
    step,
  );
}

export function cwdOf(frame: Frame & { node: NodeFrame }): string {
  return frame.cwd ?? frame.node.workspace;
}

/** A signal that aborts when its parent does, or when `abort` is called. */
export function childSignal(parent: AbortSignal): { signal: AbortSignal; abort(reason: unknown): void; dispose(): void } {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => parent.removeEventListener("abort", onParent),
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** `env` output: NAME=value lines; a line that does not start a variable continues the previous value. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.replace(/\n$/, "").split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(line);
    if (m) env[(last = m[1]!)] = m[2]!;
    else if (last !== undefined) env[last] += `\n${line}`;
  }
  return env;
}
