// Recognises a declarative `pipeline { … }` in a parsed script and builds the typed model, rejecting
// what Jenkins' declarative validator rejects (unknown sections, directives in the wrong place,
// stages without anything to run, statements that are not steps outside `script { }`), each with
// its position. Script code outside the `pipeline` block (variables, methods) is left to the
// interpreter, as Jenkins does.
import type * as A from "./ast.ts";
import { sortDiagnostics, type Diagnostic } from "./diagnostics.ts";
import {
  DECLARATIVE_OPTIONS, DECLARATIVE_PARAMETERS, DECLARATIVE_TRIGGERS, KUBERNETES_AGENT_OPTIONS, POST_CONDITIONS, STAGE_OPTIONS, STEPS,
  WHEN_CONDITIONS, WHEN_FLAGS, type PostCondition,
} from "./catalogue.ts";
import type * as M from "./declarative-model.ts";

export interface DeclarativeResult {
  /** null when the script has no top-level `pipeline { }` (a scripted pipeline). */
  readonly pipeline: M.Pipeline | null;
  readonly diagnostics: Diagnostic[];
}

const PIPELINE_SECTIONS = ["agent", "environment", "options", "parameters", "triggers", "tools", "libraries", "stages", "post"];
const STAGE_SECTIONS = ["agent", "environment", "options", "tools", "input", "when", "post", "failFast", "steps", "stages", "parallel", "matrix"];
const MATRIX_SECTIONS = ["axes", "excludes", "stages", "agent", "environment", "options", "tools", "input", "when", "post"];
const STAGE_ONLY = new Set(["when", "input", "steps", "parallel", "matrix", "failFast", "axes", "excludes"]);
const PIPELINE_ONLY = new Set(["parameters", "triggers", "libraries"]);

/** The `pipeline { }` call at the top of the script, if any. */
export function findPipelineCall(script: A.Script): A.CallExpr | null {
  for (const s of script.body) {
    const call = statementCall(s);
    if (call && call.name === "pipeline") return call;
  }
  return null;
}

export function buildDeclarative(script: A.Script): DeclarativeResult {
  const b = new Builder(script.file);
  const calls = script.body.map(statementCall).filter((c): c is A.CallExpr => c !== null && c.name === "pipeline");
  for (const extra of calls.slice(1)) b.report(extra, "only one pipeline { } block is allowed in a Jenkinsfile");
  const pipeline = calls[0] ? b.pipeline(calls[0]) : null;
  return { pipeline, diagnostics: sortDiagnostics(b.diagnostics) };
}

/** A bare call standing as a statement (`name args { … }`); a lone name counts as a call without arguments. */
function statementCall(s: A.Statement): A.CallExpr | null {
  if (s.kind !== "ExpressionStatement") return null;
  const e = s.expression;
  if (e.kind === "Call" && e.receiver === null) return e;
  if (e.kind === "Identifier") {
    return { kind: "Call", receiver: null, name: e.name, args: [], named: [], closure: null, safe: false, spread: false, command: true, line: e.line, column: e.column };
  }
  return null;
}

function literalString(e: A.Expression | undefined): string | null {
  return e && e.kind === "Literal" && typeof e.value === "string" ? e.value : null;
}

function describeStatement(s: A.Statement): string {
  switch (s.kind) {
    case "ExpressionStatement":
      return s.expression.kind === "Assign" ? "an assignment" : s.expression.kind === "Call" ? `'${s.expression.name}'` : "an expression";
    case "VarDecl": return "a declaration";
    case "MethodDecl": return "a method definition";
    case "If": return "'if'";
    case "For": case "ForIn": return "'for'";
    case "While": return "'while'";
    case "Try": return "'try'";
    case "Switch": return "'switch'";
    default: return `'${s.kind.toLowerCase()}'`;
  }
}

