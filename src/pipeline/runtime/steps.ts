// The boundary between the interpreter and whatever executes steps (a fake in tests, the controller's
// pods in `berth run`). The interpreter binds arguments the way Jenkins does (DSL.parseArgs) using the
// catalogue, then hands the runtime one StepCall; the runtime may run the body with extra environment
// variables (withEnv, podTemplate's POD_LABEL, container's POD_CONTAINER).
import { STEPS } from "../catalogue.ts";
import { PipelineError, isMap, toStr, type Closure, type Value } from "./values.ts";

/**
 * The per-thread execution context: environment layers (innermost last) and the runtime's own frame
 * (which agent, container and directory a block runs in; opaque to the interpreter). Parallel branches
 * fork it; a block step's body runs in a context derived from its caller's.
 */
export interface ExecutionContext {
  readonly envLayers: readonly ReadonlyMap<string, string>[];
  readonly frame?: object;
}

export interface StepCall {
  readonly name: string;
  /** Named parameters after binding (`sh 'x'` arrives as { script: 'x' }). */
  readonly args: ReadonlyMap<string, Value>;
  readonly line: number;
  readonly column: number;
  /** Where each named argument's value was written, when it was (for errors inside a `yaml` text, say). */
  readonly argPositions: ReadonlyMap<string, { line: number; column: number }>;
  readonly context: ExecutionContext;
  /** The effective environment (case-insensitive lookups via `env`). */
  env(name: string): string | null;
  /** The whole effective environment (what `sh` exports), each variable with its own spelling. */
  environment(): Record<string, string>;
  /** Runs the step's block, optionally with extra environment variables layered on top and a new frame. */
  body: ((extraEnv?: Record<string, string>, frame?: object) => Promise<Value>) | null;
  /** Calls a closure passed as an argument (parallel branches, waitUntil conditions). */
  invoke(closure: Closure | NativeBranch, args?: Value[], extraEnv?: Record<string, string>, frame?: object): Promise<Value>;
}

/** A parallel branch that is not a closure: a declarative stage, run by the driver in the context it is given. */
export class NativeBranch {
  readonly run: (ctx: ExecutionContext) => Promise<Value>;
  constructor(run: (ctx: ExecutionContext) => Promise<Value>) {
    this.run = run;
  }
}

/** The cause a runtime gives the interruption of branches stopped because a sibling failed (failFast). */
export const FAIL_FAST_CAUSE = "FailFastCause";

/**
 * A node's agent was lost to the infrastructure (its pod evicted, deleted, its node gone): the error
 * `retry(conditions: [kubernetesAgent()])` retries, and that a declarative stage passes up to the
 * pipeline agent's `retries` instead of recording it.
 */
export class AgentLostError extends PipelineError {}

/**
 * Executes steps. Besides the catalogue's steps it receives a few calls from the interpreter itself:
 * - `stage` with a `skip` argument (the reason) and no body, for a declarative stage that does not run;
 * - `credentials` { id, variable } from a declarative `environment`: answer a Map of the variables to
 *   set (NAME, plus NAME_USR and NAME_PSW for username/password credentials);
 * - `readFile` { file, load: true } for `load` (a runtime may read it from the Jenkinsfile's source outside a node); `echo` for `println`/`print` and the driver's own messages.
 * Helper symbols (containerTemplate, envVar, volumes, credentials bindings…) never arrive as calls:
 * they are Maps with a `$symbol` key inside other steps' arguments.
 */
export interface StepRuntime {
  call(step: StepCall): Promise<Value>;
}

/**
 * Jenkins' argument binding: named arguments are the parameters; a single positional map counts as
 * named; a single other value binds to the step's sole required parameter; more is an error.
 */
export function bindStepArguments(name: string, named: Map<string, Value>, positional: Value[], at: { line: number; column: number }): Map<string, Value> {
  const info = STEPS[name];
  if (positional.length === 0) return named;
  if (positional.length === 1 && named.size === 0 && isMap(positional[0])) {
    return new Map([...positional[0]].map(([k, v]) => [toStr(k), v]));
  }
  if (positional.length === 1 && info?.sole) {
    const out = new Map(named);
    out.set(info.sole, positional[0]!);
    return out;
  }
  throw new PipelineError(`Expected named arguments but got ${toStr(positional)} for step '${name}'`, "java.lang.IllegalArgumentException", at);
}
