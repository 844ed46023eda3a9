// Runs a declarative pipeline model (reference §3.2) on top of the interpreter: agent, environment,
// stages in order (nested and parallel), when, steps, post with its condition order, and the result
// rules — a failed stage skips the later ones, post blocks still run, the first error is rethrown.
// First version: tools and the kubernetes agent's `retries` are not run yet
// (they are in the model; lint reports what Berth cannot do); parallel and matrix have no failFast yet.
import type * as A from "../ast.ts";
import type * as M from "../declarative-model.ts";
import { PipelineError, toStr, truthy, isMap, type Value } from "./values.ts";
import { AgentLostError, FAIL_FAST_CAUSE, NativeBranch, bindStepArguments, type ExecutionContext } from "./steps.ts";
import { postBlocksToRun, patternMatches, type Comparator } from "./conditions.ts";
import { worse, type CurrentBuild, type Result } from "./globals.ts";
import { STEPS } from "../catalogue.ts";

/** What the driver needs from the interpreter. */
export interface DriverHost {
  readonly currentBuild: CurrentBuild;
  exec(statements: readonly A.Statement[], ctx: ExecutionContext): Promise<Value>;
  eval(expression: A.Expression, ctx: ExecutionContext): Promise<Value>;
  envValue(name: string, ctx: ExecutionContext): string | null;
  /** Calls a runtime step; `body` receives the context with whatever environment the step layered. */
  step(name: string, args: Map<string, Value>, at: A.Node | M.Located, ctx: ExecutionContext, body?: (ctx: ExecutionContext) => Promise<Value>, argPositions?: ReadonlyMap<string, M.Located>): Promise<Value>;
  withEnv(ctx: ExecutionContext, vars: Record<string, string>): ExecutionContext;
}

/** The result an uncaught error gives the build: aborts carry ABORTED, everything else FAILURE. */
export function resultOf(error: unknown): Result {
  return error instanceof PipelineError && error.javaClass.endsWith("FlowInterruptedException") ? "ABORTED" : "FAILURE";
}

class Run {
  firstError: unknown = null;
  failed = false;
  readonly host: DriverHost;
  /** `options { skipDefaultCheckout() }` at the top: no agent checks out the source by itself. */
  readonly skipCheckout: boolean;
  /** `options { parallelsAlwaysFailFast() }`. */
  readonly alwaysFailFast: boolean;
  /** The pipeline's kubernetes agent has `retries`: a stage that lost its agent passes the error up to it. */
  readonly agentRetries: boolean;
  constructor(host: DriverHost, options: readonly M.Directive[], agent: M.Agent | null) {
    this.host = host;
    this.skipCheckout = !checkoutWanted(options, false);
    this.alwaysFailFast = options.some((o) => o.name === "parallelsAlwaysFailFast");
    this.agentRetries = agent?.type === "kubernetes" && agent.options.retries !== undefined;
  }

  record(error: unknown): void {
    this.failed = true;
    this.firstError ??= error;
    // A branch stopped because a sibling failed does not make the build ABORTED: the sibling's failure counts.
    if (!(error instanceof PipelineError && error.value === FAIL_FAST_CAUSE)) this.host.currentBuild.setResult(resultOf(error));
  }

  /** An error that goes up to the pipeline agent's `retries` instead of being recorded: its pod was lost. */
  passesUp(error: unknown): boolean {
    return this.agentRetries && error instanceof AgentLostError;
  }
}

export async function runPipeline(p: M.Pipeline, host: DriverHost, ctx: ExecutionContext): Promise<void> {
  const run = new Run(host, p.options, p.agent);
  try {
    await withAgent(p.agent, host, ctx, async (inAgent) => {
      try {
        const withEnvironment = await environment(p.environment, host, inAgent);
        let lost: unknown;
        try {
          // top-level option wrappers sit inside the agent, so a pipeline timeout excludes provisioning (§3.2)
          await wrapped(p.options, host, withEnvironment, async (c) => {
            for (const s of p.stages) await runStage(s, run, c);
            return null;
          });
        } catch (e) {
          if (!run.passesUp(e)) throw e;
          lost = e;
        } finally {
          await post(p.post, run, withEnvironment, "Declarative: Post Actions", run.firstError ?? lost);
        }
        if (lost !== undefined) throw lost;
      } catch (e) {
        if (run.passesUp(e)) throw e;
        run.record(e);
      }
      return null;
    }, !run.skipCheckout);
  } catch (e) {
    run.record(e); // the agent itself could not be had: post cannot run without it
  }
  if (run.firstError) throw run.firstError;
}

