// Async tree-walking interpreter for scripted Jenkinsfile code, run against a StepRuntime. It owns the
// Groovy side — values, scopes, closures, methods, control flow, GString interpolation, operators —
// and Jenkins' name resolution: local → script binding → globals (env, params, currentBuild) → the
// effective environment (how `POD_LABEL` and `BRANCH_NAME` resolve) → MissingPropertyException.
// Steps go to the runtime with Jenkins' argument binding applied; helper symbols
// (`containerTemplate(…)`, `envVar(…)`) become descriptor maps with a `$symbol` key.
// Not yet here: running a declarative `pipeline { }` model (its driver sits on top of this).
import type * as A from "../ast.ts";
import type { Position } from "../diagnostics.ts";
import { parseOrThrow } from "../parser.ts";
import { STEPS } from "../catalogue.ts";
import { Scope } from "./scope.ts";
import { Closure, Matcher, Pattern, PipelineError, equals, isMap, toStr, truthy, typeName, type GroovyMap, type GroovyObject, type Value } from "./values.ts";
import { callBuiltin } from "./methods.ts";
import { NativeBranch, bindStepArguments, type ExecutionContext, type StepRuntime } from "./steps.ts";
import { ClassRef, CurrentBuild, KNOWN_STATIC_CLASSES, callStatic, staticField } from "./globals.ts";
import { buildDeclarative, findPipelineCall } from "../declarative.ts";
import type * as M from "../declarative-model.ts";
import { PipelineSyntaxError } from "../diagnostics.ts";
import { runPipeline, type DriverHost } from "./declarative-driver.ts";

export interface RunOptions {
  readonly runtime: StepRuntime;
  /** Build variables (BUILD_NUMBER, JOB_NAME, BRANCH_NAME…), the bottom layer of the environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly params?: Readonly<Record<string, Value>>;
}

class ReturnSignal {
  readonly value: Value;
  constructor(value: Value) {
    this.value = value;
  }
}
class BreakSignal {}
class ContinueSignal {}

/** `env`: reads the effective environment of the current context; writes are global and persistent. */
class EnvObject {}

/** The script itself as a value; its methods are callable on it (`def lib = load 'x'; lib.deploy()`). */
class ScriptObject {
  readonly interpreter: Interpreter;
  constructor(interpreter: Interpreter) {
    this.interpreter = interpreter;
  }
}

/** What a build shares between the Jenkinsfile and the scripts it `load`s. */
interface BuildState {
  readonly buildEnv: Map<string, string>;
  /** `env.X = v`: global for the rest of the build, case-insensitive keys. */
  readonly globalEnv: Map<string, string>;
  /** How each variable was spelt when last set (the maps above and the context's layers key by lower case). */
  readonly envNames: Map<string, string>;
  readonly params: GroovyMap;
  readonly currentBuild: CurrentBuild;
}

/** Exception classes a `catch` clause may name, with their parents. */
const EXCEPTION_PARENTS: Record<string, string> = {
  Exception: "Throwable", Error: "Throwable", RuntimeException: "Exception", IOException: "Exception",
  AbortException: "IOException", InterruptedException: "Exception", FlowInterruptedException: "InterruptedException",
  IllegalArgumentException: "RuntimeException", IllegalStateException: "RuntimeException", NullPointerException: "RuntimeException",
  NumberFormatException: "IllegalArgumentException", MissingPropertyException: "RuntimeException", MissingMethodException: "RuntimeException",
  NoSuchElementException: "RuntimeException", IndexOutOfBoundsException: "RuntimeException", PowerAssertionError: "Error",
};

const simpleName = (n: string) => n.split(".").pop()!;

function isA(javaClass: string, wanted: string): boolean {
  for (let c: string | undefined = simpleName(javaClass); c; c = EXCEPTION_PARENTS[c]) if (c === simpleName(wanted)) return true;
  return false;
}

/** Parses and runs a scripted Jenkinsfile; syntax errors throw before anything runs. */
export async function runScript(file: string, text: string, options: RunOptions): Promise<Value> {
  return new Interpreter(parseOrThrow(file, text), options).run();
}

export class Interpreter {
  private readonly script: A.Script;
  private readonly runtime: StepRuntime;
  private readonly binding = new Scope(null);
  private readonly methods = new Map<string, A.MethodDecl>();
  private readonly state: BuildState;
  private readonly env = new EnvObject();
  /** The declarative model when the script has a `pipeline { }` block, and the call that holds it. */
  private readonly pipeline: M.Pipeline | null;
  private readonly pipelineCall: A.CallExpr | null;
  /** `this` at script level: what `return this` hands to a `load`ing script. */
  private readonly scriptObject = new ScriptObject(this);

