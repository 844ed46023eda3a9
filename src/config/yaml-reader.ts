// Reading a YAML document node by node while keeping every node's file position, so that a wrong value
// is reported as `file:line:column: what is wrong` instead of a stack trace.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import type { SourcePosition } from "../templates/model.ts";
import { TemplateError } from "../templates/errors.ts";

export class ConfigError extends TemplateError {
  constructor(message: string, at?: SourcePosition) {
    super(message, at);
    this.name = "ConfigError";
  }
}

interface Source {
  file: string;
  text: string;
  lines: LineCounter;
}

/** One node of the document, with what it is (for messages) and where it is. */
export class YamlValue {
  readonly node: Node | null;
  readonly what: string;
  private readonly source: Source;

  constructor(node: Node | null, what: string, source: Source) {
    this.node = node;
    this.what = what;
    this.source = source;
  }

  static parse(text: string, file: string): YamlValue {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const source = { file, text, lines };
    const error = doc.errors[0];
    if (error) {
      const at = error.linePos?.[0] ?? { line: 1, col: 1 };
      throw new ConfigError(`invalid YAML: ${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`, { file, line: at.line, column: at.col });
    }
    return new YamlValue(doc.contents as Node | null, "the document", source);
  }

  get position(): SourcePosition {
    const offset = this.node?.range?.[0] ?? 0;
    const { line, col } = this.source.lines.linePos(offset);
    return { file: this.source.file, line, column: col };
  }

  /**
   * Where the text of a string value starts. For a block scalar (`yaml: |`) that is the first content line
   * at its indentation, so positions inside the text map back onto the file line for line.
   */
  get textPosition(): SourcePosition {
    const node = this.node;
    if (!isScalar(node) || (node.type !== "BLOCK_LITERAL" && node.type !== "BLOCK_FOLDED")) return this.position;
    const start = node.range?.[0] ?? 0;
    const nextLine = this.source.text.indexOf("\n", start) + 1;
    const indent = /^ */.exec(this.source.text.slice(nextLine))![0].length;
    const { line } = this.source.lines.linePos(nextLine);
    return { file: this.source.file, line, column: indent + 1 };
  }

  fail(message: string): never {
    throw new ConfigError(`${this.what}: ${message}`, this.position);
  }

  get isNull(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /** Entries of a mapping, in file order. */
  entries(): [string, YamlValue][] {
    if (this.isNull) return [];
    if (!isMap(this.node)) this.fail(`expected a mapping of fields, got ${this.kind()}`);
    return this.node.items.map((pair) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      return [key, new YamlValue(pair.value as Node | null, key, this.source)] as [string, YamlValue];
    });
  }

  /** Fields of a mapping; a field not in `known` is an error naming the fields that are. */
  fields(known: readonly string[], ignored: readonly string[] = []): Map<string, YamlValue> {
    const out = new Map<string, YamlValue>();
    for (const [key, value] of this.entries()) {
      if (ignored.includes(key)) continue;
      if (!known.includes(key)) {
        const hint = closest(key, known);
        throw new ConfigError(`${this.what}: unknown field '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}`, value.keyPosition(this, key));
      }
      out.set(key, value);
    }
    return out;
  }

  private keyPosition(parent: YamlValue, key: string): SourcePosition {
    if (isMap(parent.node)) {
      const pair = parent.node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      const offset = (pair?.key as Node | undefined)?.range?.[0];
      if (offset !== undefined) {
        const { line, col } = this.source.lines.linePos(offset);
        return { file: this.source.file, line, column: col };
      }
    }
    return this.position;
  }

  items(): YamlValue[] {
    if (this.isNull) return [];
    if (!isSeq(this.node)) this.fail(`expected a list, got ${this.kind()}`);
    return this.node.items.map((n, i) => new YamlValue(n as Node | null, `${this.what}[${i}]`, this.source));
  }

  isList(): boolean {
    return isSeq(this.node);
  }

  isMapping(): boolean {
    return isMap(this.node);
  }

  private scalar(): unknown {
    if (!isScalar(this.node)) this.fail(`expected a single value, got ${this.kind()}`);
    return this.node.value;
  }

  string(): string | undefined {
    if (this.isNull) return undefined;
    const v = this.scalar();
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
    return this.fail(`expected text, got ${JSON.stringify(v)}`);
  }

  requiredString(): string {
    const v = this.string();
    if (v === undefined || v.trim() === "") this.fail("a value is required");
    return v;
  }

  boolean(): boolean | undefined {
    if (this.isNull) return undefined;
    const v = this.scalar();
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    return this.fail(`expected true or false, got ${JSON.stringify(v)}`);
  }

  /** An integer; text holding an integer is accepted too (JCasC writes `containerCapStr: "10"`). */
  integer(): number | undefined {
    if (this.isNull) return undefined;
    const v = this.scalar();
    if (typeof v === "string" && v.trim() === "") return undefined;
    const n = typeof v === "number" ? v : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number.parseInt(v, 10) : NaN;
    if (!Number.isInteger(n)) this.fail(`expected a whole number, got ${JSON.stringify(v)}`);
    return n;
  }

  kind(): string {
    if (this.isNull) return "nothing";
    if (isMap(this.node)) return "a mapping";
    if (isSeq(this.node)) return "a list";
    return JSON.stringify((this.node as { value?: unknown }).value);
  }
}

/** The known name nearest to a misspelt one, if any is near enough to be a likely typo. */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
