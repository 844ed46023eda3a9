// Hand-written lexer for the Groovy 2.4 subset Jenkinsfiles use. Hand-written rather than a toolkit
// because the hard parts are context rules a grammar DSL does not express well: newlines matter
// except inside (…) and […], `/` is a regex after an operator but division after a value, and `${…}`
// holes in strings hold full expressions (with their own strings inside).
import type { Diagnostic } from "./diagnostics.ts";
import { KEYWORDS, type GStringPart, type Quote, type Token, type TokenKind } from "./tokens.ts";

/** Longest first, so `==~` wins over `==` and `..<` over `..`. */
const OPERATORS = [
  ">>>=", "...", "..<", "<=>", "==~", "**=", "<<=", ">>=", "===", "!==",
  "?.", "*.", ".&", "?:", "->", "..", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=",
  "&=", "|=", "^=", "=~", "**", "<<", "::",
  "+", "-", "*", "/", "%", "=", "<", ">", "!", "~", "?", ":", ".", ",", ";", "(", ")", "[", "]", "{", "}", "&", "|", "^", "@",
];

const SIMPLE_ESCAPES: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "'": "'", "\\": "\\", $: "$" };

/** After these, `/` starts a regex rather than dividing. */
const REGEX_AFTER_KEYWORDS = new Set(["return", "case", "in", "assert", "throw", "else", "instanceof", "as"]);
const VALUE_END_OPS = new Set([")", "]", "}", "++", "--"]);

export interface LexResult {
  readonly tokens: Token[];
  readonly diagnostics: Diagnostic[];
}

export function lex(file: string, text: string): LexResult {
  const lexer = new Lexer(file, text);
  const tokens = lexer.scan(false);
  return { tokens, diagnostics: lexer.diagnostics };
}

// ASCII first: the Unicode-class regex is only consulted for non-ASCII characters.
const isIdentStart = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_" || c === "$" || (c > "\x7f" && /\p{L}/u.test(c));
const isIdentPart = (c: string) => isIdentStart(c) || (c >= "0" && c <= "9") || (c > "\x7f" && /\p{N}/u.test(c));
const isDigit = (c: string) => c >= "0" && c <= "9";

class StopLexing extends Error {}

class Lexer {
  readonly diagnostics: Diagnostic[] = [];
  private pos = 0;
  private line = 1;
  private column = 1;
  private readonly file: string;
  private readonly src: string;

  constructor(file: string, src: string) {
    this.file = file;
    this.src = src;
    if (src.startsWith("\uFEFF")) this.pos = 1; // a byte-order mark is not code; columns start after it
    if (this.src.startsWith("#!", this.pos)) this.skipToLineEnd(); // shebang: `#!groovy`, `#!/usr/bin/env groovy`
  }

  /** Tokens until end of input, or, for a `${…}` hole, until its unmatched `}` (consumed). */
  scan(hole: boolean): Token[] {
    const out: Token[] = [];
    const brackets: string[] = [];
    const last = () => out[out.length - 1];
    const newlineCounts = () => brackets.length === 0 || brackets[brackets.length - 1] === "{";
    const pushNewline = (line: number, column: number) => {
      const prev = last();
      if (prev && prev.kind !== "nl" && newlineCounts()) out.push(this.token("nl", "\n", this.pos, line, column));
    };
    try {
      while (this.pos < this.src.length) {
        const c = this.src[this.pos]!;
        const next = this.src[this.pos + 1] ?? "";
        if (c === "\n") {
          pushNewline(this.line, this.column);
          this.advance(1);
          continue;
        }
        if (c === " " || c === "\t" || c === "\r" || c === "\f") { this.advance(1); continue; }
        if (c === "\\" && (next === "\n" || (next === "\r" && this.src[this.pos + 2] === "\n"))) {
          this.advance(next === "\n" ? 2 : 3); // explicit line continuation
          continue;
        }
        if (c === "/" && next === "/") { this.skipToLineEnd(); continue; }
        if (c === "/" && next === "*") {
          const [line, column] = [this.line, this.column];
          const close = this.src.indexOf("*/", this.pos + 2);
          if (close < 0) this.fail(line, column, "unterminated comment — expected '*/'");
          const body = this.src.slice(this.pos, close + 2);
          this.advance(body.length);
          if (body.includes("\n")) pushNewline(line, column);
          continue;
        }
        const startLine = this.line;
        const startColumn = this.column;
        const start = this.pos;
        if (c === "'" || c === '"') { out.push(this.quoted(c)); continue; }
        if (c === "$" && next === "/") { out.push(this.slashy("$/")); continue; }
        if (c === "/" && this.regexAllowed(last())) { out.push(this.slashy("/")); continue; }
        if (isIdentStart(c)) {
          let end = this.pos + 1;
          while (end < this.src.length && isIdentPart(this.src[end]!)) end++;
          const word = this.src.slice(this.pos, end);
          this.advance(word.length);
          // After `.` every word is a member name (`x.class`, `m.default`), never a keyword.
          const afterDot = last()?.kind === "op" && [".", "?.", "*."].includes(last()!.text);
          const kind: TokenKind = KEYWORDS.has(word) && !afterDot ? "keyword" : "ident";
          out.push(this.token(kind, word, start, startLine, startColumn));
          continue;
        }
        if (isDigit(c) || (c === "." && isDigit(next) && last()?.text !== ".")) { out.push(this.number()); continue; }
        const op = OPERATORS.find((o) => this.src.startsWith(o, this.pos));
        if (!op) {
          this.report(startLine, startColumn, `unexpected character '${c}'`);
          this.advance(1);
          continue;
        }
        if (op === "}" && hole && brackets.length === 0) {
          this.advance(1);
          out.push(this.token("eof", "}", start, startLine, startColumn));
          return out;
        }
        if (op === "(" || op === "[" || op === "{") brackets.push(op);
        else if (op === ")" || op === "]" || op === "}") brackets.pop();
        this.advance(op.length);
        out.push(this.token("op", op, start, startLine, startColumn));
      }
      if (hole) this.fail(this.line, this.column, "unterminated '${' in string — expected '}'");
    } catch (e) {
      if (!(e instanceof StopLexing) || hole) throw e;
      this.pos = this.src.length;
    }
    if (last()?.kind !== "nl" && out.length > 0) out.push(this.token("nl", "", this.pos, this.line, this.column));
    out.push(this.token("eof", "", this.pos, this.line, this.column));
    return out;
  }

