// metadata.managedFields and server-side apply (reference §4.4): which field manager owns which
// fields, in the FieldsV1 form the real server writes (`{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":
// {".":{},"f:image":{}}}}}`). Pure functions; rest.ts calls them on every write that names a manager.
//
// The model, simplified from structured-merge-diff but with the same wire shape:
// - a field set is a tree; a node is a member when it is a leaf or has a "." child;
// - maps are granular (`f:<key>`); lists with a merge key are maps of items (`k:{...}`, keys as the
//   pod schema lists them); metadata.finalizers is a set (`v:<json>`); other lists are atomic;
// - an update (create, PUT, PATCH) gives its manager every field whose value it changed, and takes
//   those fields away from the other managers; removed fields leave every set;
// - an apply merges the configuration into the object; a field owned by another manager whose value
//   the apply would change is a conflict (409) unless `force`, which takes it over; fields the
//   manager applied before and leaves out now are removed unless someone else owns them too.
import { strategyAt } from "./patch.ts";
import { ApiError, type StatusCause } from "./status.ts";
import { deepClone, deepEqual, isRecord, type JsonRecord, type KubeObject } from "./types.ts";

export type FieldSet = { [element: string]: FieldSet };

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time?: string;
  fieldsType: "FieldsV1";
  fieldsV1: FieldSet;
  subresource?: string;
}

/** Metadata the server owns, never tracked (the real server strips the same fields). */
const UNTRACKED_METADATA = ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"];

/** List-map keys where server-side apply keys items by more than the strategic merge key. */
const LIST_MAP_KEYS: Record<string, string[]> = {
  "spec.containers.ports": ["containerPort", "protocol"],
  "spec.initContainers.ports": ["containerPort", "protocol"],
  "spec.ephemeralContainers.ports": ["containerPort", "protocol"],
  "spec.ports": ["port", "protocol"],
};
/** Key fields with a schema default, so an applied item without them matches the stored one. */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };

function listKind(path: string): string[] | "set" | undefined {
  const keys = LIST_MAP_KEYS[path];
  if (keys) return keys;
  const strategy = strategyAt(path);
  if (strategy?.primitive) return "set";
  return strategy?.mergeKey ? [strategy.mergeKey] : undefined;
}

function itemKey(item: JsonRecord, keys: string[]): string {
  const key: JsonRecord = {};
  for (const k of [...keys].sort()) {
    const value = item[k] ?? KEY_DEFAULTS[k];
    if (value !== undefined) key[k] = value;
  }
  return `k:${JSON.stringify(key)}`;
}

/** The part of an object that managers own: no apiVersion, kind or server-owned metadata. */
export function trackedView(obj: JsonRecord, part: "main" | "status" | "all"): JsonRecord {
  const view: JsonRecord = {};
  for (const [key, value] of Object.entries(obj)) {
    if (key === "apiVersion" || key === "kind" || value === undefined) continue;
    if (part === "main" && key === "status") continue;
    if (part === "status" && key !== "status") continue;
    if (key === "metadata" && isRecord(value)) {
      const metadata: JsonRecord = {};
      for (const [field, v] of Object.entries(value)) if (!UNTRACKED_METADATA.includes(field) && v !== undefined) metadata[field] = v;
      if (Object.keys(metadata).length > 0) view.metadata = metadata;
      continue;
    }
    view[key] = value;
  }
  return view;
}

function mapSet(obj: JsonRecord, path: string): FieldSet {
  const set: FieldSet = {};
  for (const key in obj) {
    const value = obj[key];
    if (value === undefined) continue;
    set[`f:${key}`] = valueSet(value, path === "" ? key : `${path}.${key}`);
  }
  return set;
}

