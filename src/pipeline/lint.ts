// `berth lint` without the CLI: syntax, the declarative model, and every step, method and class a
// script calls resolved against the catalogue of what Berth implements — all before anything runs.
// Resolution is static and deliberately forgiving where Groovy is dynamic: a value whose type cannot
// be known (an object from `new` of an imported class, a `load`ed script) is not second-guessed.
import type * as A from "./ast.ts";
import { sortDiagnostics, type Diagnostic } from "./diagnostics.ts";
import { parse } from "./parser.ts";
import { buildDeclarative, findPipelineCall } from "./declarative.ts";
import type * as M from "./declarative-model.ts";
import { CLASSES, GLOBALS, STEPS, UNSUPPORTED_STEPS, VALUE_METHODS } from "./catalogue.ts";

export interface LintResult {
  readonly diagnostics: Diagnostic[];
  readonly script: A.Script;
  readonly pipeline: M.Pipeline | null;
}

export function lintSource(file: string, text: string): LintResult {
  const parsed = parse(file, text);
  if (parsed.diagnostics.length > 0) return { diagnostics: sortDiagnostics(parsed.diagnostics), script: parsed.script, pipeline: null };
  const declarative = buildDeclarative(parsed.script);
  const resolver = new Resolver(parsed.script);
  resolver.script(declarative.pipeline);
  return { diagnostics: sortDiagnostics([...declarative.diagnostics, ...resolver.diagnostics]), script: parsed.script, pipeline: declarative.pipeline };
}

/** Steps callable through `$class`-free names only inside specific contexts, never as statements. */
const ALWAYS_OK_CALLS = new Set(["script"]);

class Resolver {
  readonly diagnostics: Diagnostic[] = [];
  private readonly file: string;
  private readonly root: A.Script;
  private readonly methods = new Set<string>();
  private readonly variables = new Set<string>(["it", "args"]);
  /** Variables holding values whose methods cannot be known statically (user classes, loaded scripts). */
  private readonly opaque = new Set<string>();
  private readonly imported = new Set<string>();

  constructor(script: A.Script) {
    this.file = script.file;
    this.root = script;
    this.collect(script.body);
  }

  private report(at: { line: number; column: number }, message: string): void {
    this.diagnostics.push({ file: this.file, line: at.line, column: at.column, message });
  }

  /** First pass: methods (callable before their definition), every declared or assigned name, imports. */
  private collect(body: readonly A.Statement[]): void {
    const visit = (n: unknown): void => {
      if (!n || typeof n !== "object") return;
      if (Array.isArray(n)) { for (const x of n) visit(x); return; }
      const node = n as { kind?: string } & Record<string, unknown>;
      switch (node.kind) {
        case "MethodDecl": {
          const m = node as unknown as A.MethodDecl;
          this.methods.add(m.name);
          for (const p of m.params) this.variables.add(p.name);
          break;
        }
        case "Closure":
          for (const p of (node as unknown as A.ClosureExpr).params ?? []) this.variables.add(p.name);
          break;
        case "VarDecl":
          for (const d of (node as unknown as A.VarDecl).declarators) {
            this.variables.add(d.name);
            if (d.init && this.isOpaqueValue(d.init)) this.opaque.add(d.name);
          }
          break;
        case "Assign": {
          const a = node as unknown as A.AssignExpr;
          if (a.target.kind === "Identifier") {
            this.variables.add(a.target.name);
            if (this.isOpaqueValue(a.value)) this.opaque.add(a.target.name);
          }
          break;
        }
        case "ForIn": this.variables.add((node as unknown as A.ForInStatement).variable); break;
        case "Try": for (const c of (node as unknown as A.TryStatement).catches) this.variables.add(c.name); break;
        case "Import": {
          const i = node as unknown as A.ImportStatement;
          this.imported.add(i.alias ?? i.path.split(".").pop()!);
          this.imported.add(i.path);
          break;
        }
        default:
      }
      for (const k in node) {
        const v = node[k];
        if (v !== null && typeof v === "object") visit(v);
      }
    };
    visit(body);
  }