  constructor(script: A.Script, options: RunOptions, shared?: BuildState) {
    this.script = script;
    this.runtime = options.runtime;
    this.state = shared ?? {
      buildEnv: new Map(Object.entries(options.env ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      globalEnv: new Map(),
      envNames: new Map(Object.keys(options.env ?? {}).map((k) => [k.toLowerCase(), k])),
      params: new Map(Object.entries(options.params ?? {})),
      currentBuild: new CurrentBuild(Number(options.env?.BUILD_NUMBER ?? 1)),
    };
    for (const s of script.body) if (s.kind === "MethodDecl") this.methods.set(s.name, s);
    const declarative = buildDeclarative(script);
    if (declarative.diagnostics.length > 0) throw new PipelineSyntaxError(declarative.diagnostics);
    this.pipeline = declarative.pipeline;
    this.pipelineCall = this.pipeline ? findPipelineCall(script) : null;
  }

  get currentBuild(): CurrentBuild {
    return this.state.currentBuild;
  }

  async run(ctx: ExecutionContext = { envLayers: [] }): Promise<Value> {
    const top = new Scope(this.binding);
    if (this.pipeline) await this.applyParameterDefaults(top, ctx);
    try {
      return await this.block(this.script.body, top, ctx);
    } catch (e) {
      if (e instanceof ReturnSignal) return e.value; // `return` at script level ends the script
      throw e;
    }
  }

  /**
   * Declarative `parameters { string(name: 'X', defaultValue: 'y') }`: a parameter the build was not
   * given takes its default (booleanParam false, choice its first choice), in `params` and as an
   * environment variable, as Jenkins does for a build triggered without them.
   */
  private async applyParameterDefaults(scope: Scope, ctx: ExecutionContext): Promise<void> {
    for (const p of this.pipeline!.parameters) {
      const named = new Map<string, Value>();
      for (const n of p.call.named) named.set(toStr(await this.eval(n.key, scope, ctx)), await this.eval(n.value, scope, ctx));
      const name = named.get("name");
      if (name == null || this.state.params.has(toStr(name))) continue;
      let value = named.get("defaultValue") ?? null;
      if (p.name === "booleanParam") value = value === null ? false : truthy(value);
      else if (p.name === "choice") {
        const choices = named.get("choices") ?? null;
        value = (Array.isArray(choices) ? choices : toStr(choices).split("\n"))[0] ?? null;
      } else if (value === null) value = "";
      this.state.params.set(toStr(name), value);
      if (this.envValue(toStr(name), ctx) === null) {
        this.state.envNames.set(toStr(name).toLowerCase(), toStr(name));
        this.state.buildEnv.set(toStr(name).toLowerCase(), toStr(value));
      }
    }
  }

  /** The effective value of an environment variable in a context (innermost layer first). */
  envValue(name: string, ctx: ExecutionContext): string | null {
    const key = name.toLowerCase();
    for (let i = ctx.envLayers.length - 1; i >= 0; i--) {
      const v = ctx.envLayers[i]!.get(key);
      if (v !== undefined) return v;
    }
    return this.state.globalEnv.get(key) ?? this.state.buildEnv.get(key) ?? null;
  }

  private setGlobalEnv(name: string, value: string): void {
    this.state.envNames.set(name.toLowerCase(), name);
    this.state.globalEnv.set(name.toLowerCase(), value);
  }

  /** The whole effective environment of a context, with each variable's own spelling. */
  environment(ctx: ExecutionContext): Record<string, string> {
    const out: Record<string, string> = {};
    for (const map of [this.state.buildEnv, this.state.globalEnv, ...ctx.envLayers]) {
      for (const [key, value] of map) {
        const name = this.state.envNames.get(key) ?? key;
        if (value === "") delete out[name]; // an empty value unsets, as in Jenkins' EnvVars.override
        else out[name] = value;
      }
    }
    return out;
  }

  /** A context with extra environment variables on top (keys are case-insensitive), and maybe a new frame. */
  private layer(ctx: ExecutionContext, extra?: Record<string, string>, frame?: object): ExecutionContext {
    if (!extra && !frame) return ctx;
    for (const name of Object.keys(extra ?? {})) this.state.envNames.set(name.toLowerCase(), name);
    const envLayers = extra ? [...ctx.envLayers, new Map(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v]))] : ctx.envLayers;
    const f = frame ?? ctx.frame;
    return f ? { envLayers, frame: f } : { envLayers };
  }

  // ── statements ─────────────────────────────────────────────────────────────────────────────────

  /** Runs statements; the value is the last expression's, which closures and methods return. */
  private async block(body: readonly A.Statement[], scope: Scope, ctx: ExecutionContext): Promise<Value> {
    let last: Value = null;
    for (const s of body) last = await this.statement(s, scope, ctx);
    return last;
  }