function valueSet(value: unknown, path: string): FieldSet {
  if (isRecord(value)) return mapSet(value, path);
  if (!Array.isArray(value)) return {};
  const kind = listKind(path);
  if (kind === "set") {
    const set: FieldSet = {};
    for (const item of value) set[`v:${JSON.stringify(item)}`] = {};
    return set;
  }
  if (kind) {
    const set: FieldSet = {};
    for (const item of value) {
      if (!isRecord(item)) continue;
      const fields = mapSet(item, path);
      set[itemKey(item, kind)] = Object.keys(fields).length > 0 ? { ".": {}, ...fields } : {};
    }
    return set;
  }
  return {};
}

/** The field set of an object's tracked view. */
export function fieldsOf(view: JsonRecord): FieldSet {
  return mapSet(view, "");
}

// ------------------------------------------------------------------------------------------------
// Sets as lists of member paths

type Path = string[];

function members(set: FieldSet, prefix: Path = [], out: Path[] = []): Path[] {
  for (const [element, child] of Object.entries(set)) {
    if (element === ".") continue;
    const path = [...prefix, element];
    const keys = Object.keys(child);
    if (keys.length === 0 || "." in child) out.push(path);
    members(child, path, out);
  }
  return out;
}

const pathId = (path: Path): string => JSON.stringify(path);

function memberIds(set: FieldSet): Map<string, Path> {
  return new Map(members(set).map((p) => [pathId(p), p]));
}

function buildSet(paths: Iterable<Path>): FieldSet {
  const root: FieldSet = {};
  for (const path of paths) {
    let node = root;
    for (const element of path) node = node[element] ??= {};
    node["."] = {};
  }
  // A member without children is written as a bare leaf.
  const normalise = (node: FieldSet): void => {
    for (const child of Object.values(node)) {
      normalise(child);
      const keys = Object.keys(child);
      if (keys.length === 1 && keys[0] === ".") delete child["."];
    }
  };
  normalise(root);
  return root;
}

/** A path of a leaf member (a value, not a container of tracked fields). */
function isLeaf(set: FieldSet, path: Path): boolean {
  let node: FieldSet | undefined = set;
  for (const element of path) node = node?.[element];
  return node !== undefined && Object.keys(node).every((k) => k === ".");
}

// ------------------------------------------------------------------------------------------------
// Values at paths

function matchesKey(item: unknown, key: JsonRecord): boolean {
  return isRecord(item) && Object.entries(key).every(([k, v]) => deepEqual(item[k] ?? KEY_DEFAULTS[k], v));
}

function step(node: unknown, element: string): unknown {
  const value = element.slice(2);
  switch (element.slice(0, 2)) {
    case "f:":
      return isRecord(node) ? node[value] : undefined;
    case "k:": {
      const key = JSON.parse(value) as JsonRecord;
      return Array.isArray(node) ? node.find((item) => matchesKey(item, key)) : undefined;
    }
    case "v:": {
      const wanted = JSON.parse(value) as unknown;
      return Array.isArray(node) && node.some((item) => deepEqual(item, wanted)) ? wanted : undefined;
    }
    case "i:":
      return Array.isArray(node) ? node[Number(value)] : undefined;
    default:
      return undefined;
  }
}

export function valueAt(obj: unknown, path: Path): unknown {
  let node = obj;
  for (const element of path) {
    node = step(node, element);
    if (node === undefined) return undefined;
  }
  return node;
}