  private isOpaqueValue(e: A.Expression): boolean {
    if (e.kind === "New") return !Object.hasOwn(CLASSES, e.typeName);
    if (e.kind === "Call" && e.receiver === null) return e.name === "load" || e.name === "library";
    return false;
  }

  script(pipeline: M.Pipeline | null): void {
    const pipelineCall = findPipelineCall(this.root);
    this.statements(this.root.body.filter((s) => !(pipelineCall && s.kind === "ExpressionStatement" && s.expression === pipelineCall)));
    if (pipeline) this.pipeline(pipeline);
  }

  // ── declarative ────────────────────────────────────────────────────────────────────────────────

  private pipeline(p: M.Pipeline): void {
    if (p.agent) this.agent(p.agent);
    for (const e of p.environment) this.expression(e.value);
    for (const d of [...p.options, ...p.parameters, ...p.triggers, ...p.libraries]) this.directiveArgs(d);
    this.tools(p.tools);
    for (const s of p.stages) this.stage(s);
    if (p.post) this.post(p.post);
  }

  private agent(a: M.Agent): void {
    if (a.type === "docker" || a.type === "dockerfile") {
      this.report(a, `unsupported agent type '${a.type}' — Berth runs agents as Kubernetes pods; use agent { kubernetes { yaml '…' } }`);
      return;
    }
    if (a.type === "label") this.expression(a.label);
    if (a.type === "node") for (const f of Object.values(a.fields)) this.expression(f.value);
    if (a.type === "kubernetes") {
      for (const f of Object.values(a.options)) this.expression(f.value);
      for (const f of Object.values(a.containerTemplate ?? {})) this.expression(f.value);
    }
  }

  private tools(tools: readonly M.Directive[]): void {
    for (const t of tools) this.report(t, `unsupported: tools { ${t.name} … } — Berth has no tool installers; run the step in a container whose image has the tool`);
  }

  private directiveArgs(d: M.Directive): void {
    for (const a of d.call.args) this.expression(a);
    for (const e of d.call.named) this.expression(e.value);
    if (d.call.closure) this.statements(d.call.closure.body);
  }

  private stage(s: M.Stage): void {
    this.expression(s.name);
    this.directives(s);
    const body = s.body;
    if (!body) return;
    if (body.kind === "steps") this.steps(body.steps);
    else if (body.kind === "stages" || body.kind === "parallel") for (const c of body.stages) this.stage(c);
    else {
      for (const a of body.matrix.axes) for (const v of a.values) this.expression(v);
      this.directives(body.matrix.directives);
      for (const c of body.matrix.stages) this.stage(c);
    }
  }

  private directives(d: M.StageDirectives): void {
    if (d.agent) this.agent(d.agent);
    for (const e of d.environment) this.expression(e.value);
    for (const o of d.options) this.directiveArgs(o);
    this.tools(d.tools);
    if (d.when) this.when(d.when.conditions);
    if (d.input) {
      for (const f of Object.values(d.input.fields)) this.expression(f.value);
      for (const p of d.input.parameters) this.directiveArgs(p);
    }
    if (d.post) this.post(d.post);
  }

  private when(conditions: readonly M.WhenCondition[]): void {
    for (const c of conditions) {
      if ("children" in c) this.when(c.children);
      else if ("body" in c) this.statements(c.body.body);
      else {
        for (const a of c.call.args) this.expression(a);
        for (const e of c.call.named) this.expression(e.value);
      }
    }
  }

  private post(p: M.Post): void {
    for (const b of p.blocks) this.steps(b.steps);
  }

  private steps(b: M.StepsBlock): void {
    this.statements(b.statements);
  }

  // ── scripted code ──────────────────────────────────────────────────────────────────────────────

