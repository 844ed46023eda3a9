// Methods on values — the GDK/JDK subset Jenkinsfiles call (strings, lists, maps, numbers). Methods
// taking closures call back into the interpreter through `call`, which is async because closure
// bodies may run steps.
import { Closure, Matcher, Pattern, PipelineError, equals, isMap, toStr, truthy, type GroovyMap, type Value } from "./values.ts";

export type CallClosure = (c: Closure, args: Value[]) => Promise<Value>;
type Method = (self: never, args: Value[], call: CallClosure) => Value | Promise<Value>;

/** Java's String.split: a regex, trailing empty strings dropped. */
function javaSplit(s: string, re: string): string[] {
  const parts = s.split(new RegExp(re));
  while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

function closureArg(args: Value[], method: string): Closure {
  const c = args[args.length - 1];
  if (!(c instanceof Closure)) throw new PipelineError(`${method} needs a closure`, "groovy.lang.MissingMethodException");
  return c;
}

/** Closures over maps receive (key, value) when they declare two parameters, else the entry. */
async function callEntry(c: Closure, k: Value, v: Value, call: CallClosure): Promise<Value> {
  return (c.params?.length ?? 1) >= 2 ? call(c, [k, v]) : call(c, [new Map<Value, Value>([["key", k], ["value", v]])]);
}

function compare(a: Value, b: Value): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return toStr(a) < toStr(b) ? -1 : toStr(a) > toStr(b) ? 1 : 0;
}

const OBJECT: Record<string, Method> = {
  toString: (s: Value) => toStr(s),
  equals: (s: Value, [o]) => equals(s, o ?? null),
  hashCode: (s: Value) => toStr(s).length,
  asBoolean: (s: Value) => truthy(s),
};

const STRING: Record<string, Method> = {
  trim: (s: string) => s.trim(),
  split: (s: string, [re]) => (re === undefined ? s.trim().split(/\s+/).filter(Boolean) : javaSplit(s, toStr(re ?? null))),
  tokenize: (s: string, [d]) => s.split(new RegExp(`[${(d === undefined ? " \t\n\r\f" : toStr(d ?? null)).replace(/[\]\\^-]/g, "\\$&")}]+`)).filter(Boolean),
  replace: (s: string, [a, b]) => s.split(toStr(a ?? null)).join(toStr(b ?? null)),
  replaceAll: (s: string, [re, r]) => s.replace(new RegExp(re instanceof Pattern ? re.regex.source : toStr(re ?? null), "g"), toStr(r ?? null)),
  replaceFirst: (s: string, [re, r]) => s.replace(new RegExp(toStr(re ?? null)), toStr(r ?? null)),
  contains: (s: string, [x]) => s.includes(toStr(x ?? null)),
  startsWith: (s: string, [x]) => s.startsWith(toStr(x ?? null)),
  endsWith: (s: string, [x]) => s.endsWith(toStr(x ?? null)),
  toLowerCase: (s: string) => s.toLowerCase(),
  toUpperCase: (s: string) => s.toUpperCase(),
  substring: (s: string, [a, b]) => s.substring(a as number, b === undefined ? undefined : (b as number)),
  size: (s: string) => s.length,
  length: (s: string) => s.length,
  isEmpty: (s: string) => s.length === 0,
  toInteger: (s: string) => {
    const n = Number.parseInt(s.trim(), 10);
    if (Number.isNaN(n) || !/^[-+]?\d+$/.test(s.trim())) throw new PipelineError(`For input string: "${s}"`, "java.lang.NumberFormatException");
    return n;
  },
  toBoolean: (s: string) => ["true", "y", "1"].includes(s.trim().toLowerCase()),
  isInteger: (s: string) => /^[-+]?\d+$/.test(s.trim()),
  isNumber: (s: string) => s.trim() !== "" && !Number.isNaN(Number(s.trim())),
  capitalize: (s: string) => s.charAt(0).toUpperCase() + s.slice(1),
  uncapitalize: (s: string) => s.charAt(0).toLowerCase() + s.slice(1),
  stripIndent: (s: string) => {
    const lines = s.split("\n");
    const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length);
    const cut = indents.length ? Math.min(...indents) : 0;
    return lines.map((l) => l.slice(Math.min(cut, /^[ \t]*/.exec(l)![0].length))).join("\n");
  },
  stripMargin: (s: string, [m]) => s.split("\n").map((l) => l.replace(new RegExp(`^[ \\t]*\\${m === undefined ? "|" : toStr(m ?? null)}`), "")).join("\n"),
  matches: (s: string, [re]) => new RegExp(`^(?:${re instanceof Pattern ? re.regex.source : toStr(re ?? null)})$`).test(s),
  indexOf: (s: string, [x]) => s.indexOf(toStr(x ?? null)),
  lastIndexOf: (s: string, [x]) => s.lastIndexOf(toStr(x ?? null)),
  charAt: (s: string, [i]) => s.charAt(i as number),
  readLines: (s: string) => javaSplit(s, "\\r?\\n"),
  padLeft: (s: string, [n, c]) => s.padStart(n as number, c === undefined ? " " : toStr(c ?? null)),
  padRight: (s: string, [n, c]) => s.padEnd(n as number, c === undefined ? " " : toStr(c ?? null)),
  multiply: (s: string, [n]) => s.repeat(n as number),
  reverse: (s: string) => [...s].reverse().join(""),
  take: (s: string, [n]) => s.slice(0, n as number),
  drop: (s: string, [n]) => s.slice(n as number),
  equalsIgnoreCase: (s: string, [o]) => s.toLowerCase() === toStr(o ?? null).toLowerCase(),
  toList: (s: string) => [...s],
  each: async (s: string, args, call) => { for (const ch of s) await call(closureArg(args, "each"), [ch]); return s; },
  format: (s: string, args) => { let i = 0; return s.replace(/%[sd]/g, () => toStr(args[i++] ?? null)); },
};