/** Removes the field or list item at a path, in place. */
function removeAt(obj: unknown, path: Path): void {
  const parent = valueAt(obj, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  const value = last.slice(2);
  if (last.startsWith("f:") && isRecord(parent)) delete parent[value];
  else if (Array.isArray(parent)) {
    const index = last.startsWith("k:")
      ? parent.findIndex((item) => matchesKey(item, JSON.parse(value) as JsonRecord))
      : last.startsWith("v:")
        ? parent.findIndex((item) => deepEqual(item, JSON.parse(value)))
        : Number(value);
    if (index >= 0) parent.splice(index, 1);
  }
}

/** `.spec.containers[name="main"].image`, as the real server prints a field path. */
export function formatPath(path: Path): string {
  return path
    .map((element) => {
      const value = element.slice(2);
      switch (element.slice(0, 2)) {
        case "f:":
          return `.${value}`;
        case "k:":
          return `[${Object.entries(JSON.parse(value) as JsonRecord).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}]`;
        case "v:":
          return `[=${value}]`;
        default:
          return `[${value}]`;
      }
    })
    .join("");
}

// ------------------------------------------------------------------------------------------------
// Updates and applies

export function entriesOf(obj: KubeObject): ManagedFieldsEntry[] {
  const entries = obj.metadata.managedFields;
  return Array.isArray(entries) ? (entries.filter((e) => isRecord(e) && typeof e.manager === "string" && isRecord(e.fieldsV1)) as unknown as ManagedFieldsEntry[]) : [];
}

function sameEntry(e: ManagedFieldsEntry, manager: string, operation: string, subresource: string | undefined): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? "") === (subresource ?? "");
}