  private async statement(s: A.Statement, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    switch (s.kind) {
      case "ExpressionStatement": return this.eval(s.expression, scope, ctx);
      case "VarDecl": {
        const field = s.annotations.some((a) => a.name === "Field" || a.name === "groovy.transform.Field");
        const target = field ? this.binding : scope;
        if (s.destructure) {
          const v = await this.eval(s.init!, scope, ctx);
          s.declarators.forEach((d, i) => target.declare(d.name, Array.isArray(v) ? (v[i] ?? null) : null));
          return null;
        }
        for (const d of s.declarators) target.declare(d.name, d.init ? await this.eval(d.init, scope, ctx) : null);
        return null;
      }
      case "MethodDecl": case "Import": case "Package": return null;
      case "Annotated": return this.statement(s.statement, scope, ctx);
      case "Block": return this.block(s.body, new Scope(scope), ctx);
      case "If":
        if (truthy(await this.eval(s.test, scope, ctx))) return this.statement(s.then, new Scope(scope), ctx);
        return s.otherwise ? this.statement(s.otherwise, new Scope(scope), ctx) : null;
      case "ForIn": {
        const items = this.iterate(await this.eval(s.iterable, scope, ctx), s);
        for (const item of items) {
          const inner = new Scope(scope);
          inner.declare(s.variable, item);
          if (await this.loopBody(s.body, inner, ctx)) break;
        }
        return null;
      }
      case "For": {
        const outer = new Scope(scope);
        if (s.init) await this.statement(s.init, outer, ctx);
        while (!s.test || truthy(await this.eval(s.test, outer, ctx))) {
          if (await this.loopBody(s.body, new Scope(outer), ctx)) break;
          for (const u of s.update) await this.eval(u, outer, ctx);
        }
        return null;
      }
      case "While":
        while (truthy(await this.eval(s.test, scope, ctx))) if (await this.loopBody(s.body, new Scope(scope), ctx)) break;
        return null;
      case "Switch": {
        const v = await this.eval(s.discriminant, scope, ctx);
        let matched = false;
        try {
          for (const c of s.cases) {
            if (!matched) {
              if (c.tests.length === 0) matched = true;
              else for (const t of c.tests) if (await this.isCase(await this.eval(t, scope, ctx), v)) { matched = true; break; }
            }
            if (matched) await this.block(c.body, new Scope(scope), ctx); // falls through until break
          }
        } catch (e) {
          if (!(e instanceof BreakSignal)) throw e;
        }
        return null;
      }
      case "Try": return this.tryStatement(s, scope, ctx);
      case "Throw": {
        const v = await this.eval(s.value, scope, ctx);
        if (v instanceof PipelineError) throw v;
        throw new PipelineError(`Cannot throw ${typeName(v)}: ${toStr(v)}`, "java.lang.IllegalArgumentException", s);
      }
      case "Return": throw new ReturnSignal(s.value ? await this.eval(s.value, scope, ctx) : null);
      case "Break": throw new BreakSignal();
      case "Continue": throw new ContinueSignal();
      case "Assert":
        if (!truthy(await this.eval(s.test, scope, ctx))) {
          const message = s.message ? toStr(await this.eval(s.message, scope, ctx)) : "assert failed";
          throw new PipelineError(message, "org.codehaus.groovy.runtime.powerassert.PowerAssertionError", s);
        }
        return null;
    }
  }

  /** Runs a loop body; true when it broke out. */
  private async loopBody(body: A.Statement, scope: Scope, ctx: ExecutionContext): Promise<boolean> {
    try {
      await this.statement(body, scope, ctx);
      return false;
    } catch (e) {
      if (e instanceof BreakSignal) return true;
      if (e instanceof ContinueSignal) return false;
      throw e;
    }
  }

  private async tryStatement(s: A.TryStatement, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    try {
      return await this.block(s.body, new Scope(scope), ctx);
    } catch (raw) {
      if (raw instanceof ReturnSignal || raw instanceof BreakSignal || raw instanceof ContinueSignal) throw raw;
      const e = raw instanceof PipelineError ? raw : new PipelineError(raw instanceof Error ? raw.message : String(raw), "java.lang.RuntimeException");
      const clause = s.catches.find((c) => c.types.length === 0 ? isA(e.javaClass, "Exception") : c.types.some((t) => isA(e.javaClass, t)));
      if (!clause) throw e;
      const inner = new Scope(scope);
      inner.declare(clause.name, e);
      return await this.block(clause.body, inner, ctx);
    } finally {
      if (s.finally) await this.block(s.finally, new Scope(scope), ctx);
    }
  }