  private regexAllowed(prev: Token | undefined): boolean {
    if (!prev || prev.kind === "nl") return true;
    if (prev.kind === "op") return !VALUE_END_OPS.has(prev.text);
    if (prev.kind === "keyword") return REGEX_AFTER_KEYWORDS.has(prev.text);
    return false;
  }

  private number(): Token {
    const [start, line, column] = [this.pos, this.line, this.column];
    const s = this.src;
    let i = this.pos;
    if (s[i] === "0" && /[xXbB]/.test(s[i + 1] ?? "")) {
      i += 2;
      while (i < s.length && /[0-9a-fA-F_]/.test(s[i]!)) i++;
    } else {
      while (i < s.length && (isDigit(s[i]!) || s[i] === "_")) i++;
      if (s[i] === "." && isDigit(s[i + 1] ?? "")) {
        i++;
        while (i < s.length && (isDigit(s[i]!) || s[i] === "_")) i++;
      }
      if (/[eE]/.test(s[i] ?? "") && /[-+0-9]/.test(s[i + 1] ?? "")) {
        i += 2;
        while (i < s.length && isDigit(s[i]!)) i++;
      }
    }
    if (/[lLgGiIdDfF]/.test(s[i] ?? "") && !isIdentPart(s[i + 1] ?? "")) i++;
    this.advance(i - this.pos);
    return this.token("number", s.slice(start, i), start, line, column);
  }

  /** `'…'`, `'''…'''`, `"…"`, `"""…"""`. */
  private quoted(q: "'" | '"'): Token {
    const [start, line, column] = [this.pos, this.line, this.column];
    const triple = this.src.startsWith(q.repeat(3), this.pos);
    const quote = (triple ? q.repeat(3) : q) as Quote;
    this.advance(quote.length);
    const interpolates = q === '"';
    const parts: GStringPart[] = [];
    let text = "";
    for (;;) {
      if (this.pos >= this.src.length) this.fail(line, column, `unterminated string — expected closing ${quote}`);
      const c = this.src[this.pos]!;
      if (this.src.startsWith(quote, this.pos)) { this.advance(quote.length); break; }
      if (c === "\n" && !triple) this.fail(line, column, `unterminated string — expected closing ${quote} before the end of the line (use ${q.repeat(3)} for several lines)`);
      if (c === "\\") { text += this.escape(); continue; }
      if (c === "$" && interpolates) {
        if (text) parts.push({ kind: "text", value: text });
        text = "";
        parts.push(this.hole(false));
        continue;
      }
      text += c;
      this.advance(1);
    }
    const raw = this.src.slice(start, this.pos);
    if (!interpolates || parts.length === 0) return this.token("string", raw, start, line, column, { value: text, quote });
    if (text) parts.push({ kind: "text", value: text });
    return this.token("gstring", raw, start, line, column, { parts, quote });
  }

