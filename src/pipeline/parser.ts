// Recursive-descent parser (precedence climbing for operators) for the Groovy 2.4 subset Jenkinsfiles
// use. Written by hand because Groovy's command expressions (`git url: 'u', branch: 'b'`,
// `agent any`, `buildDiscarder logRotator(…)`) and trailing closures need token lookahead and
// "same line" rules that are simplest to state directly. Errors carry file:line:column, the
// offending token and what was expected; after one, the parser skips to the next statement and
// goes on, so a file yields all its syntax errors at once.
import type * as A from "./ast.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { PipelineSyntaxError } from "./diagnostics.ts";
import { lex } from "./lexer.ts";
import { MODIFIERS, PRIMITIVE_TYPES, describeToken, type Token } from "./tokens.ts";

export interface ParseResult {
  readonly script: A.Script;
  readonly diagnostics: Diagnostic[];
}

/** Parses a whole file; syntax errors come back as diagnostics next to the (partial) tree. */
export function parse(file: string, text: string): ParseResult {
  const { tokens, diagnostics } = lex(file, text);
  const parser = new Parser(file, tokens, diagnostics);
  const body = parser.parseScript();
  return { script: { kind: "Script", file, body }, diagnostics };
}

/** Parses or throws a PipelineSyntaxError with every problem found: nothing runs from a broken file. */
export function parseOrThrow(file: string, text: string): A.Script {
  const { script, diagnostics } = parse(file, text);
  if (diagnostics.length > 0) throw new PipelineSyntaxError(diagnostics);
  return script;
}

class ParseError extends Error {}

/** A name, a property or a call without a block yet: what a `{` on the next line attaches to at statement start. */
function takesAppendedBlock(e: A.Expression): boolean {
  if (e.kind === "Identifier") return true;
  if (e.kind === "Property") return typeof e.name === "string";
  if (e.kind === "Call") return !e.command && !e.closure;
  return e.kind === "Invoke" && !e.closure;
}

const MAX_ERRORS = 50;

/** Binary operators by binding power (higher binds tighter); assignment and ternary are handled apart. */
const BINARY: Record<string, number> = {
  "||": 3, "&&": 4, "|": 5, "^": 6, "&": 7,
  "==": 8, "!=": 8, "<=>": 8, "=~": 8, "==~": 8,
  "<": 9, "<=": 9, ">": 9, ">=": 9, in: 9, instanceof: 9, as: 9,
  "<<": 10, ">>": 10, ">>>": 10, "..": 10, "..<": 10,
  "+": 11, "-": 11, "*": 12, "/": 12, "%": 12, "**": 14,
};
const ASSIGNMENT = new Set(["=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^="]);
const UNARY_PREC = 13;

/** Groovy 3+ syntax Jenkins (Groovy 2.4) rejects, with what to write instead. */
const GROOVY3: Record<string, string> = {
  "===": "'===' is Groovy 3 syntax (Jenkins runs Groovy 2.4) — use '==' or is()",
  "!==": "'!==' is Groovy 3 syntax (Jenkins runs Groovy 2.4) — use '!=' or !is()",
  "::": "method references '::' are Groovy 3 syntax (Jenkins runs Groovy 2.4) — use a closure",
  ".&": "method pointers '.&' are not supported — use a closure",
  "...": "'...' is not Groovy (documentation elides code with it; write the code out)",
};

const MEMBER_OPS = new Set([".", "?.", "*."]);

class Parser {
  private i = 0;
  private readonly file: string;
  private readonly tokens: readonly Token[];
  private readonly diagnostics: Diagnostic[];

  constructor(file: string, tokens: readonly Token[], diagnostics: Diagnostic[]) {
    this.file = file;
    this.tokens = tokens;
    this.diagnostics = diagnostics;
  }

  parseScript(): A.Statement[] {
    return this.statements(null);
  }