/** Whether an agent checks out the source before its steps: yes, unless `skipDefaultCheckout` says otherwise. */
function checkoutWanted(options: readonly M.Directive[], skippedAbove: boolean): boolean {
  const skip = options.find((o) => o.name === "skipDefaultCheckout");
  if (!skip) return !skippedAbove;
  const value = skip.call.args[0] ?? skip.call.named[0]?.value;
  return value !== undefined && value.kind === "Literal" && value.value === false;
}

/**
 * Runs `body` on the agent the directive asks for. A node agent first checks out the source (`checkout
 * scm`, Jenkins' "Declarative: Checkout SCM"), and the GIT_* values it returns become env vars.
 */
async function withAgent(agent: M.Agent | null, host: DriverHost, ctx: ExecutionContext, inner: (ctx: ExecutionContext) => Promise<Value>, checkout: boolean): Promise<Value> {
  if (!agent || agent.type === "none") return inner(ctx);
  const checkedOut = (next: (ctx: ExecutionContext) => Promise<Value>) => !checkout ? next : async (onNode: ExecutionContext) => {
    const scm = await host.step("checkout", new Map<string, Value>([["scm", new Map<Value, Value>([["$symbol", "scm"]])]]), agent, onNode);
    return next(isMap(scm) ? host.withEnv(onNode, Object.fromEntries([...scm].map(([k, v]) => [toStr(k), toStr(v)]))) : onNode);
  };
  const body = checkedOut(inner);
  switch (agent.type) {
    case "any": return host.step("node", new Map(), agent, ctx, body);
    case "label": return host.step("node", new Map([["label", await host.eval(agent.label, ctx)]]), agent, ctx, body);
    case "node": {
      const label = agent.fields.label ? await host.eval(agent.fields.label.value, ctx) : null;
      return host.step("node", new Map(label === null ? [] : [["label", label]]), agent, ctx, body);
    }
    case "kubernetes": {
      // podTemplate(<options>) { node(label ?: POD_LABEL) { [container(defaultContainer)] { body } } } (reference §3.5)
      const args = new Map<string, Value>();
      const positions = new Map<string, M.Located>();
      const notTemplateOptions = new Set(["defaultContainer", "retries", "customWorkspace", "containerTemplate", "containerTemplates"]);
      for (const [k, f] of Object.entries(agent.options)) {
        if (notTemplateOptions.has(k)) continue;
        args.set(k, await host.eval(f.value, ctx));
        positions.set(k, f.value);
      }
      if (agent.containerTemplate) {
        const fields = new Map<Value, Value>([["$symbol", "containerTemplate"]]);
        for (const [k, f] of Object.entries(agent.containerTemplate)) fields.set(k, await host.eval(f.value, ctx));
        args.set("containers", [fields]);
      }
      if (!args.has("inheritFrom")) args.set("inheritFrom", ""); // declarative default: no implicit inheritance
      const defaultContainer = agent.options.defaultContainer ? toStr(await host.eval(agent.options.defaultContainer.value, ctx)) : null;
      const retries = agent.options.retries ? Number(await host.eval(agent.options.retries.value, ctx)) : 1;
      return host.step("podTemplate", args, agent, ctx, (inTemplate) => {
        const label = args.get("label") ?? host.envValue("POD_LABEL", inTemplate);
        const inContainer = defaultContainer && defaultContainer !== "jnlp"
          ? (onNode: ExecutionContext) => host.step("container", new Map([["name", defaultContainer]]), agent, onNode, inner)
          : inner;
        const onPod = (c: ExecutionContext) => host.step("node", new Map([["label", label]]), agent, c, checkedOut(inContainer));
        if (!(retries > 1)) return onPod(inTemplate);
        // `retries N` is the plugin's retry(count: N, conditions: [kubernetesAgent(), nonresumable()]) around node.
        const conditions: Value[] = [new Map<Value, Value>([["$symbol", "kubernetesAgent"]]), new Map<Value, Value>([["$symbol", "nonresumable"]])];
        return host.step("retry", new Map<string, Value>([["count", retries], ["conditions", conditions]]), agent, inTemplate, onPod);
      }, positions);
    }
    case "docker": case "dockerfile":
      throw new PipelineError(`agent ${agent.type} is not supported by Berth — use agent { kubernetes { … } }`, "java.lang.UnsupportedOperationException", agent);
  }
}