const LIST: Record<string, Method> = {
  size: (l: Value[]) => l.length,
  isEmpty: (l: Value[]) => l.length === 0,
  contains: (l: Value[], [x]) => l.some((y) => equals(y, x ?? null)),
  get: (l: Value[], [i]) => l[i as number] ?? null,
  getAt: (l: Value[], [i]) => l[(i as number) < 0 ? l.length + (i as number) : (i as number)] ?? null,
  first: (l: Value[]) => { if (!l.length) throw new PipelineError("Cannot access first() element from an empty List", "java.util.NoSuchElementException"); return l[0]!; },
  last: (l: Value[]) => { if (!l.length) throw new PipelineError("Cannot access last() element from an empty List", "java.util.NoSuchElementException"); return l[l.length - 1]!; },
  head: (l: Value[]) => l[0] ?? null,
  tail: (l: Value[]) => l.slice(1),
  join: (l: Value[], [sep]) => l.map(toStr).join(sep === undefined ? "" : toStr(sep ?? null)),
  add: (l: Value[], [x]) => { l.push(x ?? null); return true; },
  addAll: (l: Value[], [xs]) => { l.push(...(xs as Value[])); return true; },
  leftShift: (l: Value[], [x]) => { l.push(x ?? null); return l; },
  remove: (l: Value[], [i]) => (typeof i === "number" ? l.splice(i, 1)[0] ?? null : (() => { const k = l.findIndex((y) => equals(y, i ?? null)); if (k >= 0) l.splice(k, 1); return k >= 0; })()),
  clear: (l: Value[]) => { l.length = 0; return null; },
  indexOf: (l: Value[], [x]) => l.findIndex((y) => equals(y, x ?? null)),
  plus: (l: Value[], [x]) => (Array.isArray(x) ? [...l, ...x] : [...l, x ?? null]),
  minus: (l: Value[], [x]) => l.filter((y) => (Array.isArray(x) ? !x.some((z) => equals(y, z)) : !equals(y, x ?? null))),
  flatten: (l: Value[]) => (l as unknown[]).flat(Infinity) as Value[],
  reverse: (l: Value[]) => [...l].reverse(),
  unique: (l: Value[]) => { const out: Value[] = []; for (const x of l) if (!out.some((y) => equals(x, y))) out.push(x); l.splice(0, l.length, ...out); return l; },
  sort: async (l: Value[], args, call) => {
    const c = args[0];
    if (c instanceof Closure && (c.params?.length ?? 1) === 1) {
      const keyed = await Promise.all(l.map(async (x) => [await call(c, [x]), x] as const));
      keyed.sort((a, b) => compare(a[0], b[0]));
      l.splice(0, l.length, ...keyed.map((k) => k[1]));
    } else l.sort(compare);
    return l;
  },
  sum: (l: Value[]) => l.reduce<Value>((a, b) => (typeof a === "number" && typeof b === "number" ? a + b : toStr(a) + toStr(b)), l.length && typeof l[0] === "string" ? "" : 0),
  max: (l: Value[]) => l.reduce<Value>((a, b) => (a === null || compare(b, a) > 0 ? b : a), null),
  min: (l: Value[]) => l.reduce<Value>((a, b) => (a === null || compare(b, a) < 0 ? b : a), null),
  take: (l: Value[], [n]) => l.slice(0, n as number),
  drop: (l: Value[], [n]) => l.slice(n as number),
  subList: (l: Value[], [a, b]) => l.slice(a as number, b as number),
  toList: (l: Value[]) => [...l],
  each: async (l: Value[], args, call) => { const c = closureArg(args, "each"); for (const x of [...l]) await call(c, [x]); return l; },
  eachWithIndex: async (l: Value[], args, call) => { const c = closureArg(args, "eachWithIndex"); for (const [i, x] of [...l].entries()) await call(c, [x, i]); return l; },
  collect: async (l: Value[], args, call) => { const c = closureArg(args, "collect"); const out: Value[] = []; for (const x of l) out.push(await call(c, [x])); return out; },
  collectEntries: async (l: Value[], args, call) => {
    const c = closureArg(args, "collectEntries");
    const out: GroovyMap = new Map();
    for (const x of l) {
      const r = await call(c, [x]);
      if (isMap(r)) for (const [k, v] of r) out.set(k, v);
      else if (Array.isArray(r)) out.set(r[0] ?? null, r[1] ?? null);
    }
    return out;
  },
  find: async (l: Value[], args, call) => { const c = closureArg(args, "find"); for (const x of l) if (truthy(await call(c, [x]))) return x; return null; },
  findAll: async (l: Value[], args, call) => { const c = closureArg(args, "findAll"); const out: Value[] = []; for (const x of l) if (truthy(await call(c, [x]))) out.push(x); return out; },
  findIndexOf: async (l: Value[], args, call) => { const c = closureArg(args, "findIndexOf"); for (const [i, x] of l.entries()) if (truthy(await call(c, [x]))) return i; return -1; },
  any: async (l: Value[], args, call) => { const c = args[0]; for (const x of l) if (truthy(c instanceof Closure ? await call(c, [x]) : x)) return true; return false; },
  every: async (l: Value[], args, call) => { const c = args[0]; for (const x of l) if (!truthy(c instanceof Closure ? await call(c, [x]) : x)) return false; return true; },
  count: async (l: Value[], args, call) => { const c = args[0]; let n = 0; for (const x of l) if (c instanceof Closure ? truthy(await call(c, [x])) : equals(x, c ?? null)) n++; return n; },
  inject: async (l: Value[], args, call) => { const c = closureArg(args, "inject"); let acc: Value = args.length > 1 ? args[0]! : l[0] ?? null; for (const x of args.length > 1 ? l : l.slice(1)) acc = await call(c, [acc, x]); return acc; },
  groupBy: async (l: Value[], args, call) => { const c = closureArg(args, "groupBy"); const out: GroovyMap = new Map(); for (const x of l) { const k = await call(c, [x]); out.set(k, [...((out.get(k) as Value[]) ?? []), x]); } return out; },
};