  private iterate(v: Value, at: Position): Value[] {
    if (Array.isArray(v)) return [...v];
    if (isMap(v)) return [...v].map(([k, x]) => new Map<Value, Value>([["key", k], ["value", x]]));
    if (typeof v === "string") return [...v];
    if (v === null) return [];
    throw new PipelineError(`Cannot iterate over ${typeName(v)}`, "groovy.lang.MissingMethodException", at);
  }

  /** Groovy's isCase, used by switch and `in`-like matching. */
  private async isCase(caseValue: Value, v: Value): Promise<boolean> {
    if (caseValue instanceof Pattern) return v !== null && new RegExp(`^(?:${caseValue.regex.source})$`).test(toStr(v));
    if (Array.isArray(caseValue)) return caseValue.some((x) => equals(x, v));
    if (caseValue instanceof Closure) return truthy(await this.callClosure(caseValue, [v], { envLayers: [] }));
    return equals(caseValue, v);
  }

  // ── expressions ────────────────────────────────────────────────────────────────────────────────

  private async eval(e: A.Expression, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    switch (e.kind) {
      case "Literal": return e.value;
      case "GString": {
        let out = "";
        for (const p of e.parts) out += typeof p === "string" ? p : toStr(await this.eval(p, scope, ctx));
        return out;
      }
      case "Identifier": return this.lookup(e.name, scope, ctx, e);
      case "This": return this.scriptObject;
      case "ClassRef": return new ClassRef(e.name);
      case "List": {
        const out: Value[] = [];
        for (const x of e.elements) out.push(await this.eval(x, scope, ctx));
        return out;
      }
      case "Map": {
        const out: GroovyMap = new Map();
        for (const entry of e.entries) out.set(await this.eval(entry.key, scope, ctx), await this.eval(entry.value, scope, ctx));
        return out;
      }
      case "Range": {
        const from = await this.eval(e.from, scope, ctx);
        const to = await this.eval(e.to, scope, ctx);
        if (typeof from !== "number" || typeof to !== "number") throw new PipelineError("ranges are supported over integers", "java.lang.IllegalArgumentException", e);
        const out: number[] = [];
        const step = from <= to ? 1 : -1;
        for (let i = from; step > 0 ? (e.exclusive ? i < to : i <= to) : (e.exclusive ? i > to : i >= to); i += step) out.push(i);
        return out;
      }
      case "Property": {
        const obj = await this.eval(e.object, scope, ctx);
        const name = typeof e.name === "string" ? e.name : toStr(await this.eval(e.name, scope, ctx));
        if (obj === null && e.safe) return null;
        if (e.spread && Array.isArray(obj)) return obj.map((x) => this.property(x, name, ctx, e));
        return this.property(obj, name, ctx, e);
      }
      case "Index": return this.index(await this.eval(e.object, scope, ctx), await this.eval(e.index, scope, ctx), e);
      case "Call": return this.call(e, scope, ctx);
      case "Invoke": {
        const target = await this.eval(e.target, scope, ctx);
        if (!(target instanceof Closure)) throw new PipelineError(`Cannot call ${typeName(target)}`, "groovy.lang.MissingMethodException", e);
        return this.callClosure(target, await this.arguments(e, scope, ctx), ctx);
      }
      case "New": return this.construct(e, await this.arguments(e, scope, ctx));
      case "Closure": return new Closure(e.params, e.body, scope);
      case "Unary": return this.unary(e, scope, ctx);
      case "Binary": return this.binary(e, scope, ctx);
      case "Ternary": return truthy(await this.eval(e.test, scope, ctx)) ? this.eval(e.then, scope, ctx) : this.eval(e.otherwise, scope, ctx);
      case "Elvis": {
        const v = await this.eval(e.value, scope, ctx);
        return truthy(v) ? v : this.eval(e.fallback, scope, ctx);
      }
      case "Assign": return this.assign(e, scope, ctx);
      case "Cast": return this.cast(await this.eval(e.value, scope, ctx), e.typeName);
      case "InstanceOf": return this.instanceOf(await this.eval(e.value, scope, ctx), e.typeName);
    }
  }

  /** Name resolution: locals → binding → globals → classes → the effective environment. */
  private lookup(name: string, scope: Scope, ctx: ExecutionContext, at: Position): Value {
    const found = scope.find(name);
    if (found) return found.get(name) ?? null;
    switch (name) {
      case "env": return this.env;
      case "params": return this.state.params;
      case "currentBuild": return this.currentBuild;
      case "scm": return new Map<Value, Value>([["$symbol", "scm"]]);
    }
    if (KNOWN_STATIC_CLASSES.has(name) || name === "Result") return new ClassRef(name);
    const fromEnv = this.envValue(name, ctx);
    if (fromEnv !== null) return fromEnv;
    throw new PipelineError(`No such property: ${name} for class: WorkflowScript`, "groovy.lang.MissingPropertyException", at);
  }

