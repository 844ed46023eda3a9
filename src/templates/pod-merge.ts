// Combining two Pod manifests, parent first: how YAML fragments fold under `yamlMergeStrategy: merge`
// and how a template's fields take precedence over its YAML. Lists whose items have a natural key
// (containers, env, mounts, volumes, ports, pull secrets) merge item by item; objects merge key by key;
// anything else the child sets wins. The plugin keeps only the parent's value for most pod and container
// fields (restartPolicy, ports, probes, ...); Berth keeps the child's, see docs/templates.md.
import { NO_TRACE, childPath, type MergeTrace } from "./trace.ts";

export type JsonObject = { [key: string]: unknown };

// Keyed lists, by path with list keys erased (`spec.containers[].env`); init and ephemeral containers
// follow the rules of containers.
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

function ruleKey(path: string): string {
  return path.replace(/\[[^\]]*\]/g, "[]").replace(/^spec\.(initContainers|ephemeralContainers)\b/, "spec.containers");
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value counts as set unless it is absent, null, "" or an empty list. */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Combines a parent pod and a child pod; neither input is modified. */
export function combinePods(parent: JsonObject, child: JsonObject, trace: MergeTrace = NO_TRACE): JsonObject {
  return mergeObjects("", parent, child, trace);
}

function mergeObjects(path: string, parent: JsonObject, child: JsonObject, trace: MergeTrace): JsonObject {
  const out: JsonObject = {};
  for (const key of new Set([...Object.keys(parent), ...Object.keys(child)])) {
    const value = mergeValues(childPath(path, key), parent[key], child[key], trace);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function mergeValues(path: string, parent: unknown, child: unknown, trace: MergeTrace): unknown {
  if (!isSet(child)) {
    if (isSet(parent) || (parent !== undefined && child === undefined)) {
      trace.take(path, "parent");
      return parent;
    }
    if (child !== undefined) trace.take(path, "child");
    return child;
  }
  if (!isSet(parent)) {
    trace.take(path, "child");
    return child;
  }
  const rule = ruleKey(path);
  if (Array.isArray(parent) && Array.isArray(child)) {
    const key = KEYED_LISTS[rule];
    if (key) return mergeKeyedList(path, parent, child, key, trace);
    if (APPENDED_LISTS.has(rule)) {
      trace.take(path, "child");
      return [...parent, ...child.filter((c) => !parent.some((p) => same(p, c)))];
    }
  }
  if (isObject(parent) && isObject(child) && !ATOMIC_OBJECTS.has(rule)) return mergeObjects(path, parent, child, trace);
  trace.take(path, "child");
  if (!same(parent, child)) trace.shadow(path, parent);
  return child;
}

/** The key an item of the list at `listPath` is addressed by in paths, if that list is keyed. */
export function listItemKey(listPath: string, item: unknown): string | undefined {
  const key = KEYED_LISTS[ruleKey(listPath)];
  return key === undefined ? undefined : itemKey(item, key);
}

/** The field that holds an item's key in the list at `listPath`. */
export function listKeyField(listPath: string): string | undefined {
  return KEYED_LISTS[ruleKey(listPath)];
}

function itemKey(item: unknown, key: string): string | undefined {
  if (!isObject(item)) return undefined;
  const k = item[key];
  if (key === "containerPort" && k !== undefined) return `${String(k)}/${String(item["protocol"] ?? "TCP")}`;
  return k === undefined || k === null || k === "" ? undefined : String(k);
}

/** Parent items in place (merged with the child's item of the same key), then child-only items. */
function mergeKeyedList(path: string, parent: unknown[], child: unknown[], key: string, trace: MergeTrace): unknown[] {
  const out = new Map<string, unknown>();
  const unkeyed: unknown[] = [];
  for (const item of parent) {
    const k = itemKey(item, key);
    if (k === undefined) continue; // an item without its key cannot be addressed; Kubernetes would reject it anyway
    out.set(k, item);
    trace.take(`${path}[${k}]`, "parent");
  }
  for (const item of child) {
    const k = itemKey(item, key);
    if (k === undefined) {
      unkeyed.push(item);
      continue;
    }
    const existing = out.get(k);
    out.set(k, existing === undefined ? item : mergeValues(`${path}[${k}]`, existing, item, trace));
    if (existing === undefined) trace.take(`${path}[${k}]`, "child");
  }
  return [...out.values(), ...unkeyed];
}