const MAP: Record<string, Method> = {
  size: (m: GroovyMap) => m.size,
  isEmpty: (m: GroovyMap) => m.size === 0,
  get: (m: GroovyMap, [k, d]) => (m.has(k ?? null) ? m.get(k ?? null)! : d ?? null),
  getOrDefault: (m: GroovyMap, [k, d]) => (m.has(k ?? null) ? m.get(k ?? null)! : d ?? null),
  put: (m: GroovyMap, [k, v]) => { const old = m.get(k ?? null) ?? null; m.set(k ?? null, v ?? null); return old; },
  putAll: (m: GroovyMap, [o]) => { for (const [k, v] of o as GroovyMap) m.set(k, v); return null; },
  remove: (m: GroovyMap, [k]) => { const old = m.get(k ?? null) ?? null; m.delete(k ?? null); return old; },
  containsKey: (m: GroovyMap, [k]) => m.has(k ?? null),
  containsValue: (m: GroovyMap, [v]) => [...m.values()].some((x) => equals(x, v ?? null)),
  keySet: (m: GroovyMap) => [...m.keys()],
  values: (m: GroovyMap) => [...m.values()],
  entrySet: (m: GroovyMap) => [...m].map(([k, v]) => new Map<Value, Value>([["key", k], ["value", v]])),
  plus: (m: GroovyMap, [o]) => new Map([...m, ...(o as GroovyMap)]),
  each: async (m: GroovyMap, args, call) => { const c = closureArg(args, "each"); for (const [k, v] of [...m]) await callEntry(c, k, v, call); return m; },
  collect: async (m: GroovyMap, args, call) => { const c = closureArg(args, "collect"); const out: Value[] = []; for (const [k, v] of m) out.push(await callEntry(c, k, v, call)); return out; },
  collectEntries: async (m: GroovyMap, args, call) => {
    const c = closureArg(args, "collectEntries");
    const out: GroovyMap = new Map();
    for (const [k, v] of m) { const r = await callEntry(c, k, v, call); if (isMap(r)) for (const [a, b] of r) out.set(a, b); else if (Array.isArray(r)) out.set(r[0] ?? null, r[1] ?? null); }
    return out;
  },
  findAll: async (m: GroovyMap, args, call) => { const c = closureArg(args, "findAll"); const out: GroovyMap = new Map(); for (const [k, v] of m) if (truthy(await callEntry(c, k, v, call))) out.set(k, v); return out; },
  find: async (m: GroovyMap, args, call) => { const c = closureArg(args, "find"); for (const [k, v] of m) if (truthy(await callEntry(c, k, v, call))) return new Map<Value, Value>([["key", k], ["value", v]]); return null; },
  any: async (m: GroovyMap, args, call) => { const c = closureArg(args, "any"); for (const [k, v] of m) if (truthy(await callEntry(c, k, v, call))) return true; return false; },
  every: async (m: GroovyMap, args, call) => { const c = closureArg(args, "every"); for (const [k, v] of m) if (!truthy(await callEntry(c, k, v, call))) return false; return true; },
};

