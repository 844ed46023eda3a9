// Raw `yaml` fragments of templates: parsing them (errors point into the file the fragment came from)
// and folding them into one pod with the template's yamlMergeStrategy.
import { parseDocument } from "yaml";
import type { YamlFragment, YamlMergeStrategy } from "./model.ts";
import { TemplateError } from "./errors.ts";
import { combinePods, isObject, type JsonObject } from "./pod-merge.ts";
import { NO_TRACE, OriginMap, Provenance, RecordingMerge } from "./trace.ts";

// Fragments are parsed once per distinct text: templates are resolved again and again with the same YAML.
// Parsed pods are frozen so no later step can change the cached copy.
const parsed = new Map<string, JsonObject>();
const PARSE_CACHE_LIMIT = 1000;

export function parseFragment(fragment: YamlFragment): JsonObject {
  const cached = parsed.get(fragment.text);
  if (cached) return cached;
  const doc = parseDocument(fragment.text, { prettyErrors: false, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const [line, column] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [1, 1];
    throw new TemplateError(`invalid yaml in template '${fragment.template}': ${firstLine(error.message)}`, shiftPosition(fragment, line, column));
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (!isObject(value)) {
    throw new TemplateError(`yaml of template '${fragment.template}' must be a Pod (a mapping), not ${describe(value)}`, fragment.at);
  }
  if (value["kind"] !== undefined && value["kind"] !== "Pod") {
    throw new TemplateError(`yaml of template '${fragment.template}' has kind '${String(value["kind"])}'; only kind: Pod is accepted`, fragment.at);
  }
  deepFreeze(value);
  if (parsed.size >= PARSE_CACHE_LIMIT) parsed.delete(parsed.keys().next().value!);
  parsed.set(fragment.text, value);
  return value;
}

function shiftPosition(fragment: YamlFragment, line: number, column: number) {
  if (!fragment.at) return { file: `<yaml of ${fragment.template}>`, line, column };
  return { file: fragment.at.file, line: fragment.at.line + line - 1, column: fragment.at.column + column - 1 };
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

function describe(v: unknown): string {
  return Array.isArray(v) ? "a list" : typeof v === "string" ? "a string" : String(v);
}

function deepFreeze(v: unknown): void {
  if (typeof v !== "object" || v === null || Object.isFrozen(v)) return;
  Object.freeze(v);
  for (const child of Object.values(v)) deepFreeze(child);
}

export interface YamlPod {
  pod: JsonObject;
  provenance?: Provenance;
  notes: string[];
}

/**
 * One pod from all fragments of a template chain: `override` keeps only the last fragment (each
 * template's YAML replaces its parents'), `merge` folds them all, parent first.
 */
export function combineFragments(fragments: YamlFragment[], strategy: YamlMergeStrategy, trace: boolean): YamlPod {
  // The same chain is combined for every pod it builds; a pure function of the texts, so remember it,
  // by the (shared, resolved) list itself and by the texts.
  if (trace || fragments.length < 2) return combineUncached(fragments, strategy, trace);
  const byList = combinedByList.get(fragments);
  if (byList?.strategy === strategy) return byList.result;
  const key = `${strategy}\0${fragments.map((f) => f.text).join("\0")}`;
  let result = combined.get(key);
  if (!result) {
    result = combineUncached(fragments, strategy, trace);
    deepFreeze(result.pod);
    if (combined.size >= PARSE_CACHE_LIMIT) combined.delete(combined.keys().next().value!);
    combined.set(key, result);
  }
  combinedByList.set(fragments, { strategy, result });
  return result;
}

const combined = new Map<string, YamlPod>();
const combinedByList = new WeakMap<YamlFragment[], { strategy: YamlMergeStrategy; result: YamlPod }>();

function combineUncached(fragments: YamlFragment[], strategy: YamlMergeStrategy, trace: boolean): YamlPod {
  const notes: string[] = [];
  if (fragments.length === 0) return { pod: {}, notes };
  const used = strategy === "merge" ? fragments : fragments.slice(-1);
  if (strategy === "override" && fragments.length > 1) {
    const dropped = fragments.slice(0, -1).map((f) => `'${f.template}'`).join(", ");
    notes.push(`yamlMergeStrategy override: the yaml of ${dropped} is replaced by the yaml of '${fragments.at(-1)!.template}'`);
  }
  const originsOf = (f: YamlFragment) => new Provenance(new OriginMap({ template: f.template, via: "yaml" }));
  let pod = parseFragment(used[0]!);
  let provenance = trace ? originsOf(used[0]!) : undefined;
  for (const fragment of used.slice(1)) {
    const child = parseFragment(fragment);
    if (provenance) {
      const childProvenance = originsOf(fragment);
      const result = new Provenance(new OriginMap(childProvenance.origins.fallback), [...provenance.shadows]);
      pod = combinePods(pod, child, new RecordingMerge(provenance.origins, childProvenance.origins, result));
      provenance = result;
    } else {
      pod = combinePods(pod, child, NO_TRACE);
    }
  }
  return { pod, notes, ...(provenance ? { provenance } : {}) };
}