  private property(obj: Value, name: string, ctx: ExecutionContext, at: Position): Value {
    if (obj instanceof EnvObject) return this.envValue(name, ctx);
    if (obj === null) throw new PipelineError(`Cannot get property '${name}' on null object`, "java.lang.NullPointerException", at);
    if (isMap(obj)) return obj.get(name) ?? null;
    if (Array.isArray(obj)) return obj.map((x) => this.property(x, name, ctx, at)); // `list.name` spreads
    if (obj instanceof PipelineError) {
      if (name === "message" || name === "localizedMessage") return obj.message;
      if (name === "cause") return null;
    }
    if (obj instanceof ClassRef) return staticField(obj, name);
    if (typeof obj === "object" && "groovyClass" in obj) {
      const v = (obj as GroovyObject).getProperty(name);
      if (v !== undefined) return v;
    }
    throw new PipelineError(`No such property: ${name} for class: ${typeName(obj)}`, "groovy.lang.MissingPropertyException", at);
  }

  private index(obj: Value, idx: Value, at: Position): Value {
    if (obj === null) throw new PipelineError("Cannot get index on null object", "java.lang.NullPointerException", at);
    if (isMap(obj)) return obj.get(idx) ?? null;
    if (obj instanceof Matcher) return obj.matches[idx as number] ?? null;
    if (Array.isArray(obj) || typeof obj === "string") {
      const len = obj.length;
      const at1 = (i: number) => (i < 0 ? len + i : i);
      if (Array.isArray(idx)) {
        const picked = idx.map((i) => obj[at1(i as number)] ?? null);
        return typeof obj === "string" ? picked.join("") : picked;
      }
      const v = obj[at1(idx as number)];
      if (v === undefined && typeof obj === "string") throw new PipelineError(`String index out of range: ${toStr(idx)}`, "java.lang.IndexOutOfBoundsException", at);
      return v ?? null;
    }
    throw new PipelineError(`Cannot index ${typeName(obj)}`, "groovy.lang.MissingMethodException", at);
  }

  private async assign(e: A.AssignExpr, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    let value = await this.eval(e.value, scope, ctx);
    if (e.op !== "=") {
      const current = await this.eval(e.target, scope, ctx);
      value = this.arithmetic(e.op.slice(0, -1), current, value, e);
    }
    const t = e.target;
    if (t.kind === "Identifier") {
      (scope.find(t.name) ?? this.binding).set(t.name, value); // undeclared names go to the binding
    } else if (t.kind === "Property") {
      const obj = await this.eval(t.object, scope, ctx);
      const name = typeof t.name === "string" ? t.name : toStr(await this.eval(t.name, scope, ctx));
      if (obj instanceof EnvObject) this.setGlobalEnv(name, toStr(value));
      else if (isMap(obj)) obj.set(name, value);
      else if (typeof obj === "object" && obj !== null && "groovyClass" in obj && (obj as GroovyObject).setProperty?.(name, value)) { /* set */ }
      else throw new PipelineError(`Cannot set property '${name}' on ${typeName(obj)}`, "groovy.lang.ReadOnlyPropertyException", t);
    } else if (t.kind === "Index") {
      const obj = await this.eval(t.object, scope, ctx);
      const idx = await this.eval(t.index, scope, ctx);
      if (isMap(obj)) obj.set(idx, value);
      else if (Array.isArray(obj)) obj[(idx as number) < 0 ? obj.length + (idx as number) : (idx as number)] = value;
      else throw new PipelineError(`Cannot index-assign ${typeName(obj)}`, "groovy.lang.MissingMethodException", t);
    }
    return value;
  }

  private async unary(e: A.UnaryExpr, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    if (e.op === "++" || e.op === "--") {
      const before = await this.eval(e.operand, scope, ctx);
      const after = this.arithmetic(e.op[0]!, before, 1, e);
      await this.assign({ kind: "Assign", op: "=", target: e.operand, value: { kind: "Literal", value: after as number, raw: "", line: e.line, column: e.column }, line: e.line, column: e.column }, scope, ctx);
      return e.prefix ? after : before;
    }
    const v = await this.eval(e.operand, scope, ctx);
    switch (e.op) {
      case "!": return !truthy(v);
      case "-": return -(v as number);
      case "+": return v;
      case "~": return new Pattern(toStr(v));
      default: throw new PipelineError(`unsupported operator '${e.op}'`, "java.lang.UnsupportedOperationException", e);
    }
  }