  // ── token helpers ──────────────────────────────────────────────────────────────────────────────

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }
  private isOp(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === "op" && t.text === text;
  }
  private isKeyword(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === "keyword" && t.text === text;
  }
  private eatOp(text: string): boolean {
    if (!this.isOp(text)) return false;
    this.next();
    return true;
  }
  private expectOp(text: string, expected = `'${text}'`): Token {
    if (!this.isOp(text)) this.fail(this.peek(), expected);
    return this.next();
  }
  private expectIdent(expected: string): Token {
    if (this.peek().kind !== "ident") this.fail(this.peek(), expected);
    return this.next();
  }
  private skipNewlines(): void {
    while (this.peek().kind === "nl") this.next();
  }
  /** Index of the next token after any newlines, without moving. */
  private afterNewlines(): number {
    let k = 0;
    while (this.peek(k).kind === "nl") k++;
    return k;
  }

  private fail(t: Token, expected: string): never {
    const special = t.kind === "op" ? GROOVY3[t.text] : undefined;
    throw this.error(t, special ?? `unexpected ${describeToken(t)} — expected ${expected}`);
  }
  private error(at: { line: number; column: number }, message: string): ParseError {
    if (this.diagnostics.length < MAX_ERRORS) this.diagnostics.push({ file: this.file, line: at.line, column: at.column, message });
    return new ParseError(message);
  }
  private pos(t: Token): { line: number; column: number } {
    return { line: t.line, column: t.column };
  }

  // ── statements ─────────────────────────────────────────────────────────────────────────────────

  /** Statements up to `}` (left for the caller) or end of file. */
  private statements(closer: "}" | null): A.Statement[] {
    const out: A.Statement[] = [];
    for (;;) {
      while (this.peek().kind === "nl" || this.isOp(";")) this.next();
      const t = this.peek();
      if (t.kind === "eof") return out; // a missing '}' is reported by whoever opened the block
      if (closer && this.isOp("}")) return out;
      if (!closer && this.isOp("}")) {
        this.error(t, `unexpected '}' — expected a statement (this '}' closes nothing)`);
        this.next();
        continue;
      }
      try {
        const statement = this.statement();
        const end = this.peek();
        if (!(end.kind === "nl" || end.kind === "eof" || this.isOp(";") || this.isOp("}"))) {
          this.fail(end, "end of statement (a new line or ';')");
        }
        out.push(statement);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        if (this.diagnostics.length >= MAX_ERRORS) { this.i = this.tokens.length - 1; return out; }
        this.synchronize();
      }
    }
  }

  /** After an error: skip to the end of the statement, staying inside the enclosing block. */
  private synchronize(): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === "eof") return;
      if (t.kind === "op") {
        if (t.text === "{" || t.text === "(" || t.text === "[") depth++;
        else if (t.text === "}" && depth === 0) return;
        else if (t.text === "}" || t.text === ")" || t.text === "]") depth = Math.max(0, depth - 1);
        else if (t.text === ";" && depth === 0) { this.next(); return; }
      }
      if (t.kind === "nl" && depth === 0) { this.next(); return; }
      this.next();
    }
  }

  private statement(): A.Statement {
    const t = this.peek();
    if (this.isOp("@")) return this.annotated();
    if (t.kind === "keyword") {
      switch (t.text) {
        case "import": return this.importStatement();
        case "package": {
          this.next();
          return { kind: "Package", name: this.qualifiedName(), ...this.pos(t) };
        }
        case "if": return this.ifStatement();
        case "for": return this.forStatement();
        case "while": {
          this.next();
          const test = this.parenthesized();
          return { kind: "While", test, body: this.body(), ...this.pos(t) };
        }
        case "switch": return this.switchStatement();
        case "try": return this.tryStatement();
        case "throw":
          this.next();
          return { kind: "Throw", value: this.expression(), ...this.pos(t) };
        case "return": {
          this.next();
          const end = this.peek();
          const bare = end.kind === "nl" || end.kind === "eof" || this.isOp(";") || this.isOp("}");
          return { kind: "Return", value: bare ? null : this.expression(), ...this.pos(t) };
        }
        case "break":
        case "continue": {
          this.next();
          const label = this.peek().kind === "ident" ? this.next().text : null;
          return t.text === "break" ? { kind: "Break", label, ...this.pos(t) } : { kind: "Continue", label, ...this.pos(t) };
        }
        case "assert": {
          this.next();
          const test = this.expression();
          const message = this.eatOp(":") || this.eatOp(",") ? this.expression() : null;
          return { kind: "Assert", test, message, ...this.pos(t) };
        }
        case "def":
          return this.declaration([]);
        case "class": case "interface": case "enum": case "trait":
          throw this.error(t, `'${t.text}' definitions are not supported in a Jenkinsfile — use methods and maps (shared-library src/ classes are not supported)`);
        case "do":
          throw this.error(t, "'do … while' is Groovy 3 syntax (Jenkins runs Groovy 2.4) — use 'while'");
        case "else":
          throw this.error(t, "unexpected 'else' — expected a statement (no 'if' before it)");
        case "case": case "default":
          throw this.error(t, `unexpected '${t.text}' — expected a statement ('${t.text}' belongs in a switch)`);
        default:
          if (MODIFIERS.has(t.text) || PRIMITIVE_TYPES.has(t.text)) return this.declaration([]);
      }
    }
    if (this.isOp("{")) {
      this.next();
      const body = this.statements("}");
      this.expectOp("}", `'}' to close the block opened at line ${t.line}`);
      return { kind: "Block", body, ...this.pos(t) };
    }
    if (t.kind === "ident" && this.isOp(":", 1)) {
      this.next(); // a label (`outer: for …`); Groovy keeps it for break/continue, we only accept it
      this.next();
      this.skipNewlines();
      return this.statement();
    }
    if (t.kind === "ident" && this.typedDeclarationAhead()) return this.declaration([]);
    return { kind: "ExpressionStatement", expression: this.commandOrExpression(), ...this.pos(t) };
  }

  private annotated(): A.Statement {
    const first = this.peek();
    const annotations: A.Annotation[] = [];
    while (this.isOp("@")) {
      const at = this.next();
      const name = this.qualifiedName();
      let args: A.Expression[] = [];
      let named: A.MapEntry[] = [];
      if (this.isOp("(")) ({ args, named } = this.callArguments());
      annotations.push({ name, args, named, ...this.pos(at) });
      this.skipNewlines();
    }
    const t = this.peek();
    const isDecl = (t.kind === "keyword" && (t.text === "def" || MODIFIERS.has(t.text) || PRIMITIVE_TYPES.has(t.text)))
      || (t.kind === "ident" && this.typedDeclarationAhead());
    if (isDecl) return this.declaration(annotations);
    return { kind: "Annotated", annotations, statement: this.statement(), ...this.pos(first) };
  }

  private importStatement(): A.ImportStatement {
    const t = this.next();
    const isStatic = this.isKeyword("static") ? (this.next(), true) : false;
    let path = this.expectIdent("a package or class name after 'import'").text;
    let wildcard = false;
    while (this.isOp(".")) {
      this.next();
      if (this.eatOp("*")) { wildcard = true; break; }
      path += `.${this.expectMemberName()}`;
    }
    const alias = this.isKeyword("as") ? (this.next(), this.expectIdent("an alias name after 'as'").text) : null;
    return { kind: "Import", path, isStatic, wildcard, alias, ...this.pos(t) };
  }

  private ifStatement(): A.IfStatement {
    const t = this.next();
    const test = this.parenthesized();
    const then = this.body();
    let otherwise: A.Statement | null = null;
    const k = this.afterNewlines();
    if (this.isKeyword("else", k) || (this.isOp(";", k) && this.isKeyword("else", k + 1))) {
      while (!this.isKeyword("else")) this.next();
      this.next();
      otherwise = this.body();
    }
    return { kind: "If", test, then, otherwise, ...this.pos(t) };
  }

  /** The body of if/for/while: a block, or one statement (possibly on the next line). */
  private body(): A.Statement {
    this.skipNewlines();
    const t = this.peek();
    if (this.isOp("{")) {
      this.next();
      const body = this.statements("}");
      this.expectOp("}", `'}' to close the block opened at line ${t.line}`);
      return { kind: "Block", body, ...this.pos(t) };
    }
    return this.statement();
  }

  private forStatement(): A.Statement {
    const t = this.next();
    this.expectOp("(", "'(' after 'for'");
    // for (x in xs) / for (String x in xs) / for (x : xs)
    let k = 0;
    if (this.isKeyword("def") || (this.peek().kind === "ident" && this.peek(1).kind === "ident")) k = 1;
    if (this.peek(k).kind === "ident" && (this.isKeyword("in", k + 1) || this.isOp(":", k + 1))) {
      const typeName = k === 1 ? this.next().text : null;
      const variable = this.next().text;
      this.next();
      const iterable = this.expression();
      this.expectOp(")", "')' to close the for header");
      return { kind: "ForIn", variable, typeName: typeName === "def" ? null : typeName, iterable, body: this.body(), ...this.pos(t) };
    }
    let init: A.Statement | null = null;
    if (!this.isOp(";")) {
      const s = this.peek();
      const isDecl = this.isKeyword("def") || (s.kind === "keyword" && PRIMITIVE_TYPES.has(s.text)) || (s.kind === "ident" && this.typedDeclarationAhead());
      init = isDecl ? this.declaration([]) : { kind: "ExpressionStatement", expression: this.expression(), ...this.pos(s) };
    }
    this.expectOp(";", "';' in the for header (for (init; test; update) or for (x in list))");
    const test = this.isOp(";") ? null : this.expression();
    this.expectOp(";", "';' in the for header");
    const update: A.Expression[] = [];
    while (!this.isOp(")")) {
      update.push(this.expression());
      if (!this.eatOp(",")) break;
    }
    this.expectOp(")", "')' to close the for header");
    return { kind: "For", init, test, update, body: this.body(), ...this.pos(t) };
  }

  private switchStatement(): A.SwitchStatement {
    const t = this.next();
    const discriminant = this.parenthesized();
    this.skipNewlines();
    this.expectOp("{", "'{' to open the switch body");
    const cases: A.SwitchCase[] = [];
    for (;;) {
      while (this.peek().kind === "nl" || this.isOp(";")) this.next();
      if (this.eatOp("}")) break;
      const c = this.peek();
      const tests: A.Expression[] = [];
      // several labels may share one body: `case 'a': case 'b': …`
      while (this.isKeyword("case") || this.isKeyword("default")) {
        if (this.next().text === "case") tests.push(this.expression());
        this.expectOp(":", "':' after the case label");
        while (this.peek().kind === "nl" || this.isOp(";")) this.next();
      }
      if (tests.length === 0 && c === this.peek()) this.fail(c, "'case', 'default' or '}' in a switch");
      const body: A.Statement[] = [];
      for (;;) {
        while (this.peek().kind === "nl" || this.isOp(";")) this.next();
        if (this.isKeyword("case") || this.isKeyword("default") || this.isOp("}") || this.peek().kind === "eof") break;
        body.push(this.statement());
      }
      cases.push({ tests, body, ...this.pos(c) });
    }
    return { kind: "Switch", discriminant, cases, ...this.pos(t) };
  }

  private tryStatement(): A.TryStatement {
    const t = this.next();
    const body = this.block("'{' after 'try'");
    const catches: A.CatchClause[] = [];
    let fin: A.Statement[] | null = null;
    for (;;) {
      const k = this.afterNewlines();
      if (this.isKeyword("catch", k)) {
        this.skipNewlines();
        const c = this.next();
        this.expectOp("(", "'(' after 'catch'");
        const types: string[] = [];
        let name: string;
        if (this.isKeyword("def")) this.next();
        if (this.peek().kind === "ident" && (this.isOp(")", 1))) {
          name = this.next().text;
        } else {
          types.push(this.typeName());
          while (this.eatOp("|")) types.push(this.typeName());
          name = this.expectIdent("the exception variable name").text;
        }
        this.expectOp(")", "')' to close the catch clause");
        catches.push({ types, name, body: this.block("'{' to open the catch block"), ...this.pos(c) });
        continue;
      }
      if (this.isKeyword("finally", k)) {
        this.skipNewlines();
        this.next();
        fin = this.block("'{' after 'finally'");
      }
      break;
    }
    if (catches.length === 0 && fin === null) this.fail(this.peek(), "'catch' or 'finally' after the try block");
    return { kind: "Try", body, catches, finally: fin, ...this.pos(t) };
  }

  private block(expected: string): A.Statement[] {
    this.skipNewlines();
    const open = this.expectOp("{", expected);
    const body = this.statements("}");
    this.expectOp("}", `'}' to close the block opened at line ${open.line}`);
    return body;
  }

  private parenthesized(): A.Expression {
    this.expectOp("(", "'('");
    const e = this.expression();
    this.expectOp(")", "')'");
    return e;
  }

  /** `Type name …` at statement start: an upper-case (or qualified, or primitive) type followed by a name. */
  private typedDeclarationAhead(): boolean {
    const end = this.scanType(0, true);
    return end > 0 && this.peek(end).kind === "ident" && !this.isOp(":", end + 1);
  }

  /**
   * Where a type written at token offset k ends, or -1. Groovy itself tells `Foo bar` (declaration)
   * from `foo bar` (command call) by the upper-case initial; qualified names need it on the last part.
   */
  private scanType(k: number, requireUpper: boolean): number {
    const t = this.peek(k);
    if (t.kind === "keyword" && PRIMITIVE_TYPES.has(t.text)) k++;
    else if (t.kind === "ident") {
      let last = t.text;
      k++;
      while (this.isOp(".", k) && this.peek(k + 1).kind === "ident") { last = this.peek(k + 1).text; k += 2; }
      if (requireUpper && !/^[A-Z]/.test(last)) return -1;
      if (this.isOp("<", k)) {
        let depth = 0;
        for (;;) {
          const g = this.peek(k);
          if (g.kind === "op" && g.text === "<") depth++;
          else if (g.kind === "op" && /^>+$/.test(g.text)) depth -= g.text.length;
          else if (!(g.kind === "ident" || (g.kind === "op" && [",", "?", ".", "[", "]"].includes(g.text)) || (g.kind === "keyword" && (g.text === "extends" || g.text === "super" || PRIMITIVE_TYPES.has(g.text))))) return -1;
          k++;
          if (depth <= 0) break;
        }
        if (depth < 0) return -1;
      }
    } else return -1;
    while (this.isOp("[", k) && this.isOp("]", k + 1)) k += 2;
    return k;
  }

  private typeName(): string {
    const end = this.scanType(0, false);
    if (end < 0) this.fail(this.peek(), "a type name");
    let name = "";
    for (let n = 0; n < end; n++) name += this.next().text;
    return name;
  }

  /** def/modifiers/type, then a method definition or one or more variables. */
  private declaration(annotations: A.Annotation[]): A.Statement {
    const first = this.peek();
    let sawDef = false;
    while (this.peek().kind === "keyword" && (MODIFIERS.has(this.peek().text) || this.peek().text === "def")) {
      if (this.next().text === "def") sawDef = true;
    }
    if (this.isOp("(")) return this.destructuring(first, annotations);
    let typeName: string | null = null;
    const typeEnd = this.scanType(0, false);
    if (typeEnd > 0 && this.peek(typeEnd).kind === "ident") typeName = this.typeName();
    else if (!sawDef && this.peek().kind === "keyword" && PRIMITIVE_TYPES.has(this.peek().text)) typeName = this.next().text;
    const nameToken = this.peek();
    if (nameToken.kind !== "ident") this.fail(nameToken, sawDef || typeName ? "a variable or method name" : "a declaration");
    this.next();
    if (this.isOp("(")) return this.method(first, nameToken.text, typeName, annotations);
    const declarators: A.VarDecl["declarators"] = [];
    let name = nameToken;
    for (;;) {
      const init = this.eatOp("=") ? (this.skipNewlines(), this.commandOrExpression()) : null;
      declarators.push({ name: name.text, init, ...this.pos(name) });
      if (!this.eatOp(",")) break;
      this.skipNewlines();
      name = this.expectIdent("another variable name after ','");
    }
    return { kind: "VarDecl", typeName, declarators, destructure: false, init: null, annotations, ...this.pos(first) };
  }

  private destructuring(first: Token, annotations: A.Annotation[]): A.VarDecl {
    this.next();
    const declarators: A.VarDecl["declarators"] = [];
    for (;;) {
      if (this.peek().kind === "ident" && this.peek(1).kind === "ident") this.typeName();
      const n = this.expectIdent("a variable name in def ( … )");
      declarators.push({ name: n.text, init: null, ...this.pos(n) });
      if (!this.eatOp(",")) break;
    }
    this.expectOp(")", "')' to close the variable list");
    this.expectOp("=", "'=' after def ( … )");
    this.skipNewlines();
    return { kind: "VarDecl", typeName: null, declarators, destructure: true, init: this.expression(), annotations, ...this.pos(first) };
  }

  private method(first: Token, name: string, returnType: string | null, annotations: A.Annotation[]): A.MethodDecl {
    this.expectOp("(");
    const params = this.parameters(")");
    this.expectOp(")", "')' to close the parameter list");
    if (this.isKeyword("throws")) {
      this.next();
      this.typeName();
      while (this.eatOp(",")) this.typeName();
    }
    const body = this.block(`'{' to open the body of method '${name}'`);
    return { kind: "MethodDecl", name, returnType, params, body, annotations, ...this.pos(first) };
  }

  /** `a, String b, c = 1, Map opts = [:]` up to `)` or `->` (not consumed). */
  private parameters(closer: ")" | "->"): A.Parameter[] {
    const params: A.Parameter[] = [];
    if (this.isOp(closer)) return params;
    for (;;) {
      if (this.isKeyword("final") || this.isKeyword("def")) this.next();
      const p = this.peek();
      let typeName: string | null = null;
      const end = this.scanType(0, false);
      if (end > 0 && (this.peek(end).kind === "ident" || this.isOp("...", end))) {
        typeName = this.typeName();
        if (this.eatOp("...")) typeName += "...";
      }
      const n = this.expectIdent("a parameter name");
      const defaultValue = this.eatOp("=") ? this.expression() : null;
      params.push({ name: n.text, typeName, defaultValue, ...this.pos(p) });
      if (!this.eatOp(",")) break;
      this.skipNewlines();
    }
    return params;
  }

  private qualifiedName(): string {
    let name = this.expectIdent("a name").text;
    while (this.isOp(".") && (this.peek(1).kind === "ident" || this.peek(1).kind === "keyword")) {
      this.next();
      name += `.${this.next().text}`;
    }
    return name;
  }

  private expectMemberName(): string {
    const t = this.peek();
    if (t.kind === "ident" || t.kind === "keyword") return this.next().text;
    this.fail(t, "a name after '.'");
  }

  // ── expressions ────────────────────────────────────────────────────────────────────────────────

  /**
   * A statement-level expression, where Groovy also accepts command calls without parentheses:
   * `sh 'x'`, `git url: u, branch: b`, `agent any`, `x = tool 'jdk'`, `stage 'old style'`.
   */
  private commandOrExpression(): A.Expression {
    const t = this.peek();
    if (t.kind !== "ident") return this.expression();
    const left = this.postfix(this.primary(), true);
    if ((left.kind === "Identifier" || (left.kind === "Property" && typeof left.name === "string")) && this.startsCommandArgument()) {
      let call = this.commandCall(left);
      // `a b c d` is `a(b).c(d)`: keep chaining while another name follows on the same line
      while (!call.closure && this.peek().kind === "ident") {
        const n = this.next();
        const member: A.PropertyExpr = { kind: "Property", object: call, name: n.text, safe: false, spread: false, ...this.pos(n) };
        if (!this.startsCommandArgument()) return this.postfix(member);
        call = this.commandCall(member);
      }
      return call;
    }
    return this.assignmentFrom(this.binaryFrom(left, 0));
  }

  private startsCommandArgument(): boolean {
    const t = this.peek();
    switch (t.kind) {
      case "ident": case "string": case "gstring": case "number": return true;
      case "keyword": return ["true", "false", "null", "this", "new"].includes(t.text);
      case "op": return t.text === "!" || t.text === "~";
      default: return false;
    }
  }

  private commandCall(callee: A.Identifier | A.PropertyExpr): A.CallExpr {
    const args: A.Expression[] = [];
    const named: A.MapEntry[] = [];
    for (;;) {
      this.argument(args, named);
      if (!this.eatOp(",")) break;
      this.skipNewlines();
    }
    const closure = this.isOp("{") ? this.closure() : null;
    return this.makeCall(callee, args, named, closure, true);
  }

  private makeCall(callee: A.Expression, args: A.Expression[], named: A.MapEntry[], closure: A.ClosureExpr | null, command: boolean): A.CallExpr {
    if (callee.kind === "Identifier") {
      return { kind: "Call", receiver: null, name: callee.name, args, named, closure, safe: false, spread: false, command, line: callee.line, column: callee.column };
    }
    if (callee.kind === "Property" && typeof callee.name === "string") {
      return { kind: "Call", receiver: callee.object, name: callee.name, args, named, closure, safe: callee.safe, spread: callee.spread, command, line: callee.line, column: callee.column };
    }
    throw this.error(callee, "internal: not a callable name");
  }

  /** One argument: `name: value` (named) or an expression (positional). */
  private argument(args: A.Expression[], named: A.MapEntry[]): void {
    const key = this.mapKeyAhead();
    if (key) {
      named.push(this.mapEntry());
      return;
    }
    args.push(this.expression());
  }

  /** Whether a `key:` starts here (bare name, keyword, string or number followed by ':'). */
  private mapKeyAhead(): boolean {
    const t = this.peek();
    const keyish = t.kind === "ident" || t.kind === "keyword" || t.kind === "string" || t.kind === "gstring" || t.kind === "number";
    if (keyish && this.isOp(":", 1)) return true;
    return this.isOp("(") && this.parenKeyAhead();
  }

  /** `(expr): value` map keys: a parenthesised group directly followed by ':'. */
  private parenKeyAhead(): boolean {
    let depth = 0;
    for (let k = 0; ; k++) {
      const t = this.peek(k);
      if (t.kind === "eof") return false;
      if (t.kind === "op" && (t.text === "(" || t.text === "[" || t.text === "{")) depth++;
      if (t.kind === "op" && (t.text === ")" || t.text === "]" || t.text === "}")) {
        depth--;
        if (depth === 0) return this.isOp(":", k + 1);
      }
    }
  }

  private mapEntry(): A.MapEntry {
    const t = this.peek();
    let key: A.Expression;
    if (this.isOp("(")) {
      this.next();
      key = this.expression();
      this.expectOp(")");
    } else if (t.kind === "gstring") {
      key = this.primary();
    } else {
      this.next();
      const value = t.kind === "string" ? t.value! : t.kind === "number" ? Number(t.text.replace(/[_lLgGiIdDfF]$/g, "")) : t.text;
      key = { kind: "Literal", value, raw: t.text, ...this.pos(t) };
    }
    this.expectOp(":");
    this.skipNewlines();
    return { key, value: this.expression(), ...this.pos(t) };
  }

  /** A full expression (no command calls; those only stand at statement level). */
  expression(): A.Expression {
    return this.assignmentFrom(this.binaryFrom(this.unary(), 0));
  }

  private assignmentFrom(left: A.Expression): A.Expression {
    const t = this.peek();
    if (t.kind === "op" && t.text === "?") return this.ternaryFrom(left);
    if (t.kind === "op" && t.text === "?:") {
      this.next();
      this.skipNewlines();
      const fallback = this.assignmentFrom(this.binaryFrom(this.unary(), 0));
      return { kind: "Elvis", value: left, fallback, line: left.line, column: left.column };
    }
    if (t.kind === "op" && ASSIGNMENT.has(t.text)) {
      if (!(left.kind === "Identifier" || left.kind === "Property" || left.kind === "Index")) {
        throw this.error(t, `cannot assign to this expression — '${t.text}' needs a variable, property or index on its left`);
      }
      this.next();
      this.skipNewlines();
      const value = this.commandOrExpression();
      return { kind: "Assign", op: t.text, target: left, value, line: left.line, column: left.column };
    }
    return left;
  }

  private ternaryFrom(test: A.Expression): A.Expression {
    this.next();
    this.skipNewlines();
    const then = this.expression();
    this.skipNewlines();
    this.expectOp(":", "':' in the ternary expression (a ? b : c)");
    this.skipNewlines();
    const otherwise = this.expression();
    return { kind: "Ternary", test, then, otherwise, line: test.line, column: test.column };
  }

  private binaryFrom(left: A.Expression, minPrec: number): A.Expression {
    for (;;) {
      const t = this.peek();
      const op = t.kind === "op" || t.kind === "keyword" ? t.text : "";
      const prec = BINARY[op];
      if (prec === undefined || prec <= minPrec) return left;
      this.next();
      if (op === "instanceof" || op === "as") {
        const typeName = this.typeName();
        left = op === "as"
          ? { kind: "Cast", value: left, typeName, line: left.line, column: left.column }
          : { kind: "InstanceOf", value: left, typeName, line: left.line, column: left.column };
        continue;
      }
      this.skipNewlines();
      // `**` is right-associative; everything else groups to the left
      const right = this.binaryFrom(this.unary(), op === "**" ? prec - 1 : prec);
      left = op === ".." || op === "..<"
        ? { kind: "Range", from: left, to: right, exclusive: op === "..<", line: left.line, column: left.column }
        : { kind: "Binary", op, left, right, line: left.line, column: left.column };
    }
  }

  private unary(): A.Expression {
    const t = this.peek();
    if (t.kind === "op" && ["!", "-", "+", "~", "++", "--"].includes(t.text)) {
      this.next();
      const operand = this.binaryFrom(this.unary(), UNARY_PREC);
      if (t.text === "-" && operand.kind === "Literal" && typeof operand.value === "number") {
        return { ...operand, value: -operand.value, raw: `-${operand.raw}`, line: t.line, column: t.column };
      }
      return { kind: "Unary", op: t.text, operand, prefix: true, ...this.pos(t) };
    }
    if (this.isOp("(") && this.castAhead()) {
      this.next();
      const typeName = this.typeName();
      this.expectOp(")");
      return { kind: "Cast", value: this.unary(), typeName, ...this.pos(t) };
    }
    return this.postfix(this.primary());
  }

  /** `(String) x`, `(int) y`: a lone type in parentheses followed by something that starts a value. */
  private castAhead(): boolean {
    const end = this.scanType(1, true);
    const prim = this.peek(1).kind === "keyword" && PRIMITIVE_TYPES.has(this.peek(1).text);
    if (end < 0 && !prim) return false;
    const close = prim ? 2 : end;
    if (!this.isOp(")", close)) return false;
    const after = this.peek(close + 1);
    return after.kind === "ident" || after.kind === "string" || after.kind === "gstring" || after.kind === "number" || (after.kind === "op" && after.text === "(");
  }

  /**
   * Member access, calls, indexes and appended blocks after a primary. `statementStart`: this is the
   * first expression of a statement, where Groovy 2.4 also attaches a block that opens on a later line
   * (`node('linux')` then `{` alone on the next line; its grammar only warns). After a command call
   * (`node 'linux'`) it does not, and a block alone on a line is an error there.
   */
  private postfix(expr: A.Expression, statementStart = false): A.Expression {
    for (;;) {
      const t = this.peek();
      if (t.kind === "nl") {
        // a chain may continue on the next line: `foo\n  .bar()`
        const k = this.afterNewlines();
        if (this.peek(k).kind === "op" && MEMBER_OPS.has(this.peek(k).text)) { this.skipNewlines(); continue; }
        if (statementStart && this.isOp("{", k) && takesAppendedBlock(expr)) { this.skipNewlines(); continue; }
        return expr;
      }
      if (t.kind !== "op") return expr;
      if (MEMBER_OPS.has(t.text)) {
        this.next();
        this.skipNewlines();
        const n = this.peek();
        let name: string | A.Expression;
        if (n.kind === "ident" || n.kind === "keyword") name = this.next().text;
        else if (n.kind === "string") name = (this.next(), n.value!);
        else if (n.kind === "gstring") name = this.primary();
        else this.fail(n, "a property or method name after '.'");
        const prop: A.PropertyExpr = { kind: "Property", object: expr, name, safe: t.text === "?.", spread: t.text === "*.", ...this.pos(n) };
        expr = prop;
        if (typeof name === "string" && this.isOp("(")) expr = this.parenCall(prop);
        else if (typeof name === "string" && this.isOp("{")) expr = this.makeCall(prop, [], [], this.closure(), false);
        continue;
      }
      if (t.text === "(") {
        expr = this.parenCall(expr);
        continue;
      }
      if (t.text === "[") {
        this.next();
        const index = this.expression();
        let full = index;
        if (this.isOp(",")) {
          // `list[0, 2]` selects several; keep them as a list index
          const elements = [index];
          while (this.eatOp(",")) elements.push(this.expression());
          full = { kind: "List", elements, line: index.line, column: index.column };
        }
        this.expectOp("]", "']' to close the index");
        expr = { kind: "Index", object: expr, index: full, safe: false, line: expr.line, column: expr.column };
        continue;
      }
      if (t.text === "{" && (expr.kind === "Identifier" || (expr.kind === "Property" && typeof expr.name === "string"))) {
        expr = this.makeCall(expr, [], [], this.closure(), false);
        continue;
      }
      if (t.text === "{" && ((expr.kind === "Call" && !expr.command) || expr.kind === "Invoke") && !expr.closure) {
        expr = { ...expr, closure: this.closure() };
        continue;
      }
      if (t.text === "++" || t.text === "--") {
        this.next();
        expr = { kind: "Unary", op: t.text, operand: expr, prefix: false, line: expr.line, column: expr.column };
        continue;
      }
      if (t.text in GROOVY3 && t.text !== "...") this.fail(t, "");
      return expr;
    }
  }

  private parenCall(callee: A.Expression): A.Expression {
    const { args, named } = this.callArguments();
    const closure = this.isOp("{") ? this.closure() : null;
    if (callee.kind === "Identifier" || (callee.kind === "Property" && typeof callee.name === "string")) {
      return this.makeCall(callee, args, named, closure, false);
    }
    return { kind: "Invoke", target: callee, args, named, closure, line: callee.line, column: callee.column };
  }

  private callArguments(): { args: A.Expression[]; named: A.MapEntry[] } {
    this.expectOp("(");
    const args: A.Expression[] = [];
    const named: A.MapEntry[] = [];
    this.skipNewlines();
    while (!this.isOp(")")) {
      this.argument(args, named);
      this.skipNewlines();
      if (!this.eatOp(",")) break;
      this.skipNewlines();
    }
    this.expectOp(")", "',' or ')' in the argument list");
    return { args, named };
  }

  private primary(): A.Expression {
    const t = this.peek();
    switch (t.kind) {
      case "number":
        this.next();
        return { kind: "Literal", value: parseNumber(t.text), raw: t.text, ...this.pos(t) };
      case "string":
        this.next();
        return { kind: "Literal", value: t.value!, raw: t.text, ...this.pos(t) };
      case "gstring":
        this.next();
        return this.gstring(t);
      case "ident":
        this.next();
        return { kind: "Identifier", name: t.text, ...this.pos(t) };
      case "keyword":
        switch (t.text) {
          case "true": case "false":
            this.next();
            return { kind: "Literal", value: t.text === "true", raw: t.text, ...this.pos(t) };
          case "null":
            this.next();
            return { kind: "Literal", value: null, raw: t.text, ...this.pos(t) };
          case "this":
            this.next();
            return { kind: "This", ...this.pos(t) };
          case "new": return this.newExpression();
          case "default":
            // the pod retention symbol default() cannot be written in Groovy either
            if (this.isOp("(", 1)) throw this.error(t, "'default' is a Groovy keyword and cannot be called — for podRetention: default() leave podRetention out, it is the default");
            break;
          default:
            if (PRIMITIVE_TYPES.has(t.text) && this.isOp(".", 1)) {
              this.next();
              return { kind: "ClassRef", name: t.text, ...this.pos(t) };
            }
        }
        break;
      case "op":
        if (t.text === "(") {
          this.next();
          this.skipNewlines();
          const e = this.commandOrExpression();
          this.skipNewlines();
          this.expectOp(")", "')'");
          if (this.isOp("->")) throw this.error(this.peek(), "lambdas '(x) -> …' are Groovy 3 syntax (Jenkins runs Groovy 2.4) — use a closure { x -> … }");
          return e;
        }
        if (t.text === "[") return this.listOrMap();
        if (t.text === "{") return this.closure();
        break;
      default:
    }
    this.fail(t, "an expression");
  }

  private gstring(t: Token): A.GString {
    const parts: (string | A.Expression)[] = [];
    for (const p of t.parts!) {
      if (p.kind === "text") { parts.push(p.value); continue; }
      if (p.tokens.length === 1) { parts.push({ kind: "Literal", value: null, raw: "${}", line: p.line, column: p.column }); continue; }
      const sub = new Parser(this.file, p.tokens, this.diagnostics);
      try {
        sub.skipNewlines();
        const e = sub.commandOrExpression();
        sub.skipNewlines();
        if (sub.peek().kind !== "eof") sub.fail(sub.peek(), "'}' to close the ${…} in the string");
        parts.push(e);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        parts.push({ kind: "Literal", value: null, raw: "", line: p.line, column: p.column });
      }
    }
    return { kind: "GString", parts, ...this.pos(t) };
  }

  private newExpression(): A.NewExpr {
    const t = this.next();
    const typeName = this.typeName();
    if (this.isOp("[")) throw this.error(this.peek(), "array creation 'new T[n]' is not supported — use a list literal [ ]");
    if (!this.isOp("(")) this.fail(this.peek(), `'(' after 'new ${typeName}'`);
    const { args, named } = this.callArguments();
    return { kind: "New", typeName, args, named, ...this.pos(t) };
  }

  private listOrMap(): A.Expression {
    const t = this.next();
    this.skipNewlines();
    if (this.isOp(":") && this.isOp("]", 1)) {
      this.next();
      this.next();
      return { kind: "Map", entries: [], ...this.pos(t) };
    }
    if (this.eatOp("]")) return { kind: "List", elements: [], ...this.pos(t) };
    if (this.mapKeyAhead()) {
      const entries: A.MapEntry[] = [];
      for (;;) {
        this.skipNewlines();
        if (this.isOp("]")) break;
        if (!this.mapKeyAhead()) this.fail(this.peek(), "a map entry 'key: value'");
        entries.push(this.mapEntry());
        this.skipNewlines();
        if (!this.eatOp(",")) break;
      }
      this.skipNewlines();
      this.expectOp("]", "',' or ']' in the map");
      return { kind: "Map", entries, ...this.pos(t) };
    }
    const elements: A.Expression[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isOp("]")) break;
      elements.push(this.expression());
      this.skipNewlines();
      if (!this.eatOp(",")) break;
    }
    this.skipNewlines();
    this.expectOp("]", "',' or ']' in the list");
    return { kind: "List", elements, ...this.pos(t) };
  }

  private closure(): A.ClosureExpr {
    const t = this.expectOp("{");
    const params = this.closureParameters();
    const body = this.statements("}");
    this.expectOp("}", `'}' to close the block opened at line ${t.line}`);
    return { kind: "Closure", params, body, ...this.pos(t) };
  }

  /** `{ a, b -> …}` / `{ -> … }` / none (implicit `it`): try the parameter list, back off if no `->`. */
  private closureParameters(): A.Parameter[] | null {
    const start = this.i;
    this.skipNewlines();
    if (this.eatOp("->")) return [];
    if (this.peek().kind !== "ident" && !this.isKeyword("def") && !(this.peek().kind === "keyword" && PRIMITIVE_TYPES.has(this.peek().text))) {
      this.i = start;
      return null;
    }
    const saved = this.diagnostics.length;
    try {
      const params = this.parameters("->");
      if (this.eatOp("->")) return params;
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
    this.diagnostics.length = saved;
    this.i = start;
    return null;
  }
}

function parseNumber(raw: string): number {
  const hex = /^0[xX]/.test(raw);
  const text = raw.replace(/_/g, "").replace(hex ? /[lLgGiI]$/ : /[lLgGiIdDfF]$/, "");
  if (hex) return parseInt(text.slice(2), 16);
  if (/^0[bB]/.test(text)) return parseInt(text.slice(2), 2);
  return Number(text);
}