  /** `/regex/` (only `\/` is an escape) and `$/…/$` (`$$` and `$/` escape); both interpolate `$`. */
  private slashy(quote: "/" | "$/"): Token {
    const [start, line, column] = [this.pos, this.line, this.column];
    this.advance(quote.length);
    const close = quote === "/" ? "/" : "/$";
    const parts: GStringPart[] = [];
    let text = "";
    for (;;) {
      if (this.pos >= this.src.length) this.fail(line, column, `unterminated ${quote === "/" ? "slashy string" : "dollar-slashy string"} — expected closing ${close}`);
      const c = this.src[this.pos]!;
      const next = this.src[this.pos + 1] ?? "";
      if (this.src.startsWith(close, this.pos)) { this.advance(close.length); break; }
      if (quote === "/" && c === "\\" && next === "/") { text += "/"; this.advance(2); continue; }
      if (quote === "$/" && c === "$" && (next === "$" || next === "/")) { text += next; this.advance(2); continue; }
      if (c === "$" && (next === "{" || isIdentStart(next))) {
        if (text) parts.push({ kind: "text", value: text });
        text = "";
        parts.push(this.hole(false));
        continue;
      }
      text += c;
      this.advance(1);
    }
    const raw = this.src.slice(start, this.pos);
    if (parts.length === 0) return this.token("string", raw, start, line, column, { value: text, quote });
    if (text) parts.push({ kind: "text", value: text });
    return this.token("gstring", raw, start, line, column, { parts, quote });
  }

  /** At `$` inside an interpolating string: `${expression}` or `$name.path`. */
  private hole(_slashy: boolean): GStringPart {
    const [line, column] = [this.line, this.column];
    const next = this.src[this.pos + 1] ?? "";
    if (next === "{") {
      this.advance(2);
      return { kind: "code", tokens: this.scan(true), braced: true, line, column };
    }
    if (!isIdentStart(next) || next === "$") {
      this.fail(line, column, `'$' in a "…" string must start \${expression} or $name — write \\$ for a literal dollar sign`);
    }
    this.advance(1);
    // `$a.b.c`: a dotted path of plain names; no calls, no indexing (as Groovy reads it).
    const tokens: Token[] = [];
    for (;;) {
      const [s, l, col] = [this.pos, this.line, this.column];
      let end = this.pos + 1;
      while (end < this.src.length && isIdentPart(this.src[end]!) && this.src[end] !== "$") end++;
      const word = this.src.slice(this.pos, end);
      this.advance(word.length);
      tokens.push(this.token("ident", word, s, l, col));
      if (this.src[this.pos] === "." && isIdentStart(this.src[this.pos + 1] ?? "") && this.src[this.pos + 1] !== "$") {
        tokens.push(this.token("op", ".", this.pos, this.line, this.column));
        this.advance(1);
        continue;
      }
      break;
    }
    tokens.push(this.token("eof", "", this.pos, this.line, this.column));
    return { kind: "code", tokens, braced: false, line, column };
  }

  /** At a backslash in a quoted string: the escaped text (Groovy's set, the same in all four quote forms). */
  private escape(): string {
    const [line, column] = [this.line, this.column];
    const c = this.src[this.pos + 1] ?? "";
    if (c in SIMPLE_ESCAPES) { this.advance(2); return SIMPLE_ESCAPES[c]!; }
    if (c === "\n") { this.advance(2); return ""; }
    if (c === "\r" && this.src[this.pos + 2] === "\n") { this.advance(3); return ""; }
    if (c === "u") {
      const hex = /^u+([0-9a-fA-F]{4})/.exec(this.src.slice(this.pos + 1, this.pos + 12));
      if (hex) { this.advance(1 + hex[0].length); return String.fromCharCode(parseInt(hex[1]!, 16)); }
    }
    const octal = /^[0-3]?[0-7]{1,2}|^[0-7]/.exec(this.src.slice(this.pos + 1, this.pos + 4));
    if (octal) { this.advance(1 + octal[0].length); return String.fromCharCode(parseInt(octal[0], 8)); }
    this.report(line, column, `unknown escape '\\${c}' in string — write '\\\\${c}' for a backslash followed by '${c}'`);
    this.advance(2);
    return c;
  }

  private skipToLineEnd(): void {
    const nl = this.src.indexOf("\n", this.pos);
    this.advance((nl < 0 ? this.src.length : nl) - this.pos);
  }

  private advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.src[this.pos] === "\n") { this.line++; this.column = 1; } else this.column++;
      this.pos++;
    }
  }

  private token(kind: TokenKind, text: string, start: number, line: number, column: number, extra?: Partial<Token>): Token {
    return { kind, text, offset: start, end: this.pos, line, column, ...extra };
  }

  private report(line: number, column: number, message: string): void {
    this.diagnostics.push({ file: this.file, line, column, message });
  }

  private fail(line: number, column: number, message: string): never {
    this.report(line, column, message);
    throw new StopLexing(message);
  }
}