/** `environment { }`: evaluated in order (later entries may use earlier ones); credentials() bound by the runtime. */
async function environment(entries: readonly M.EnvironmentEntry[], host: DriverHost, ctx: ExecutionContext): Promise<ExecutionContext> {
  let current = ctx;
  for (const e of entries) {
    const value = await host.eval(e.value, current);
    if (isMap(value) && value.get("$symbol") === "credentials") {
      // the runtime resolves the credential and answers the variables to set: NAME, and NAME_USR/NAME_PSW for username/password
      const vars = await host.step("credentials", new Map([["id", value.get("id") ?? null], ["variable", e.name]]), e, current);
      current = host.withEnv(current, isMap(vars) ? Object.fromEntries([...vars].map(([k, v]) => [toStr(k), toStr(v)])) : {});
      continue;
    }
    current = host.withEnv(current, { [e.name]: toStr(value) });
  }
  return current;
}

/**
 * Runs a stage; resolves with the error that failed it (recorded already), if one did. The error goes
 * out through the stage's option wrappers (so `retry` runs the stage again and `timeout` sees it) and is
 * recorded outside them, after the stage's `post` has run for it.
 */
async function runStage(stage: M.Stage, run: Run, ctx: ExecutionContext): Promise<unknown> {
  const { host } = run;
  const name = toStr(await host.eval(stage.name, ctx));
  if (run.failed) {
    await host.step("stage", new Map<string, Value>([["name", name], ["skip", "earlier failure(s)"]]), stage, ctx);
    return;
  }
  try {
    await host.step("stage", new Map([["name", name]]), stage, ctx, async (inStage) => {
      if (stage.when?.beforeAgent && !(await when(stage.when.conditions, host, inStage))) return skipped(name, host, stage, inStage);
      // stage option wrappers enclose the stage's agent, so a stage timeout includes provisioning (§3.2)
      return wrapped(stage.options, host, inStage, async (wrappedCtx) => {
        const inOptions = stage.input ? await input(stage.input, host, wrappedCtx) : wrappedCtx;
        return withAgent(stage.agent, host, inOptions, async (onAgent) => {
          if (stage.when && !stage.when.beforeAgent && !(await when(stage.when.conditions, host, onAgent))) return skipped(name, host, stage, onAgent);
          const withEnvironment = await environment(stage.environment, host, onAgent);
          let failure: unknown;
          try {
            await stageBody(stage, run, withEnvironment);
          } catch (e) {
            failure = e;
          }
          await post(stage.post, run, withEnvironment, name, failure);
          if (failure !== undefined) throw failure;
          return null;
        }, checkoutWanted(stage.options, run.skipCheckout));
      });
    });
  } catch (e) {
    if (run.passesUp(e)) throw e;
    run.record(e);
    return e;
  }
  return undefined;
}