  private statements(list: readonly A.Statement[]): void {
    list.forEach((s, i) => {
      const previous = list[i - 1];
      const call = previous?.kind === "ExpressionStatement" && previous.expression.kind === "Call" ? previous.expression : null;
      if (s.kind === "Block" && call && !call.closure && STEPS[call.name]?.body) {
        this.report(s, `this '{' is not attached to '${call.name}' on the line before — put '{' on the same line as ${call.name}(…)`);
      }
      this.statement(s);
    });
  }

  private statement(s: A.Statement): void {
    switch (s.kind) {
      case "ExpressionStatement": this.expression(s.expression); break;
      case "VarDecl":
        for (const d of s.declarators) if (d.init) this.expression(d.init);
        if (s.init) this.expression(s.init);
        break;
      case "MethodDecl":
        for (const p of s.params) if (p.defaultValue) this.expression(p.defaultValue);
        this.statements(s.body);
        break;
      case "Block": this.statements(s.body); break;
      case "If":
        this.expression(s.test);
        this.statement(s.then);
        if (s.otherwise) this.statement(s.otherwise);
        break;
      case "ForIn": this.expression(s.iterable); this.statement(s.body); break;
      case "For":
        if (s.init) this.statement(s.init);
        if (s.test) this.expression(s.test);
        for (const u of s.update) this.expression(u);
        this.statement(s.body);
        break;
      case "While": this.expression(s.test); this.statement(s.body); break;
      case "Switch":
        this.expression(s.discriminant);
        for (const c of s.cases) {
          for (const t of c.tests) this.expression(t);
          this.statements(c.body);
        }
        break;
      case "Try":
        this.statements(s.body);
        for (const c of s.catches) this.statements(c.body);
        if (s.finally) this.statements(s.finally);
        break;
      case "Throw": this.expression(s.value); break;
      case "Return": if (s.value) this.expression(s.value); break;
      case "Assert": this.expression(s.test); if (s.message) this.expression(s.message); break;
      case "Annotated": this.statement(s.statement); break;
      case "Break": case "Continue": case "Import": case "Package": break;
    }
  }

  private expression(e: A.Expression): void {
    switch (e.kind) {
      case "Literal": case "This": case "ClassRef": case "Identifier": break;
      case "GString": for (const p of e.parts) if (typeof p !== "string") this.expression(p); break;
      case "List": for (const x of e.elements) this.expression(x); break;
      case "Map": for (const x of e.entries) { this.expression(x.key); this.expression(x.value); } break;
      case "Range": this.expression(e.from); this.expression(e.to); break;
      case "Property":
        this.receiver(e.object);
        if (typeof e.name !== "string") this.expression(e.name);
        break;
      case "Index": this.expression(e.object); this.expression(e.index); break;
      case "Call": this.call(e); break;
      case "Invoke":
        this.expression(e.target);
        this.arguments(e);
        break;
      case "New":
        if (!this.knownClass(e.typeName)) this.report(e, `unsupported class '${e.typeName}' — import it from a shared library or use maps and closures`);
        this.arguments(e);
        break;
      case "Closure":
        for (const p of e.params ?? []) if (p.defaultValue) this.expression(p.defaultValue);
        this.statements(e.body);
        break;
      case "Unary": this.expression(e.operand); break;
      case "Binary": this.expression(e.left); this.expression(e.right); break;
      case "Ternary": this.expression(e.test); this.expression(e.then); this.expression(e.otherwise); break;
      case "Elvis": this.expression(e.value); this.expression(e.fallback); break;
      case "Assign": this.expression(e.target); this.expression(e.value); break;
      case "Cast": case "InstanceOf": this.expression(e.value); break;
    }
  }

  private arguments(e: { args: A.Expression[]; named: A.MapEntry[]; closure?: A.ClosureExpr | null }): void {
    for (const a of e.args) this.expression(a);
    for (const n of e.named) { this.expression(n.key); this.expression(n.value); }
    if (e.closure) this.expression(e.closure);
  }