const NUMBER: Record<string, Method> = {
  toInteger: (n: number) => Math.trunc(n),
  intValue: (n: number) => Math.trunc(n),
  toLong: (n: number) => Math.trunc(n),
  abs: (n: number) => Math.abs(n),
  round: (n: number) => Math.round(n),
  intdiv: (n: number, [d]) => Math.trunc(n / (d as number)),
  times: async (n: number, args, call) => { const c = closureArg(args, "times"); for (let i = 0; i < n; i++) await call(c, [i]); return null; },
  upto: async (n: number, args, call) => { const c = closureArg(args, "upto"); for (let i = n; i <= (args[0] as number); i++) await call(c, [i]); return null; },
};

const MATCHER: Record<string, Method> = {
  find: (m: Matcher) => m.matches.length > 0,
  matches: (m: Matcher) => m.matches.length > 0,
  getCount: (m: Matcher) => m.matches.length,
};

const ERROR: Record<string, Method> = {
  getMessage: (e: PipelineError) => e.message,
  getLocalizedMessage: (e: PipelineError) => e.message,
  toString: (e: PipelineError) => toStr(e),
  getCause: () => null,
};

/** The method table for a value's kind, or null for kinds without built-in methods. */
function tableFor(self: Value): Record<string, Method> | null {
  if (typeof self === "string") return STRING;
  if (Array.isArray(self)) return LIST;
  if (self instanceof Map) return MAP;
  if (typeof self === "number") return NUMBER;
  if (self instanceof Matcher) return MATCHER;
  if (self instanceof PipelineError) return ERROR;
  return null;
}

/** Calls a built-in method; `undefined` when the value has no such method. */
export function callBuiltin(self: Value, name: string, args: Value[], call: CallClosure): Value | Promise<Value> | undefined {
  const table = tableFor(self);
  const m = (table && Object.hasOwn(table, name) ? table[name] : undefined) ?? (Object.hasOwn(OBJECT, name) ? OBJECT[name] : undefined);
  return m ? (m as (s: Value, a: Value[], c: CallClosure) => Value | Promise<Value>)(self, args, call) : undefined;
}
