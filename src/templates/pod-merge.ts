// Combining two Pod manifests, parent first: how YAML fragments fold under `yamlMergeStrategy: merge`
// and how a template's fields take precedence over its YAML. Lists whose items have a natural key
// (containers, env, mounts, volumes, ports, pull secrets) merge item by item; objects merge key by key;
// anything else the child sets wins. The plugin keeps only the parent's value for most pod and container
// fields (restartPolicy, ports, probes, ...); Berth keeps the child's, see docs/templates.md.
import { NO_TRACE, childPath, type MergeTrace } from "./trace.ts";

export type JsonObject = { [key: string]: unknown };

// Keyed lists, by rule key: the path with list keys erased (`spec.containers[].env`).
const KEYED_LISTS: Record<string, string> = {
  "spec.containers": "name",
  "spec.volumes": "name",
  "spec.imagePullSecrets": "name",
  "spec.containers[].env": "name",
  "spec.containers[].volumeMounts": "mountPath",
  "spec.containers[].volumeDevices": "devicePath",
  "spec.containers[].ports": "containerPort",
  "spec.containers[].resizePolicy": "resourceName",
  "spec.hostAliases": "ip",
  "spec.schedulingGates": "name",
  "spec.resourceClaims": "name",
};

// Lists where both sides' items are wanted: parent's then child's, without exact duplicates.
const APPENDED_LISTS = new Set(["spec.tolerations", "spec.containers[].envFrom", "spec.topologySpreadConstraints"]);

// Objects that are one choice among alternatives (a probe is exec OR httpGet OR tcpSocket): merging two
// of them key by key could build an invalid mix, so the child's replaces the parent's whole.
const ATOMIC_OBJECTS = new Set([
  "spec.containers[].livenessProbe",
  "spec.containers[].readinessProbe",
  "spec.containers[].startupProbe",
  "spec.containers[].lifecycle",
  "spec.volumes[]",
  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
]);

/**
 * The rule key of a child of the value whose rule key is `rule`: list keys are erased
 * (`spec.containers[].env`), and init and ephemeral containers follow the rules of containers.
 */
function childRule(rule: string, key: string): string {
  if (rule === "spec" && (key === "initContainers" || key === "ephemeralContainers")) return "spec.containers";
  return rule === "" ? key : `${rule}.${key}`;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value counts as set unless it is absent, null, "" or an empty list. */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);
}

/** Deep equality of JSON data. */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => same(a[k], b[k]));
}

/** A deep copy of plain JSON data; several times faster than structuredClone for it. */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  if (typeof value === "object" && value !== null) {
    const out: JsonObject = {};
    for (const key in value) out[key] = cloneJson((value as JsonObject)[key]);
    return out as T;
  }
  return value;
}

interface Merge {
  trace: MergeTrace;
  /** Copy what is taken whole from an input, so the result shares nothing with the inputs. */
  copy: boolean;
}

/**
 * Combines a parent pod and a child pod; neither input is modified. With `copy`, the result shares no
 * object with the inputs and may be changed freely (cheaper than merging, then cloning the result).
 */
export function combinePods(parent: JsonObject, child: JsonObject, trace: MergeTrace = NO_TRACE, copy = false): JsonObject {
  return mergeObjects("", "", parent, child, { trace, copy });
}

function taken<T>(m: Merge, value: T): T {
  return m.copy && typeof value === "object" && value !== null ? cloneJson(value) : value;
}

// `path` names the value for the trace (built only while tracing); `rule` selects how it merges.
function mergeObjects(path: string, rule: string, parent: JsonObject, child: JsonObject, m: Merge): JsonObject {
  const out: JsonObject = {};
  const tracing = m.trace.recording;
  for (const key in parent) {
    const value = mergeValues(tracing ? childPath(path, key) : "", childRule(rule, key), parent[key], child[key], m);
    if (value !== undefined) out[key] = value;
  }
  for (const key in child) {
    if (key in parent) continue;
    const value = mergeValues(tracing ? childPath(path, key) : "", childRule(rule, key), undefined, child[key], m);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function mergeValues(path: string, rule: string, parent: unknown, child: unknown, m: Merge): unknown {
  const trace = m.trace;
  if (!isSet(child)) {
    if (isSet(parent) || (parent !== undefined && child === undefined)) {
      trace.take(path, "parent");
      return taken(m, parent);
    }
    if (child !== undefined) trace.take(path, "child");
    return taken(m, child);
  }
  if (!isSet(parent)) {
    trace.take(path, "child");
    return taken(m, child);
  }
  if (Array.isArray(parent) && Array.isArray(child)) {
    const key = KEYED_LISTS[rule];
    if (key) return mergeKeyedList(path, rule, parent, child, key, m);
    if (APPENDED_LISTS.has(rule)) {
      trace.take(path, "child");
      return taken(m, [...parent, ...child.filter((c) => !parent.some((p) => same(p, c)))]);
    }
  }
  if (isObject(parent) && isObject(child) && !ATOMIC_OBJECTS.has(rule)) return mergeObjects(path, rule, parent, child, m);
  trace.take(path, "child");
  if (trace.recording && !same(parent, child)) trace.shadow(path, parent);
  return taken(m, child);
}

/** The key an item of the list at `listPath` is addressed by in paths, if that list is keyed. */
export function listItemKey(listPath: string, item: unknown): string | undefined {
  const key = listKeyField(listPath);
  return key === undefined ? undefined : itemKey(item, key);
}

/** The field that holds an item's key in the list at `listPath`. */
export function listKeyField(listPath: string): string | undefined {
  const rule = listPath.replace(/\[[^\]]*\]/g, "[]").replace(/^spec\.(initContainers|ephemeralContainers)\b/, "spec.containers");
  return KEYED_LISTS[rule];
}

function itemKey(item: unknown, key: string): string | undefined {
  if (!isObject(item)) return undefined;
  const k = item[key];
  if (key === "containerPort" && k !== undefined) return `${String(k)}/${String(item["protocol"] ?? "TCP")}`;
  return k === undefined || k === null || k === "" ? undefined : String(k);
}

/** Parent items in place (merged with the child's item of the same key), then child-only items. */
function mergeKeyedList(path: string, rule: string, parent: unknown[], child: unknown[], key: string, m: Merge): unknown[] {
  const out = new Map<string, unknown>();
  const unkeyed: unknown[] = [];
  const itemRule = `${rule}[]`;
  for (const item of parent) {
    const k = itemKey(item, key);
    if (k === undefined) continue; // an item without its key cannot be addressed; Kubernetes would reject it anyway
    out.set(k, item);
    m.trace.take(`${path}[${k}]`, "parent");
  }
  const merged = new Set<string>();
  for (const item of child) {
    const k = itemKey(item, key);
    if (k === undefined) {
      unkeyed.push(item);
      continue;
    }
    const existing = out.get(k);
    if (existing === undefined) {
      out.set(k, item);
      m.trace.take(`${path}[${k}]`, "child");
    } else {
      out.set(k, mergeValues(m.trace.recording ? `${path}[${k}]` : "", itemRule, existing, item, m));
      merged.add(k);
    }
  }
  const result: unknown[] = [];
  for (const [k, item] of out) result.push(merged.has(k) ? item : taken(m, item));
  for (const item of unkeyed) result.push(taken(m, item));
  return result;
}