  private async binary(e: A.BinaryExpr, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    if (e.op === "&&") return truthy(await this.eval(e.left, scope, ctx)) && truthy(await this.eval(e.right, scope, ctx));
    if (e.op === "||") return truthy(await this.eval(e.left, scope, ctx)) || truthy(await this.eval(e.right, scope, ctx));
    const a = await this.eval(e.left, scope, ctx);
    const b = await this.eval(e.right, scope, ctx);
    switch (e.op) {
      case "==": return equals(a, b);
      case "!=": return !equals(a, b);
      case "<": return compareValues(a, b) < 0;
      case "<=": return compareValues(a, b) <= 0;
      case ">": return compareValues(a, b) > 0;
      case ">=": return compareValues(a, b) >= 0;
      case "<=>": return Math.sign(compareValues(a, b));
      case "=~": return new Matcher(toStr(a), b instanceof Pattern ? b.regex.source : toStr(b));
      case "==~": return new RegExp(`^(?:${b instanceof Pattern ? b.regex.source : toStr(b)})$`).test(toStr(a));
      case "in":
        if (Array.isArray(b)) return b.some((x) => equals(x, a));
        if (isMap(b)) return b.has(a);
        if (typeof b === "string") return b.includes(toStr(a));
        return this.isCase(b, a);
      case "<<":
        if (Array.isArray(a)) { a.push(b); return a; }
        return (a as number) << (b as number);
      default: return this.arithmetic(e.op, a, b, e);
    }
  }

  private arithmetic(op: string, a: Value, b: Value, at: Position): Value {
    if (op === "+") {
      if (typeof a === "string" || typeof b === "string") return toStr(a) + toStr(b);
      if (Array.isArray(a)) return Array.isArray(b) ? [...a, ...b] : [...a, b];
      if (isMap(a) && isMap(b)) return new Map([...a, ...b]);
    }
    if (op === "-" && Array.isArray(a)) return a.filter((x) => (Array.isArray(b) ? !b.some((y) => equals(x, y)) : !equals(x, b)));
    if (op === "-" && typeof a === "string") return a.replace(toStr(b), "");
    if (op === "*" && typeof a === "string" && typeof b === "number") return a.repeat(b);
    if (typeof a !== "number" || typeof b !== "number") {
      throw new PipelineError(`Cannot apply '${op}' to ${typeName(a)} and ${typeName(b)}`, "groovy.lang.MissingMethodException", at);
    }
    switch (op) {
      case "+": return a + b;
      case "-": return a - b;
      case "*": return a * b;
      case "/": return a / b; // Groovy divides integers into a decimal too (5 / 2 == 2.5)
      case "%": return a % b;
      case "**": return a ** b;
      case ">>": return a >> b;
      case ">>>": return a >>> b;
      case "&": return a & b;
      case "|": return a | b;
      case "^": return a ^ b;
      default: throw new PipelineError(`unsupported operator '${op}'`, "java.lang.UnsupportedOperationException", at);
    }
  }

  private cast(v: Value, type: string): Value {
    switch (simpleName(type)) {
      case "String": return v === null ? null : toStr(v);
      case "Integer": case "int": case "Long": case "long": return typeof v === "string" ? (callBuiltin(v, "toInteger", [], () => Promise.resolve(null)) as Value) : v;
      case "Boolean": case "boolean": return truthy(v);
      case "List": case "ArrayList": return Array.isArray(v) ? v : v === null ? null : [v];
      default: return v;
    }
  }

  private instanceOf(v: Value, type: string): boolean {
    const t = simpleName(type);
    if (v instanceof PipelineError) return isA(v.javaClass, t);
    const actual = simpleName(typeName(v));
    if (actual === t) return true;
    if (t === "Map") return isMap(v);
    if (t === "List" || t === "Collection") return Array.isArray(v);
    if (t === "Number") return typeof v === "number";
    if (t === "CharSequence" || t === "GString") return typeof v === "string";
    return t === "Object" && v !== null;
  }

  private construct(e: A.NewExpr, args: Value[]): Value {
    const t = simpleName(e.typeName);
    if (t in EXCEPTION_PARENTS || t === "Throwable") {
      const fullName = e.typeName.includes(".") ? e.typeName : t === "AbortException" ? "hudson.AbortException" : `java.lang.${t}`;
      return new PipelineError(args[0] === undefined ? "" : toStr(args[0] ?? null), fullName, e);
    }
    if (t === "ArrayList") return [];
    if (t === "HashMap" || t === "LinkedHashMap") return new Map();
    if (t === "JsonSlurperClassic" || t === "JsonSlurper") {
      return new Map<Value, Value>([["$symbol", "JsonSlurper"]]);
    }
    throw new PipelineError(`unsupported class '${e.typeName}'`, "java.lang.UnsupportedOperationException", e);
  }

  // ── calls ──────────────────────────────────────────────────────────────────────────────────────