function entry(manager: string, operation: "Apply" | "Update", apiVersion: string, time: string, fields: FieldSet, subresource: string | undefined): ManagedFieldsEntry {
  return { manager, operation, apiVersion, time, fieldsType: "FieldsV1", fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

/** An entry without some paths: itself, a reduced copy, or undefined when nothing is left. */
function reduce(e: ManagedFieldsEntry, paths: Set<string>): ManagedFieldsEntry | undefined {
  if (paths.size === 0) return e;
  const ids = memberIds(e.fieldsV1);
  const remaining = [...ids].filter(([id]) => !paths.has(id)).map(([, p]) => p);
  if (remaining.length === ids.size) return e;
  return remaining.length > 0 ? { ...e, fieldsV1: buildSet(remaining) } : undefined;
}

/**
 * The managed fields after a create, update or patch by `manager`: it owns every field it changed,
 * the others lose those, and removed fields leave every set.
 */
export function trackUpdate(entries: ManagedFieldsEntry[], before: JsonRecord | undefined, after: JsonRecord, manager: string, apiVersion: string, subresource: string | undefined, time: string): ManagedFieldsEntry[] {
  const part = subresource === "status" ? "status" : "all";
  if (!before && entries.length === 0) {
    // A create: the writer owns every field.
    const fields = fieldsOf(trackedView(after, part));
    return Object.keys(fields).length > 0 ? [entry(manager, "Update", apiVersion, time, fields, subresource)] : [];
  }
  const changed: Path[] = [];
  const removed: Path[] = [];
  diffMap(before ? trackedView(before, part) : {}, trackedView(after, part), "", [], changed, removed);
  if (changed.length === 0 && removed.length === 0) return entries;
  const touched = [...changed, ...removed];
  const own = entries.find((e) => sameEntry(e, manager, "Update", subresource));
  const result: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (e === own) {
      const fields = cloneSet(e.fieldsV1);
      for (const path of removed) removeMember(fields, path);
      for (const path of changed) addMember(fields, path);
      if (Object.keys(fields).length > 0) result.push(entry(manager, "Update", apiVersion, time, fields, subresource));
      continue;
    }
    let fields: FieldSet | undefined;
    for (const path of touched) {
      if (!hasMember(fields ?? e.fieldsV1, path)) continue;
      fields ??= cloneSet(e.fieldsV1);
      removeMember(fields, path);
    }
    if (!fields) result.push(e);
    else if (Object.keys(fields).length > 0) result.push({ ...e, fieldsV1: fields });
  }
  if (!own && changed.length > 0) {
    const fields: FieldSet = {};
    for (const path of changed) addMember(fields, path);
    result.push(entry(manager, "Update", apiVersion, time, fields, subresource));
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// The difference between two tracked views, walked once (an update must not cost a full set build)

const child = (schemaPath: string, key: string): string => (schemaPath === "" ? key : `${schemaPath}.${key}`);

/** The member paths of the node at `path` holding `value`: the node itself if a leaf, and below. */
function nodeMembers(value: unknown, schemaPath: string, path: Path, out: Path[]): void {
  const set = valueSet(value, schemaPath);
  if (Object.keys(set).length === 0) out.push(path);
  members(set, path, out);
}

function itemMembers(item: JsonRecord, schemaPath: string, path: Path, out: Path[]): void {
  out.push(path);
  members(mapSet(item, schemaPath), path, out);
}

/** A node whose shape changed: everything below is new, and what is no longer there is removed. */
function replaceNode(before: unknown, after: unknown, schemaPath: string, path: Path, changed: Path[], removed: Path[]): void {
  const now: Path[] = [];
  nodeMembers(after, schemaPath, path, now);
  changed.push(...now);
  if (before === undefined) return;
  const was: Path[] = [];
  nodeMembers(before, schemaPath, path, was);
  const ids = new Set(now.map(pathId));
  for (const p of was) if (!ids.has(pathId(p))) removed.push(p);
}

function diffMap(before: JsonRecord, after: JsonRecord, schemaPath: string, path: Path, changed: Path[], removed: Path[]): void {
  for (const key in after) {
    const value = after[key];
    if (value === undefined) continue;
    const old = before[key];
    if (old !== undefined && deepEqual(old, value)) continue;
    diffNode(old, value, child(schemaPath, key), [...path, `f:${key}`], changed, removed);
  }
  for (const key in before) {
    if (before[key] !== undefined && after[key] === undefined) nodeMembers(before[key], child(schemaPath, key), [...path, `f:${key}`], removed);
  }
}

function hasFields(value: JsonRecord): boolean {
  for (const key in value) if (value[key] !== undefined) return true;
  return false;
}

/** Two different values at one field. */
function diffNode(before: unknown, after: unknown, schemaPath: string, path: Path, changed: Path[], removed: Path[]): void {
  if (isRecord(after) && isRecord(before) && hasFields(after) && hasFields(before)) {
    diffMap(before, after, schemaPath, path, changed, removed);
    return;
  }
  const kind = Array.isArray(after) && Array.isArray(before) ? listKind(schemaPath) : undefined;
  if (!kind || !Array.isArray(after) || !Array.isArray(before)) {
    replaceNode(before, after, schemaPath, path, changed, removed);
    return;
  }
  // A list with no tracked items is itself a leaf member: a change to or from that is a new shape.
  const tracked = (list: unknown[]): number => (kind === "set" ? list.length : list.filter(isRecord).length);
  if (tracked(after) === 0 || tracked(before) === 0) {
    replaceNode(before, after, schemaPath, path, changed, removed);
    return;
  }
  if (kind === "set") {
    for (const item of after) if (!before.some((old) => deepEqual(old, item))) changed.push([...path, `v:${JSON.stringify(item)}`]);
    for (const item of before) if (!after.some((now) => deepEqual(now, item))) removed.push([...path, `v:${JSON.stringify(item)}`]);
    return;
  }
  const oldItems = new Map<string, JsonRecord>();
  // With duplicate keys (which validation should refuse) the first item counts, as in valueAt.
  for (const item of before) {
    if (!isRecord(item)) continue;
    const key = itemKey(item, kind);
    if (!oldItems.has(key)) oldItems.set(key, item);
  }
  const seen = new Set<string>();
  for (const item of after) {
    if (!isRecord(item)) continue;
    const key = itemKey(item, kind);
    if (seen.has(key)) continue;
    seen.add(key);
    const old = oldItems.get(key);
    if (old && deepEqual(old, item)) continue;
    const itemPath = [...path, key];
    if (!old) {
      if (hasFields(item)) itemMembers(item, schemaPath, itemPath, changed);
      else changed.push(itemPath);
      continue;
    }
    changed.push(itemPath);
    diffMap(old, item, schemaPath, itemPath, changed, removed);
  }
  for (const [key, old] of oldItems) if (!seen.has(key)) itemMembers(old, schemaPath, [...path, key], removed);
}

// ------------------------------------------------------------------------------------------------
// Field sets changed in place, one member at a time

function cloneSet(set: FieldSet): FieldSet {
  return JSON.parse(JSON.stringify(set)) as FieldSet;
}

function hasMember(set: FieldSet, path: Path): boolean {
  let node: FieldSet | undefined = set;
  for (const element of path) {
    node = node[element];
    if (!node) return false;
  }
  const keys = Object.keys(node);
  return keys.length === 0 || "." in node;
}

function addMember(set: FieldSet, path: Path): void {
  let node = set;
  for (let i = 0; i < path.length; i++) {
    const element = path[i] as string;
    let next = node[element];
    if (!next) node[element] = next = {};
    // A leaf member that gains a child keeps its membership as ".".
    else if (i < path.length - 1 && Object.keys(next).length === 0) next["."] = {};
    node = next;
  }
  if (Object.keys(node).length > 0 && !("." in node)) node["."] = {};
}

function removeMember(set: FieldSet, path: Path): void {
  const stack: FieldSet[] = [set];
  let node = set;
  for (const element of path) {
    const next = node[element];
    if (!next) return;
    stack.push(next);
    node = next;
  }
  const keys = Object.keys(node);
  if (keys.length > 0 && !("." in node)) return;
  if (keys.length > 1) {
    delete node["."];
    return;
  }
  // Delete the node, then the parents it leaves empty; a member parent left alone becomes a leaf.
  for (let i = path.length - 1; i >= 0; i--) {
    const parent = stack[i] as FieldSet;
    delete parent[path[i] as string];
    if (i === 0) return;
    const rest = Object.keys(parent);
    if (rest.length === 1 && rest[0] === ".") {
      delete parent["."];
      return;
    }
    if (rest.length > 0) return;
  }
}

export interface Conflict {
  manager: ManagedFieldsEntry;
  path: Path;
}

function describeManager(e: ManagedFieldsEntry): string {
  let text = JSON.stringify(e.manager);
  if (e.subresource) text += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === "Update") text += e.time ? ` using ${e.apiVersion} at ${e.time}` : ` using ${e.apiVersion}`;
  return text;
}

/** The 409 the real server answers a conflicting apply with; kubectl explains it from the causes. */
export function conflictError(conflicts: Conflict[]): ApiError {
  const causes: StatusCause[] = conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with ${describeManager(c.manager)}`, field: formatPath(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    const only = conflicts[0] as Conflict;
    message = `Apply failed with 1 conflict: conflict with ${describeManager(only.manager)}: ${formatPath(only.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const name = describeManager(c.manager);
      byManager.set(name, [...(byManager.get(name) ?? []), formatPath(c.path)]);
    }
    const lines: string[] = [];
    for (const name of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${name}:`);
      for (const path of byManager.get(name) ?? []) lines.push(`- ${path}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(409, "Conflict", message, { causes });
}

export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * `kubectl apply --server-side` after client-side `kubectl apply`: the real server lets the manager
 * "kubectl" take over, without conflicts, the fields the last-applied-configuration annotation names.
 */
function movesFromClientSideApply(conflicts: Conflict[], options: { manager: string; part: "main" | "status" | "all"; lastApplied?: JsonRecord }): boolean {
  if (options.manager !== "kubectl" || !options.lastApplied) return false;
  const allowed = memberIds(fieldsOf(trackedView(options.lastApplied, options.part)));
  return conflicts.every((c) => allowed.has(pathId(c.path)));
}

export interface ApplyResult {
  /** The live object with the configuration merged in and the manager's dropped fields removed. */
  object: JsonRecord;
  entries: ManagedFieldsEntry[];
}

/**
 * Server-side apply of `config` by `manager` onto `live` (both in the served form). `merge` merges a
 * configuration into an object (the strategic merge with the pod merge keys).
 */
export function applyConfiguration(
  entries: ManagedFieldsEntry[],
  live: JsonRecord,
  config: JsonRecord,
  options: { manager: string; force: boolean; apiVersion: string; subresource: string | undefined; time: string; part: "main" | "status" | "all"; lastApplied?: JsonRecord },
  merge: (live: JsonRecord, config: JsonRecord) => JsonRecord,
): ApplyResult {
  const { manager, subresource, part } = options;
  const configView = trackedView(config, part);
  const applied = fieldsOf(configView);
  const appliedIds = memberIds(applied);
  const forMerge: JsonRecord = subresource === "status" ? { status: config.status } : { ...config };
  if (part === "main") delete forMerge.status;
  if (isRecord(forMerge.metadata)) {
    const { managedFields: _ignored, ...metadata } = forMerge.metadata;
    forMerge.metadata = metadata;
  }
  const merged = merge(live, forMerge);
  const liveView = trackedView(live, part);
  const mergedView = trackedView(merged, part);
  const conflicts: Conflict[] = [];
  const conflicting = new Set<string>();
  for (const e of entries) {
    if (e.manager === manager) continue;
    const ids = memberIds(e.fieldsV1);
    for (const [id, path] of appliedIds) {
      if (!ids.has(id) || !isLeaf(applied, path)) continue;
      if (deepEqual(valueAt(liveView, path), valueAt(mergedView, path))) continue;
      conflicts.push({ manager: e, path });
      conflicting.add(id);
    }
  }
  if (conflicts.length > 0 && !options.force && !movesFromClientSideApply(conflicts, options)) throw conflictError(conflicts);
  const previous = entries.find((e) => sameEntry(e, manager, "Apply", subresource));
  const own = entry(manager, "Apply", options.apiVersion, options.time, applied, subresource);
  const result: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    const next = e === previous ? own : reduce(e, conflicting);
    if (next) result.push(next);
  }
  if (!previous) result.push(own);
  if (previous) {
    const shared = new Set(result.filter((e) => e !== own).flatMap((e) => [...memberIds(e.fieldsV1).keys()]));
    const dropped = members(previous.fieldsV1).filter((p) => !appliedIds.has(pathId(p)) && !shared.has(pathId(p)));
    // Deepest first, so removing an item does not hide the fields below it.
    for (const path of dropped.sort((x, y) => y.length - x.length)) removeAt(merged, path);
  }
  // kubectl's server-side apply keeps the client-side annotation in step, so both can be used.
  const annotations = isRecord(merged.metadata) && isRecord(merged.metadata.annotations) ? merged.metadata.annotations : undefined;
  if (options.manager === "kubectl" && options.lastApplied && annotations) {
    const copy = deepClone(config);
    if (isRecord(copy.metadata) && isRecord(copy.metadata.annotations)) {
      delete copy.metadata.annotations[LAST_APPLIED];
      if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
    }
    annotations[LAST_APPLIED] = `${JSON.stringify(copy)}\n`;
  }
  return { object: deepClone(merged), entries: result };
}

/** The managed fields of an object that an apply creates: the manager owns what it applied. */
export function applyCreateEntries(config: JsonRecord, manager: string, apiVersion: string, time: string, part: "main" | "status" | "all"): ManagedFieldsEntry[] {
  return [entry(manager, "Apply", apiVersion, time, fieldsOf(trackedView(config, part)), undefined)];
}

/** Whether two entry lists differ only in their timestamps (such a write is no change). */
export function sameIgnoringTimes(a: unknown, b: unknown): boolean {
  const strip = (list: unknown): unknown => (Array.isArray(list) ? list.map((e) => (isRecord(e) ? { ...e, time: undefined } : e)) : list);
  return deepEqual(strip(a), strip(b));
}