/** The stage `input` directive: the runtime asks (or answers non-interactively); submitted values become env vars. */
async function input(i: M.Input, host: DriverHost, ctx: ExecutionContext): Promise<ExecutionContext> {
  const args = new Map<string, Value>();
  for (const [k, f] of Object.entries(i.fields)) args.set(k, await host.eval(f.value, ctx));
  const parameters: Value[] = [];
  for (const p of i.parameters) {
    const named = new Map<Value, Value>([["$symbol", p.name]]);
    for (const n of p.call.named) named.set(await host.eval(n.key, ctx), await host.eval(n.value, ctx));
    parameters.push(named);
  }
  if (parameters.length > 0) args.set("parameters", parameters);
  const answer = await host.step("input", args, i, ctx);
  if (isMap(answer)) return host.withEnv(ctx, Object.fromEntries([...answer].map(([k, v]) => [toStr(k), toStr(v)])));
  const only = parameters.length === 1 && isMap(parameters[0]) ? parameters[0].get("name") : undefined;
  return only !== undefined && answer !== null ? host.withEnv(ctx, { [toStr(only)]: toStr(answer) }) : ctx;
}

/** Options that are block steps (timeout, retry, …) wrap the body in the order written; flags only configure. */
async function wrapped(options: readonly M.Directive[], host: DriverHost, ctx: ExecutionContext, body: (ctx: ExecutionContext) => Promise<Value>): Promise<Value> {
  const wrappers = options.filter((o) => STEPS[o.name]?.body);
  const nest = async (i: number, c: ExecutionContext): Promise<Value> => {
    const o = wrappers[i];
    if (!o) return body(c);
    const named = new Map<string, Value>();
    for (const n of o.call.named) named.set(toStr(await host.eval(n.key, c)), await host.eval(n.value, c));
    const positional: Value[] = [];
    for (const a of o.call.args) positional.push(await host.eval(a, c));
    return host.step(o.name, bindStepArguments(o.name, named, positional, o), o, c, (inner) => nest(i + 1, inner));
  };
  return nest(0, ctx);
}

async function skipped(name: string, host: DriverHost, at: M.Located, ctx: ExecutionContext): Promise<Value> {
  await host.step("echo", new Map([["message", `Stage "${name}" skipped due to when conditional`]]), at, ctx);
  return null;
}

async function stageBody(stage: M.Stage, run: Run, ctx: ExecutionContext): Promise<void> {
  const body = stage.body;
  if (!body) return;
  switch (body.kind) {
    case "steps": await run.host.exec(body.steps.statements, ctx); return;
    case "stages": for (const s of body.stages) await runStage(s, run, ctx); return;
    case "parallel": await parallel(stage, body.stages.map((s) => ({ stage: s, env: {} })), run, ctx); return;
    case "matrix": await parallel(stage, await matrixCells(body.matrix, run.host, ctx), run, ctx); return;
  }
}

/**
 * Parallel stages (and matrix cells) go through the runtime's `parallel` step, which runs the branches
 * concurrently and, with failFast (the stage's, or the `parallelsAlwaysFailFast()` option), stops the
 * others when one fails. A branch fails when its stage did.
 */
async function parallel(parent: M.Stage, branches: { stage: M.Stage; env: Record<string, string> }[], run: Run, ctx: ExecutionContext): Promise<void> {
  const { host } = run;
  const args = new Map<string, Value>();
  for (const b of branches) {
    const name = toStr(await host.eval(b.stage.name, host.withEnv(ctx, b.env)));
    args.set(name, new NativeBranch(async (c) => {
      const failure = await runStage(b.stage, run, host.withEnv(c, b.env));
      if (failure !== undefined) throw failure;
      return null;
    }));
  }
  const failFast = (parent.failFast && truthy(await host.eval(parent.failFast, ctx))) || run.alwaysFailFast;
  if (failFast) args.set("failFast", true);
  await host.step("parallel", args, parent, ctx);
}

/**
 * The cells of a matrix: every combination of axis values minus the excluded ones, each a stage named
 * like Jenkins' branches (`Matrix - OS = 'linux', JDK = '11'`) with the axis values as env vars.
 */