class Builder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  report(at: { line: number; column: number }, message: string): void {
    this.diagnostics.push({ file: this.file, line: at.line, column: at.column, message });
  }

  /** The statements of `name { … }`; reports a missing block. */
  private block(call: A.CallExpr, what = `'${call.name}'`, takesArguments = false): A.Statement[] {
    if (!call.closure) {
      this.report(call, `${what} needs a block: ${call.name} { … }`);
      return [];
    }
    if (!takesArguments && (call.args.length > 0 || call.named.length > 0)) this.report(call, `${what} takes no arguments, only a block { … }`);
    return call.closure.body;
  }

  /** Each statement of a section block as a call; anything else is reported with `expected`. */
  private calls(statements: readonly A.Statement[], where: string, expected: string): A.CallExpr[] {
    const out: A.CallExpr[] = [];
    for (const s of statements) {
      const c = statementCall(s);
      const previous = out[out.length - 1];
      if (c) out.push(c);
      else if (s.kind === "Block" && previous && !previous.closure) {
        // `stage('x')` then `{` on the next line: Groovy does not attach it; say so, and read on as if attached
        this.report(s, `this '{' is not attached to '${previous.name}' on the line before — put '{' on the same line as ${previous.name}(…)`);
        out[out.length - 1] = { ...previous, closure: { kind: "Closure", params: null, body: s.body, line: s.line, column: s.column } };
      } else this.report(s, `unexpected ${describeStatement(s)} in ${where} — expected ${expected}`);
    }
    return out;
  }

  private once<T>(seen: Map<string, unknown>, call: A.CallExpr, where: string, value: T): T {
    if (seen.has(call.name)) this.report(call, `duplicate '${call.name}' in ${where}`);
    seen.set(call.name, value);
    return value;
  }

  pipeline(call: A.CallExpr): M.Pipeline {
    const seen = new Map<string, unknown>();
    let agent: M.Agent | null = null;
    let environment: M.EnvironmentEntry[] = [];
    let options: M.Directive[] = [];
    let parameters: M.Directive[] = [];
    let triggers: M.Directive[] = [];
    let tools: M.Directive[] = [];
    let libraries: M.Directive[] = [];
    let stages: M.Stage[] = [];
    let post: M.Post | null = null;
    for (const c of this.calls(this.block(call, "pipeline"), "pipeline", `a section (${PIPELINE_SECTIONS.join(", ")})`)) {
      switch (c.name) {
        case "agent": agent = this.once(seen, c, "pipeline", this.agent(c)); break;
        case "environment": environment = this.once(seen, c, "pipeline", this.environment(c)); break;
        case "options": options = this.once(seen, c, "pipeline", this.options(c, false)); break;
        case "parameters": parameters = this.once(seen, c, "pipeline", this.vocabulary(c, DECLARATIVE_PARAMETERS, "parameter type")); break;
        case "triggers": triggers = this.once(seen, c, "pipeline", this.vocabulary(c, DECLARATIVE_TRIGGERS, "trigger")); break;
        case "tools": tools = this.once(seen, c, "pipeline", this.tools(c)); break;
        case "libraries": libraries = this.once(seen, c, "pipeline", this.calls(this.block(c), "libraries", "lib('name@version')").map((l) => ({ name: l.name, call: l, line: l.line, column: l.column }))); break;
        case "stages": stages = this.once(seen, c, "pipeline", this.stages(c, false)); break;
        case "post": post = this.once(seen, c, "pipeline", this.post(c)); break;
        default: this.misplaced(c, "pipeline", PIPELINE_SECTIONS);
      }
    }
    if (!seen.has("agent")) this.report(call, "pipeline has no 'agent' section — add agent any, agent none or agent { kubernetes { … } }");
    if (!seen.has("stages")) this.report(call, "pipeline has no 'stages' section — expected stages { stage('name') { steps { … } } }");
    return { agent, environment, options, parameters, triggers, tools, libraries, stages, post, line: call.line, column: call.column };
  }

  private misplaced(c: A.CallExpr, where: string, allowed: readonly string[]): void {
    if (where === "pipeline" && STAGE_ONLY.has(c.name)) {
      this.report(c, `'${c.name}' is not allowed directly in pipeline — it belongs in a stage: stages { stage('name') { ${c.name} … } }`);
    } else if (where !== "pipeline" && PIPELINE_ONLY.has(c.name)) {
      this.report(c, `'${c.name}' is only allowed at the top of pipeline, not in ${where}`);
    } else if (STEPS[c.name] && !STEPS[c.name]!.symbol) {
      this.report(c, `step '${c.name}' is not allowed directly in ${where} — put it in steps { … }`);
    } else {
      this.report(c, `unknown section '${c.name}' in ${where} — expected one of ${allowed.join(", ")}`);
    }
  }

  // ── agent ──────────────────────────────────────────────────────────────────────────────────────

  private agent(c: A.CallExpr): M.Agent {
    const at = { line: c.line, column: c.column };
    const only = c.args[0];
    if (!c.closure && c.args.length === 1 && only?.kind === "Identifier" && (only.name === "any" || only.name === "none")) {
      return { type: only.name, ...at };
    }
    if (!c.closure && c.named.length > 0) {
      // old map form: agent label: 'x'
      const label = c.named.find((e) => literalString(e.key) === "label");
      if (label) return { type: "label", label: label.value, ...at };
    }
    if (!c.closure) {
      this.report(c, "agent expects any, none, or a block: agent { label '…' } / agent { kubernetes { … } }");
      return { type: "any", ...at };
    }
    const inner = this.calls(c.closure.body, "agent", "one of label, node, kubernetes, docker, dockerfile");
    if (inner.length !== 1) {
      if (inner.length > 1) this.report(inner[1]!, "agent { } takes exactly one agent type (label, node, kubernetes, docker or dockerfile)");
      else if (c.closure.body.length === 0) this.report(c, "empty agent { } — expected one of label, node, kubernetes, docker, dockerfile");
      if (inner.length === 0) return { type: "any", ...at };
    }
    const kind = inner[0]!;
    const kat = { line: kind.line, column: kind.column };
    switch (kind.name) {
      case "label": {
        const label = kind.args[0] ?? kind.named.find((e) => literalString(e.key) === "label")?.value;
        if (!label) this.report(kind, "label needs a value: label 'linux && docker'");
        return { type: "label", label: label ?? { kind: "Literal", value: "", raw: "''", ...kat }, ...kat };
      }
      case "node": return { type: "node", fields: this.fields(kind, ["label", "customWorkspace"], "node agent"), ...kat };
      case "docker": case "dockerfile": {
        const fields = kind.closure ? this.fields(kind, null, `${kind.name} agent`) : {};
        return { type: kind.name, fields, ...kat };
      }
      case "kubernetes": {
        const options: Record<string, M.FieldValue> = {};
        let containerTemplate: Record<string, M.FieldValue> | null = null;
        for (const e of kind.named) {
          const key = literalString(e.key) ?? "";
          if (!KUBERNETES_AGENT_OPTIONS.includes(key)) this.report(e, `unknown kubernetes agent option '${key}' — expected one of ${KUBERNETES_AGENT_OPTIONS.join(", ")}`);
          options[key] = { value: e.value, line: e.line, column: e.column };
        }
        for (const o of kind.closure ? this.calls(kind.closure.body, "kubernetes agent", "an option such as yaml '…' or defaultContainer '…'") : []) {
          if (o.name === "containerTemplate" && o.closure) {
            containerTemplate = this.fields(o, null, "containerTemplate");
            continue;
          }
          if (!KUBERNETES_AGENT_OPTIONS.includes(o.name)) {
            this.report(o, `unknown kubernetes agent option '${o.name}' — expected one of ${KUBERNETES_AGENT_OPTIONS.join(", ")}`);
            continue;
          }
          const value = this.singleValue(o);
          if (value) {
            if (options[o.name]) this.report(o, `duplicate kubernetes agent option '${o.name}'`);
            options[o.name] = { value, line: o.line, column: o.column };
          }
        }
        return { type: "kubernetes", options, containerTemplate, ...kat };
      }
      default:
        this.report(kind, `unknown agent type '${kind.name}' — expected one of label, node, kubernetes, docker, dockerfile`);
        return { type: "any", ...kat };
    }
  }

  /** `name value` with exactly one positional value (or a value-building call such as `merge()`). */
  private singleValue(o: A.CallExpr): A.Expression | null {
    if (o.args.length === 1 && o.named.length === 0 && !o.closure) return o.args[0]!;
    if (o.named.length > 0 && o.args.length === 0 && !o.closure) return { kind: "Map", entries: o.named, line: o.line, column: o.column };
    this.report(o, `'${o.name}' takes one value: ${o.name} <value>`);
    return null;
  }

  /** A block of `field value` lines (`node { label 'x'; customWorkspace 'y' }`); `allowed` null = any name. */
  private fields(c: A.CallExpr, allowed: readonly string[] | null, where: string): Record<string, M.FieldValue> {
    const out: Record<string, M.FieldValue> = {};
    for (const e of c.named) out[literalString(e.key) ?? ""] = { value: e.value, line: e.line, column: e.column };
    for (const f of c.closure ? this.calls(c.closure.body, where, "field value lines") : []) {
      if (allowed && !allowed.includes(f.name)) {
        this.report(f, `unknown field '${f.name}' in ${where} — expected one of ${allowed.join(", ")}`);
        continue;
      }
      const value = this.singleValue(f);
      if (value) out[f.name] = { value, line: f.line, column: f.column };
    }
    return out;
  }

  // ── environment, options, parameters, triggers, tools ─────────────────────────────────────────

  private environment(c: A.CallExpr): M.EnvironmentEntry[] {
    const out: M.EnvironmentEntry[] = [];
    for (const s of this.block(c)) {
      const e = s.kind === "ExpressionStatement" ? s.expression : null;
      if (e && e.kind === "Assign" && e.op === "=" && e.target.kind === "Identifier") {
        out.push({ name: e.target.name, value: e.value, line: e.line, column: e.column });
      } else {
        this.report(s, `unexpected ${describeStatement(s)} in environment — expected NAME = value`);
      }
    }
    return out;
  }

  private options(c: A.CallExpr, stage: boolean): M.Directive[] {
    const out: M.Directive[] = [];
    for (const o of this.calls(this.block(c), "options", "an option such as timeout(time: 1, unit: 'HOURS')")) {
      const known = Object.hasOwn(DECLARATIVE_OPTIONS, o.name);
      const wrapper = STEPS[o.name]?.body === true; // block-scoped steps wrap the body (e.g. retry, timeout)
      if (!known && !wrapper) {
        this.report(o, `unknown option '${o.name}' — expected one of ${Object.keys(DECLARATIVE_OPTIONS).join(", ")} or a block step`);
        continue;
      }
      if (stage && known && !STAGE_OPTIONS.has(o.name)) {
        this.report(o, `option '${o.name}' is only allowed in the pipeline's options, not in a stage's`);
        continue;
      }
      out.push({ name: o.name, call: o, line: o.line, column: o.column });
    }
    return out;
  }

  private vocabulary(c: A.CallExpr, known: Readonly<Record<string, readonly string[]>>, what: string): M.Directive[] {
    const out: M.Directive[] = [];
    for (const p of this.calls(this.block(c), c.name, `a ${what} such as ${Object.keys(known)[0]}(…)`)) {
      if (!Object.hasOwn(known, p.name)) {
        this.report(p, `unsupported ${what} '${p.name}' — expected one of ${Object.keys(known).join(", ")}`);
        continue;
      }
      for (const e of p.named) {
        const key = literalString(e.key);
        if (key !== null && !known[p.name]!.includes(key)) this.report(e, `unknown parameter '${key}' for ${p.name} — expected one of ${known[p.name]!.join(", ")}`);
      }
      out.push({ name: p.name, call: p, line: p.line, column: p.column });
    }
    return out;
  }

  private tools(c: A.CallExpr): M.Directive[] {
    return this.calls(this.block(c), "tools", "a tool line such as maven 'apache-maven-3'").map((t) => ({ name: t.name, call: t, line: t.line, column: t.column }));
  }

  // ── stages ─────────────────────────────────────────────────────────────────────────────────────

  /** `stages { stage(…) { … } … }` (or the stage list of `parallel { }`). */
  private stages(c: A.CallExpr, inParallel: boolean): M.Stage[] {
    const out: M.Stage[] = [];
    const names = new Set<string>();
    for (const s of this.calls(this.block(c), c.name, "stage('name') { … }")) {
      if (s.name !== "stage") {
        this.report(s, `unexpected '${s.name}' in ${c.name} — expected stage('name') { … }`);
        continue;
      }
      const stage = this.stage(s, inParallel);
      if (names.has(stage.displayName)) this.report(s, `duplicate stage name '${stage.displayName}'`);
      names.add(stage.displayName);
      out.push(stage);
    }
    if (out.length === 0 && c.closure) this.report(c, `${c.name} { } has no stages — expected stage('name') { … }`);
    return out;
  }

  private stage(c: A.CallExpr, inParallel: boolean): M.Stage {
    const name = c.args[0] ?? c.named.find((e) => literalString(e.key) === "name")?.value;
    if (!name) this.report(c, "stage needs a name: stage('name') { … }");
    const displayName = literalString(name) ?? (name ? "<expression>" : "");
    const where = `stage '${displayName}'`;
    const seen = new Map<string, unknown>();
    const d = this.emptyDirectives();
    let failFast: A.Expression | null = null;
    const bodies: { kind: string; call: A.CallExpr; body: M.StageBody }[] = [];
    for (const s of this.calls(this.block(c, where, true), where, `a stage section (${STAGE_SECTIONS.join(", ")})`)) {
      if (this.directive(s, d, seen, where, true)) continue;
      switch (s.name) {
        case "failFast": failFast = this.once(seen, s, where, this.singleValue(s)); break;
        case "steps": bodies.push({ kind: "steps", call: s, body: { kind: "steps", steps: this.steps(s) } }); break;
        case "stages": bodies.push({ kind: "stages", call: s, body: { kind: "stages", stages: this.stages(s, inParallel) } }); break;
        case "parallel":
          if (inParallel) this.report(s, "parallel stages cannot be nested inside another parallel or matrix stage");
          bodies.push({ kind: "parallel", call: s, body: { kind: "parallel", stages: this.stages(s, true) } });
          break;
        case "matrix":
          if (inParallel) this.report(s, "a matrix cannot be nested inside a parallel or matrix stage");
          bodies.push({ kind: "matrix", call: s, body: { kind: "matrix", matrix: this.matrix(s) } });
          break;
        default: this.misplaced(s, where, STAGE_SECTIONS);
      }
    }
    if (bodies.length === 0 && c.closure) {
      this.report(c, `${where} has nothing to run — expected one of steps, stages, parallel, matrix`);
    }
    if (bodies.length > 1) {
      this.report(bodies[1]!.call, `${where} has both ${bodies[0]!.kind} and ${bodies[1]!.kind} — only one of steps, stages, parallel, matrix is allowed`);
    }
    const body = bodies[0]?.body ?? null;
    if (failFast && body?.kind !== "parallel" && body?.kind !== "matrix") this.report(failFast, "failFast is only allowed in a stage with parallel or matrix");
    return { name: name ?? { kind: "Literal", value: "", raw: "''", line: c.line, column: c.column }, displayName, failFast, body, ...d, line: c.line, column: c.column };
  }

  private emptyDirectives(): { -readonly [K in keyof M.StageDirectives]: M.StageDirectives[K] } {
    return { agent: null, environment: [], options: [], tools: [], when: null, input: null, post: null };
  }

  /** Directives shared by stages and matrices; true when `s` was one. */
  private directive(s: A.CallExpr, d: ReturnType<Builder["emptyDirectives"]>, seen: Map<string, unknown>, where: string, stage: boolean): boolean {
    switch (s.name) {
      case "agent": d.agent = this.once(seen, s, where, this.agent(s)); return true;
      case "environment": d.environment = this.once(seen, s, where, this.environment(s)); return true;
      case "options": d.options = this.once(seen, s, where, this.options(s, stage)); return true;
      case "tools": d.tools = this.once(seen, s, where, this.tools(s)); return true;
      case "when": d.when = this.once(seen, s, where, this.when(s)); return true;
      case "input": d.input = this.once(seen, s, where, this.input(s)); return true;
      case "post": d.post = this.once(seen, s, where, this.post(s)); return true;
      default: return false;
    }
  }

  /** `steps { }`: only step calls and `script { }` — anything else must move into script. */
  private steps(c: A.CallExpr): M.StepsBlock {
    const statements = this.block(c);
    this.checkSteps(statements, c.name);
    return { statements, line: c.line, column: c.column };
  }

  private checkSteps(statements: readonly A.Statement[], where: string): void {
    for (const s of statements) {
      const e = s.kind === "ExpressionStatement" ? s.expression : null;
      if (e && e.kind === "Call" && e.receiver === null) {
        if (e.name === "script" && !e.closure) this.report(e, "script needs a block: script { … }");
        // nested blocks of block steps (dir, container, withEnv…) hold steps too, unless it is script { }
        if (e.closure && e.name !== "script") this.checkSteps(e.closure.body, `'${e.name}'`);
        continue;
      }
      if (e && e.kind === "Identifier") continue; // `deleteDir` written without parentheses is a call
      const what = describeStatement(s);
      const hint = e && e.kind === "Call" ? "method calls on objects are" : `${what} is`;
      this.report(s, `${hint} not allowed in ${where} — wrap it in script { … }`);
    }
  }

  private when(c: A.CallExpr): M.When {
    let beforeAgent = false, beforeInput = false, beforeOptions = false;
    const conditions: M.WhenCondition[] = [];
    for (const w of this.calls(this.block(c), "when", "a condition such as branch 'main' or expression { … }")) {
      if (WHEN_FLAGS.has(w.name)) {
        const v = this.singleValue(w);
        const on = v?.kind === "Literal" && v.value === true;
        if (v && !(v.kind === "Literal" && typeof v.value === "boolean")) this.report(v, `${w.name} takes true or false`);
        if (w.name === "beforeAgent") beforeAgent = on;
        else if (w.name === "beforeInput") beforeInput = on;
        else beforeOptions = on;
        continue;
      }
      const cond = this.condition(w);
      if (cond) conditions.push(cond);
    }
    if (c.closure?.body.length === 0) this.report(c, "when { } has no condition — expected e.g. branch 'main' or expression { … }");
    return { conditions, beforeAgent, beforeInput, beforeOptions, line: c.line, column: c.column };
  }

  private condition(w: A.CallExpr): M.WhenCondition | null {
    const at = { line: w.line, column: w.column };
    if (!Object.hasOwn(WHEN_CONDITIONS, w.name)) {
      this.report(w, `unknown when condition '${w.name}' — expected one of ${Object.keys(WHEN_CONDITIONS).join(", ")}`);
      return null;
    }
    if (w.name === "not" || w.name === "allOf" || w.name === "anyOf") {
      const children = this.calls(this.block(w), w.name, "a condition").map((x) => this.condition(x)).filter((x): x is M.WhenCondition => x !== null);
      if (w.name === "not" && children.length !== 1) this.report(w, "not { } takes exactly one condition");
      if (children.length === 0 && w.closure && w.name !== "not") this.report(w, `${w.name} { } has no condition`);
      return { kind: w.name, children, ...at };
    }
    if (w.name === "expression") {
      if (!w.closure) {
        this.report(w, "expression needs a block: expression { return … }");
        return null;
      }
      return { kind: "expression", body: w.closure, ...at };
    }
    for (const e of w.named) {
      const key = literalString(e.key);
      if (key !== null && !WHEN_CONDITIONS[w.name]!.includes(key)) this.report(e, `unknown parameter '${key}' for when condition ${w.name} — expected one of ${WHEN_CONDITIONS[w.name]!.join(", ")}`);
    }
    return { kind: w.name as "branch", call: w, ...at };
  }

  private input(c: A.CallExpr): M.Input {
    const fields: Record<string, M.FieldValue> = {};
    let parameters: M.Directive[] = [];
    const allowed = ["message", "id", "ok", "submitter", "submitterParameter", "parameters"];
    for (const f of this.calls(this.block(c), "input", "message '…', ok '…', submitter '…' or parameters { … }")) {
      if (f.name === "parameters") { parameters = this.vocabulary(f, DECLARATIVE_PARAMETERS, "parameter type"); continue; }
      if (!allowed.includes(f.name)) { this.report(f, `unknown input field '${f.name}' — expected one of ${allowed.join(", ")}`); continue; }
      const v = this.singleValue(f);
      if (v) fields[f.name] = { value: v, line: f.line, column: f.column };
    }
    if (!fields.message && c.closure) this.report(c, "input needs a message: input { message 'Deploy?' }");
    return { fields, parameters, line: c.line, column: c.column };
  }

  private post(c: A.CallExpr): M.Post {
    const blocks: M.PostBlock[] = [];
    const seen = new Map<string, unknown>();
    for (const p of this.calls(this.block(c), "post", `a condition (${POST_CONDITIONS.join(", ")})`)) {
      if (!(POST_CONDITIONS as readonly string[]).includes(p.name)) {
        this.report(p, `unknown post condition '${p.name}' — expected one of ${POST_CONDITIONS.join(", ")}`);
        continue;
      }
      this.once(seen, p, "post", true);
      blocks.push({ condition: p.name as PostCondition, steps: this.steps(p), line: p.line, column: p.column });
    }
    blocks.sort((a, b) => POST_CONDITIONS.indexOf(a.condition) - POST_CONDITIONS.indexOf(b.condition));
    return { blocks, line: c.line, column: c.column };
  }

  private matrix(c: A.CallExpr): M.Matrix {
    const seen = new Map<string, unknown>();
    const d = this.emptyDirectives();
    let axes: M.Axis[] = [];
    const excludes: M.ExcludeAxis[][] = [];
    let stages: M.Stage[] = [];
    for (const s of this.calls(this.block(c), "matrix", `a matrix section (${MATRIX_SECTIONS.join(", ")})`)) {
      if (this.directive(s, d, seen, "matrix", true)) continue;
      switch (s.name) {
        case "axes": axes = this.once(seen, s, "matrix", this.calls(this.block(s), "axes", "axis { name '…'; values … }").map((a) => this.axis(a, false))); break;
        case "excludes":
          for (const ex of this.calls(this.block(s), "excludes", "exclude { axis { … } }")) {
            if (ex.name !== "exclude") { this.report(ex, `unexpected '${ex.name}' in excludes — expected exclude { axis { … } }`); continue; }
            excludes.push(this.calls(this.block(ex), "exclude", "axis { name '…'; values … }").map((a) => this.axis(a, true)));
          }
          break;
        case "stages": stages = this.once(seen, s, "matrix", this.stages(s, true)); break;
        default: this.misplaced(s, "matrix", MATRIX_SECTIONS);
      }
    }
    if (axes.length === 0) this.report(c, "matrix needs axes { axis { name '…'; values '…', '…' } }");
    if (!seen.has("stages")) this.report(c, "matrix needs stages { stage('…') { … } }");
    return { axes, excludes, stages, directives: d, line: c.line, column: c.column };
  }

  private axis(a: A.CallExpr, inExclude: boolean): M.ExcludeAxis {
    let name = "";
    let values: A.Expression[] = [];
    let negated = false;
    if (a.name !== "axis") this.report(a, `unexpected '${a.name}' — expected axis { name '…'; values … }`);
    for (const f of this.calls(this.block(a), "axis", "name '…' and values '…', '…'")) {
      if (f.name === "name") name = literalString(f.args[0]) ?? (this.report(f, "axis name must be a string: name 'PLATFORM'"), "");
      else if (f.name === "values" || (inExclude && f.name === "notValues")) { values = f.args; negated = f.name === "notValues"; }
      else this.report(f, `unknown field '${f.name}' in axis — expected name and ${inExclude ? "values or notValues" : "values"}`);
    }
    if (!name) this.report(a, "axis needs a name: name 'PLATFORM'");
    if (values.length === 0) this.report(a, "axis needs values: values 'linux', 'windows'");
    return { name, values, negated, line: a.line, column: a.column };
  }
}