  /** Positional arguments, with named ones first as one Map (Groovy's rule for methods and closures). */
  private async arguments(e: { args: A.Expression[]; named: A.MapEntry[]; closure?: A.ClosureExpr | null }, scope: Scope, ctx: ExecutionContext): Promise<Value[]> {
    const out: Value[] = [];
    if (e.named.length > 0) {
      const m: GroovyMap = new Map();
      for (const n of e.named) m.set(await this.eval(n.key, scope, ctx), await this.eval(n.value, scope, ctx));
      out.push(m);
    }
    for (const a of e.args) out.push(await this.eval(a, scope, ctx));
    if (e.closure) out.push(new Closure(e.closure.params, e.closure.body, scope));
    return out;
  }

  private async call(e: A.CallExpr, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    if (e === this.pipelineCall && this.pipeline) {
      await runPipeline(this.pipeline, this.driverHost(scope), ctx);
      return null;
    }
    if (e.receiver === null || e.receiver.kind === "This") {
      const local = e.receiver === null ? scope.find(e.name) : null;
      const fn = local?.get(e.name);
      if (fn instanceof Closure) return this.callClosure(fn, await this.arguments(e, scope, ctx), ctx);
      const method = this.methods.get(e.name);
      if (method) return this.callMethod(method, await this.arguments(e, scope, ctx), ctx);
      if (e.name === "script" && e.closure) return this.block(e.closure.body, new Scope(scope), ctx);
      if (Object.hasOwn(STEPS, e.name)) return this.step(e, scope, ctx);
      throw new PipelineError(`No such DSL method '${e.name}' found among steps`, "java.lang.NoSuchMethodError", e);
    }
    const recv = await this.eval(e.receiver, scope, ctx);
    if (recv === null && e.safe) return null;
    const args = await this.arguments(e, scope, ctx);
    if (e.spread && Array.isArray(recv)) {
      const out: Value[] = [];
      for (const x of recv) out.push(await this.method(x, e.name, args, ctx, e));
      return out;
    }
    return this.method(recv, e.name, args, ctx, e);
  }

  private async method(recv: Value, name: string, args: Value[], ctx: ExecutionContext, at: Position): Promise<Value> {
    if (recv === null) throw new PipelineError(`Cannot invoke method ${name}() on null object`, "java.lang.NullPointerException", at);
    if (recv instanceof EnvObject) {
      if (name === "getProperty") return this.envValue(toStr(args[0] ?? null), ctx);
      if (name === "setProperty") { this.setGlobalEnv(toStr(args[0] ?? null), toStr(args[1] ?? null)); return null; }
    }
    if (recv instanceof ClassRef) return callStatic(recv, name, args);
    if (recv instanceof ScriptObject) {
      const m = recv.interpreter.methods.get(name);
      if (m) return recv.interpreter.callMethod(m, args, ctx);
    }
    if (recv instanceof Closure && name === "call") return this.callClosure(recv, args, ctx);
    if (isMap(recv) && recv.get("$symbol") === "JsonSlurper" && (name === "parseText" || name === "parse")) return fromJson(JSON.parse(toStr(args[0] ?? null)));
    if (typeof recv === "object" && "groovyClass" in recv) {
      const g = recv as GroovyObject;
      const prop = /^(get|is)([A-Z].*)$/.exec(name);
      if (prop && args.length === 0) {
        const v = g.getProperty(prop[2]!.charAt(0).toLowerCase() + prop[2]!.slice(1));
        if (v !== undefined) return v;
      }
      const set = /^set([A-Z].*)$/.exec(name);
      if (set && args.length === 1 && g.setProperty?.(set[1]!.charAt(0).toLowerCase() + set[1]!.slice(1), args[0]!)) return null;
    }
    const r = callBuiltin(recv, name, args, (c, a) => this.callClosure(c, a, ctx));
    if (r !== undefined) return await r;
    throw new PipelineError(`No signature of method: ${typeName(recv)}.${name}() is applicable`, "groovy.lang.MissingMethodException", at);
  }

  async callClosure(c: Closure, args: Value[], ctx: ExecutionContext): Promise<Value> {
    const scope = new Scope(c.scope);
    if (c.params === null) scope.declare("it", args[0] ?? null);
    else await this.bindParameters(c.params, args, scope, ctx);
    try {
      return await this.block(c.body, scope, ctx);
    } catch (e) {
      if (e instanceof ReturnSignal) return e.value;
      throw e;
    }
  }

  private async callMethod(m: A.MethodDecl, args: Value[], ctx: ExecutionContext): Promise<Value> {
    // methods see the binding, never the script's `def` locals (the classic Groovy gotcha)
    const scope = new Scope(this.binding);
    const required = m.params.filter((p) => !p.defaultValue).length;
    if (args.length < required || args.length > m.params.length) {
      throw new PipelineError(`No signature of method: ${m.name}() is applicable for ${args.length} argument(s)`, "groovy.lang.MissingMethodException", m);
    }
    await this.bindParameters(m.params, args, scope, ctx);
    try {
      return await this.block(m.body, scope, ctx);
    } catch (e) {
      if (e instanceof ReturnSignal) return e.value;
      throw e;
    }
  }