async function matrixCells(m: M.Matrix, host: DriverHost, ctx: ExecutionContext): Promise<{ stage: M.Stage; env: Record<string, string> }[]> {
  const axes: { name: string; values: string[] }[] = [];
  for (const a of m.axes) axes.push({ name: a.name, values: await Promise.all(a.values.map(async (v) => toStr(await host.eval(v, ctx)))) });
  const excludes: { name: string; values: string[]; negated: boolean }[][] = [];
  for (const ex of m.excludes) {
    excludes.push(await Promise.all(ex.map(async (a) => ({ name: a.name, negated: a.negated, values: await Promise.all(a.values.map(async (v) => toStr(await host.eval(v, ctx)))) }))));
  }
  let combos: Record<string, string>[] = [{}];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.name]: v })));
  const excluded = (cell: Record<string, string>) =>
    excludes.some((ex) => ex.every((a) => (a.negated ? !a.values.includes(cell[a.name] ?? "") : a.values.includes(cell[a.name] ?? ""))));
  return combos.filter((c) => !excluded(c)).map((env) => {
    const name = `Matrix - ${Object.entries(env).map(([k, v]) => `${k} = '${v}'`).join(", ")}`;
    const stage: M.Stage = {
      ...m.directives, name: { kind: "Literal", value: name, raw: name, line: m.line, column: m.column }, displayName: name,
      failFast: null, body: { kind: "stages", stages: m.stages }, line: m.line, column: m.column,
    };
    return { stage, env };
  });
}

async function when(conditions: readonly M.WhenCondition[], host: DriverHost, ctx: ExecutionContext): Promise<boolean> {
  for (const c of conditions) if (!(await condition(c, host, ctx))) return false;
  return true;
}

async function condition(c: M.WhenCondition, host: DriverHost, ctx: ExecutionContext): Promise<boolean> {
  if ("children" in c) {
    if (c.kind === "not") return !(await condition(c.children[0]!, host, ctx));
    if (c.kind === "allOf") return when(c.children, host, ctx);
    for (const x of c.children) if (await condition(x, host, ctx)) return true;
    return false;
  }
  if ("body" in c) return truthy(await host.exec(c.body.body, ctx));
  const args = new Map<string, Value>();
  for (const n of c.call.named) args.set(toStr(await host.eval(n.key, ctx)), await host.eval(n.value, ctx));
  if (c.call.args[0]) args.set(c.kind === "environment" ? "name" : "pattern", await host.eval(c.call.args[0], ctx));
  const comparator = (args.has("comparator") ? toStr(args.get("comparator")!) : "GLOB") as Comparator;
  const pattern = toStr(args.get("pattern") ?? null);
  switch (c.kind) {
    case "branch": return patternMatches(pattern, host.envValue("BRANCH_NAME", ctx), comparator);
    case "tag": return patternMatches(pattern, host.envValue("TAG_NAME", ctx), comparator);
    case "buildingTag": return host.envValue("TAG_NAME", ctx) !== null;
    case "changeRequest": return host.envValue("CHANGE_ID", ctx) !== null;
    case "environment": return host.envValue(toStr(args.get("name") ?? null), ctx) === toStr(args.get("value") ?? null);
    case "equals": return toStr(args.get("expected") ?? null) === toStr(args.get("actual") ?? null);
    default: return false; // changelog, changeset, triggeredBy: no SCM history or causes yet
  }
}

/**
 * Post blocks for the result so far, which counts the error about to leave the stage (`failure`) or the
 * pipeline's first error; an error in one block is recorded and the others still run.
 */
async function post(p: M.Post | null, run: Run, ctx: ExecutionContext, where: string, failure: unknown): Promise<void> {
  const { host } = run;
  const pending = failure === undefined ? "SUCCESS" : resultOf(failure);
  const current = worse(host.currentBuild.result ?? "SUCCESS", pending);
  for (const block of postBlocksToRun(p, current, null)) {
    try {
      await host.exec(block.steps.statements, ctx);
    } catch (e) {
      await host.step("echo", new Map([["message", `Error when executing ${block.condition} post condition (${where})`]]), block, ctx);
      if (!run.passesUp(e)) run.record(e);
    }
  }
}