  /** Receivers of `.x`: an upper-case root that is not a variable must be a known or imported class. */
  private receiver(e: A.Expression): void {
    if (e.kind === "Identifier" && this.looksLikeClass(e.name) && !this.knownClass(e.name)) {
      this.report(e, `unsupported class '${e.name}' — not available to Berth pipelines`);
      return;
    }
    this.expression(e);
  }

  private looksLikeClass(name: string): boolean {
    return !this.variables.has(name) && /^[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*$/.test(name);
  }

  private knownClass(name: string): boolean {
    return Object.hasOwn(CLASSES, name) || this.imported.has(name) || Object.hasOwn(CLASSES, name.split(".").pop()!);
  }

  private call(c: A.CallExpr): void {
    this.arguments(c);
    if (c.receiver === null) return this.bareCall(c);
    this.receiver(c.receiver);
    const root = rootOf(c.receiver);
    if (root?.kind === "Identifier" && this.opaque.has(root.name)) return;
    // an unknown class at the root is already reported; its methods would only repeat that
    if (root?.kind === "Identifier" && this.looksLikeClass(root.name) && !this.knownClass(root.name)) return;
    if (c.receiver.kind === "This") {
      if (!this.methods.has(c.name) && !Object.hasOwn(STEPS, c.name)) this.report(c, `unsupported method 'this.${c.name}' — no method '${c.name}' is defined in this script`);
      return;
    }
    if (c.receiver.kind === "Identifier" && !this.variables.has(c.receiver.name)) {
      const name = c.receiver.name;
      if (Object.hasOwn(GLOBALS, name)) {
        if (!GLOBALS[name]!.includes(c.name) && !VALUE_METHODS.has(c.name)) this.report(c, `unsupported method '${name}.${c.name}'`);
        return;
      }
      if (this.imported.has(name)) return;
      if (Object.hasOwn(CLASSES, name)) {
        if (!CLASSES[name]!.includes(c.name)) this.report(c, `unsupported method '${name}.${c.name}'`);
        return;
      }
    }
    if (!VALUE_METHODS.has(c.name) && !this.methods.has(c.name)) this.report(c, `unsupported method '${c.name}'`);
  }

  private bareCall(c: A.CallExpr): void {
    if (this.variables.has(c.name) || this.methods.has(c.name) || ALWAYS_OK_CALLS.has(c.name)) return;
    const info = STEPS[c.name];
    if (!info) {
      const instead = Object.hasOwn(UNSUPPORTED_STEPS, c.name) ? ` — ${UNSUPPORTED_STEPS[c.name]}` : "";
      this.report(c, `unsupported step '${c.name}'${instead}`);
      return;
    }
    if (c.name === "parallel") return; // branch names are the named arguments
    for (const n of c.named) {
      const key = n.key.kind === "Literal" && typeof n.key.value === "string" ? n.key.value : null;
      if (key !== null && !info.params.includes(key) && key !== "$class") {
        this.report(n, `unknown parameter '${key}' for ${info.symbol ? "" : "step "}'${c.name}' — expected one of ${info.params.join(", ") || "(none)"}`);
      }
    }
    if (c.args.length > 1) this.report(c, `'${c.name}' takes named arguments (${info.params.join(", ")}), not ${c.args.length} positional ones`);
    else if (c.args.length === 1 && !info.sole && c.named.length === 0 && c.args[0]!.kind !== "Map") {
      this.report(c, `'${c.name}' takes named arguments (${info.params.join(", ") || "none"}), not a positional one`);
    }
    if (c.closure && !info.body) this.report(c.closure, `'${c.name}' does not take a block { … }`);
  }
}

function rootOf(e: A.Expression): A.Expression | null {
  let cur: A.Expression = e;
  for (;;) {
    if (cur.kind === "Property" || cur.kind === "Index") cur = cur.object;
    else if (cur.kind === "Call" && cur.receiver) cur = cur.receiver;
    else return cur;
  }
}