  private async bindParameters(params: A.Parameter[], args: Value[], scope: Scope, ctx: ExecutionContext): Promise<void> {
    for (const [i, p] of params.entries()) {
      scope.declare(p.name, i < args.length ? args[i]! : p.defaultValue ? await this.eval(p.defaultValue, scope, ctx) : null);
    }
  }

  /**
   * `load 'file.groovy'`: the runtime reads the file (from the workspace), this evaluates it sharing
   * env, params and currentBuild; its value is usually its `this` (`return this`), whose methods the
   * caller then calls.
   */
  private async load(path: string, ctx: ExecutionContext, at: Position): Promise<Value> {
    const text = await this.callRuntime("readFile", new Map<string, Value>([["file", path], ["load", true]]), at, ctx);
    return new Interpreter(parseOrThrow(path, toStr(text)), { runtime: this.runtime }, this.state).run(ctx);
  }

  /** A catalogue step: bind arguments Jenkins' way and hand over to the runtime; symbols become descriptors. */
  private async step(e: A.CallExpr, scope: Scope, ctx: ExecutionContext): Promise<Value> {
    const named = new Map<string, Value>();
    const positions = new Map<string, Position>();
    for (const n of e.named) {
      const key = toStr(await this.eval(n.key, scope, ctx));
      named.set(key, await this.eval(n.value, scope, ctx));
      positions.set(key, n.value);
    }
    const positional: Value[] = [];
    for (const a of e.args) positional.push(await this.eval(a, scope, ctx));
    const info = STEPS[e.name]!;
    const args = e.name === "parallel" && positional.length === 1 && isMap(positional[0])
      ? new Map([...positional[0]].map(([k, v]) => [toStr(k), v]))
      : e.name === "println" && positional.length === 0 && named.size === 0
        ? new Map<string, Value>([["message", ""]])
        : bindStepArguments(e.name, named, positional, e);
    if (info.symbol) return new Map<Value, Value>([["$symbol", e.name], ...args]);
    if (e.name === "load") return this.load(toStr(args.get("path") ?? null), ctx, e);
    const closure = e.closure ? new Closure(e.closure.params, e.closure.body, scope, e.name) : null;
    return this.callRuntime(e.name === "println" || e.name === "print" ? "echo" : e.name, args, e, ctx, closure ? (inner) => this.callClosure(closure, [], inner) : undefined, positions);
  }

  /** One call into the step runtime; a failure it reports without a place gets the call's (for file:line:column). */
  private callRuntime(name: string, args: ReadonlyMap<string, Value>, at: Position, ctx: ExecutionContext, body?: (ctx: ExecutionContext) => Promise<Value>, argPositions: ReadonlyMap<string, Position> = new Map()): Promise<Value> {
    const placed = (err: unknown): never => {
      if (err instanceof PipelineError && err.line === 0) throw new PipelineError(err.message, err.javaClass, at, err.value);
      throw err;
    };
    return this.runtime.call({
      name,
      args,
      line: at.line,
      column: at.column,
      argPositions,
      context: ctx,
      env: (n) => this.envValue(n, ctx),
      environment: () => this.environment(ctx),
      body: body ? (extra, frame) => body(this.layer(ctx, extra, frame)) : null,
      invoke: (c, a = [], extra, frame) => (c instanceof NativeBranch ? c.run(this.layer(ctx, extra, frame)) : this.callClosure(c, a, this.layer(ctx, extra, frame))),
    }).catch(placed);
  }

  /** The interpreter as the declarative driver sees it, in the scope where `pipeline { }` stands. */
  private driverHost(scope: Scope): DriverHost {
    return {
      currentBuild: this.currentBuild,
      exec: async (statements, ctx) => {
        try {
          return await this.block(statements, new Scope(scope), ctx);
        } catch (e) {
          if (e instanceof ReturnSignal) return e.value; // `expression { return … }`
          throw e;
        }
      },
      eval: (expression, ctx) => this.eval(expression, scope, ctx),
      envValue: (name, ctx) => this.envValue(name, ctx),
      step: (name, args, at, ctx, body, positions) => this.callRuntime(name, args, at, ctx, body, positions),
      withEnv: (ctx, vars) => this.layer(ctx, vars),
    };
  }
}

export type { BuildState };


function compareValues(a: Value, b: Value): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = toStr(a), y = toStr(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function fromJson(v: unknown): Value {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, fromJson(x)]));
  return v as Value;
}
