// Runtime values of the interpreter and the Groovy rules on them that Jenkinsfiles rely on: truth,
// equality, string conversion. Strings are JS strings (GStrings are evaluated eagerly, the safe
// simplification the reference recommends), lists are arrays, maps are insertion-ordered `Map`s.
import type * as A from "../ast.ts";
import type { Scope } from "./scope.ts";

export type Value = null | boolean | number | string | Value[] | GroovyMap | Closure | Pattern | Matcher | GroovyObject | PipelineError | object;
export type GroovyMap = Map<Value, Value>;

/** A closure with the lexical scope it was created in; `params` null means the implicit `it`. */
export class Closure {
  readonly params: A.Parameter[] | null;
  readonly body: readonly A.Statement[];
  readonly scope: Scope;
  readonly name: string;

  constructor(params: A.Parameter[] | null, body: readonly A.Statement[], scope: Scope, name = "closure") {
    this.params = params;
    this.body = body;
    this.scope = scope;
    this.name = name;
  }
}

/** `~/re/`: a compiled pattern. */
export class Pattern {
  readonly regex: RegExp;
  constructor(source: string) {
    this.regex = new RegExp(source);
  }
}

/** `text =~ /re/`: true when found; `m[0][1]` gives group 1 of the first match. */
export class Matcher {
  readonly matches: string[][];
  constructor(text: string, source: string) {
    this.matches = [...text.matchAll(new RegExp(source, "g"))].map((m) => m.map((g) => g ?? null) as string[]);
  }
}

/** Objects with named properties the interpreter provides (currentBuild, exceptions' surface). */
export interface GroovyObject {
  readonly groovyClass: string;
  getProperty(name: string): Value | undefined;
  setProperty?(name: string, value: Value): boolean;
}

/**
 * An exception a script can catch. `javaClass` is what `catch (X e)` matches against:
 * `hudson.AbortException` for `error` and failed steps, `FlowInterruptedException` for aborts.
 */
export class PipelineError extends Error {
  readonly javaClass: string;
  readonly value: Value;
  readonly line: number;
  readonly column: number;

  constructor(message: string, javaClass = "java.lang.Exception", at: { line: number; column: number } = { line: 0, column: 0 }, value: Value = null) {
    super(message);
    this.name = "PipelineError";
    this.javaClass = javaClass;
    this.line = at.line;
    this.column = at.column;
    this.value = value;
  }
}

export function isMap(v: unknown): v is GroovyMap {
  return v instanceof Map;
}

/** Groovy truth: null, false, 0, '', empty list and empty map are false. */
export function truthy(v: Value): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (v instanceof Matcher) return v.matches.length > 0;
  return true;
}

/** Value equality as Groovy's `==`: numbers by value, lists and maps element-wise. */
export function equals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equals(x, b[i]!));
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !equals(v, b.get(k)!)) return false;
    return true;
  }
  return false;
}

/** `toString()` as Groovy prints values: `[a, b]`, `[k:v]`, `null`. */
export function toStr(v: Value): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(toStr).join(", ")}]`;
  if (v instanceof Map) return v.size === 0 ? "[:]" : `[${[...v].map(([k, x]) => `${toStr(k)}:${toStr(x)}`).join(", ")}]`;
  if (v instanceof PipelineError) return `${v.javaClass}: ${v.message}`;
  if (v instanceof Closure) return `${v.name}@closure`;
  if (v instanceof Pattern) return v.regex.source;
  if (typeof v === "object" && "groovyClass" in v) {
    const s = (v as GroovyObject).getProperty("toString");
    return typeof s === "string" ? s : (v as GroovyObject).groovyClass;
  }
  return String(v);
}

/** Map keys are normalised so `m["a"]`, `m.a` and `m."${'a'}"` meet (GStrings are already strings). */
export function mapKey(k: Value): Value {
  return k;
}

export function typeName(v: Value): string {
  if (v === null) return "null";
  if (typeof v === "string") return "java.lang.String";
  if (typeof v === "number") return Number.isInteger(v) ? "java.lang.Integer" : "java.math.BigDecimal";
  if (typeof v === "boolean") return "java.lang.Boolean";
  if (Array.isArray(v)) return "java.util.ArrayList";
  if (v instanceof Map) return "java.util.LinkedHashMap";
  if (v instanceof Closure) return "groovy.lang.Closure";
  if (v instanceof PipelineError) return v.javaClass;
  if (typeof v === "object" && "groovyClass" in v) return (v as GroovyObject).groovyClass;
  return "java.lang.Object";
}
