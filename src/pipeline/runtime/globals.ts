// The global variables a script sees besides its own: `env` (case-insensitive, layered), `currentBuild`
// (worsen-only result), and the few classes scripts call statically (UUID, Math, Integer, String).
import { randomUUID } from "node:crypto";
import { PipelineError, toStr, type GroovyObject, type Value } from "./values.ts";

/** Result order (hudson.model.Result): a build result only ever gets worse. */
export const RESULTS = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"] as const;
export type Result = (typeof RESULTS)[number];

export function worse(a: Result, b: Result): Result {
  return RESULTS.indexOf(a) >= RESULTS.indexOf(b) ? a : b;
}

/** Unknown result names count as FAILURE, as Jenkins' Result.fromString does. */
export function toResult(v: Value): Result {
  const s = toStr(v).toUpperCase();
  return (RESULTS as readonly string[]).includes(s) ? (s as Result) : "FAILURE";
}

export class CurrentBuild implements GroovyObject {
  readonly groovyClass = "org.jenkinsci.plugins.workflow.support.steps.build.RunWrapper";
  result: Result | null = null;
  displayName: string;
  description: string | null = null;
  private readonly number: number;
  private readonly started = Date.now();

  constructor(number: number) {
    this.number = number;
    this.displayName = `#${number}`;
  }

  /** Worsen-only, as WorkflowRun.setResult. */
  setResult(r: Result): void {
    this.result = this.result === null ? r : worse(this.result, r);
  }

  getProperty(name: string): Value | undefined {
    switch (name) {
      case "result": return this.result;
      case "currentResult": return this.result ?? "SUCCESS";
      case "number": return this.number;
      case "id": return String(this.number);
      case "displayName": return this.displayName;
      case "description": return this.description;
      case "duration": return Date.now() - this.started;
      case "durationString": return `${Math.round((Date.now() - this.started) / 1000)} sec`;
      case "startTimeInMillis": return this.started;
      case "previousBuild": return null;
      default: return undefined;
    }
  }

  setProperty(name: string, value: Value): boolean {
    if (name === "result") { this.setResult(toResult(value)); return true; }
    if (name === "displayName") { this.displayName = toStr(value); return true; }
    if (name === "description") { this.description = value === null ? null : toStr(value); return true; }
    return false;
  }
}

/** A class named in a script (`UUID.randomUUID()`), with its static methods and fields. */
export class ClassRef {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

type StaticMethod = (args: Value[]) => Value;
const STATICS: Record<string, Record<string, StaticMethod>> = {
  UUID: { randomUUID: () => randomUUID() },
  Math: {
    max: ([a, b]) => Math.max(a as number, b as number), min: ([a, b]) => Math.min(a as number, b as number),
    abs: ([a]) => Math.abs(a as number), round: ([a]) => Math.round(a as number), floor: ([a]) => Math.floor(a as number),
    ceil: ([a]) => Math.ceil(a as number), pow: ([a, b]) => (a as number) ** (b as number), random: () => Math.random(),
  },
  Integer: { parseInt: ([s]: Value[]) => parseIntStrict(toStr(s ?? null)), valueOf: ([s]: Value[]) => parseIntStrict(toStr(s ?? null)), toString: ([n]: Value[]) => toStr(n ?? null) },
  Long: { parseLong: ([s]: Value[]) => parseIntStrict(toStr(s ?? null)), valueOf: ([s]: Value[]) => parseIntStrict(toStr(s ?? null)) },
  String: { valueOf: ([v]: Value[]) => toStr(v ?? null), join: ([sep, xs]) => (xs as Value[]).map(toStr).join(toStr(sep ?? null)) },
  Boolean: { parseBoolean: ([s]: Value[]) => toStr(s ?? null).toLowerCase() === "true" },
  System: { currentTimeMillis: () => Date.now() },
};

function parseIntStrict(s: string): number {
  if (!/^[-+]?\d+$/.test(s.trim())) throw new PipelineError(`For input string: "${s}"`, "java.lang.NumberFormatException");
  return Number.parseInt(s, 10);
}

export const KNOWN_STATIC_CLASSES = new Set(Object.keys(STATICS));

export function callStatic(cls: ClassRef, name: string, args: Value[]): Value {
  const simple = cls.name.split(".").pop()!;
  const m = STATICS[simple]?.[name];
  if (!m) throw new PipelineError(`No signature of method: static ${cls.name}.${name}() is applicable`, "groovy.lang.MissingMethodException");
  return m(args);
}

export function staticField(cls: ClassRef, name: string): Value {
  const simple = cls.name.split(".").pop()!;
  if (simple === "Result" && (RESULTS as readonly string[]).includes(name)) return name;
  if (simple === "Integer" && name === "MAX_VALUE") return 2147483647;
  if (simple === "Integer" && name === "MIN_VALUE") return -2147483648;
  throw new PipelineError(`No such property: ${name} for class: ${cls.name}`, "groovy.lang.MissingPropertyException");
}
