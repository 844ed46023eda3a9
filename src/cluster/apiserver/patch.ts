// The PATCH bodies the API server accepts (reference §4): JSON Patch (RFC 6902), JSON Merge Patch
// (RFC 7396) and Kubernetes' strategic merge patch. All functions are pure: they return a new
// document and never touch their inputs.
import { ApiError, badRequest } from "./status.ts";
import { deepClone, deepEqual, isRecord, type JsonRecord } from "./types.ts";

// ------------------------------------------------------------------------------------------------
// JSON Merge Patch

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return deepClone(patch);
  const result: JsonRecord = isRecord(target) ? deepClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// JSON Patch

const MAX_JSON_PATCH_OPS = 10000;

function patchFailed(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string" || (pointer !== "" && !pointer.startsWith("/"))) {
    throw badRequest(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  }
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(token: string, length: number, forInsert: boolean): number {
  if (forInsert && token === "-") return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw patchFailed(`invalid array index "${token}"`);
  const index = Number(token);
  if (index > length || (!forInsert && index === length)) throw patchFailed(`array index ${index} out of bounds`);
  return index;
}

function getAt(doc: unknown, path: string[], pointer: string): unknown {
  let node = doc;
  for (const token of path) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false)];
    else if (isRecord(node) && Object.hasOwn(node, token)) node = node[token];
    else throw patchFailed(`path ${pointer} does not exist`);
  }
  return node;
}

function parentOf(doc: unknown, path: string[], pointer: string): unknown {
  return getAt(doc, path.slice(0, -1), pointer);
}

function addAt(doc: unknown, path: string[], value: unknown, pointer: string): unknown {
  if (path.length === 0) return value;
  const parent = parentOf(doc, path, pointer);
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else if (isRecord(parent)) parent[last] = value;
  else throw patchFailed(`path ${pointer}: parent is not a container`);
  return doc;
}

function removeAt(doc: unknown, path: string[], pointer: string): unknown {
  if (path.length === 0) throw patchFailed("cannot remove the whole document");
  const parent = parentOf(doc, path, pointer);
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
  else if (isRecord(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw patchFailed(`unable to remove nonexistent key: ${last}: missing value`);
  return doc;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  if (ops.length > MAX_JSON_PATCH_OPS) throw new ApiError(422, "RequestEntityTooLarge", `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPS}, got ${ops.length}`);
  let doc = deepClone(target);
  for (const op of ops) {
    if (!isRecord(op)) throw badRequest("each JSON patch operation must be an object");
    const pointer = String(op.path);
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
        if (!("value" in op)) throw badRequest(`missing value in add operation at ${pointer}`);
        doc = addAt(doc, path, deepClone(op.value), pointer);
        break;
      case "remove":
        doc = removeAt(doc, path, pointer);
        break;
      case "replace":
        if (!("value" in op)) throw badRequest(`missing value in replace operation at ${pointer}`);
        getAt(doc, path, pointer);
        doc = path.length === 0 ? deepClone(op.value) : addAt(removeAt(doc, path, pointer), path, deepClone(op.value), pointer);
        break;
      case "move":
      case "copy": {
        const from = parsePointer(op.from);
        const value = deepClone(getAt(doc, from, String(op.from)));
        if (op.op === "move") doc = removeAt(doc, from, String(op.from));
        doc = addAt(doc, path, value, pointer);
        break;
      }
      case "test":
        if (!deepEqual(getAt(doc, path, pointer), op.value)) throw patchFailed(`testing value ${pointer} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

// ------------------------------------------------------------------------------------------------
// Strategic merge patch. Lists merge by key only where the Kubernetes Go types say so; the table
// below covers the kinds this server stores. Paths name fields only (list items are transparent).

export interface ListStrategy {
  mergeKey?: string;
  /** A list of primitives merged as a set (metadata.finalizers). */
  primitive?: boolean;
}

const CONTAINER_LISTS: Record<string, string> = {
  env: "name",
  ports: "containerPort",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
};

const LIST_STRATEGIES: Record<string, ListStrategy> = {
  "metadata.finalizers": { primitive: true },
  "metadata.ownerReferences": { mergeKey: "uid" },
  "spec.containers": { mergeKey: "name" },
  "spec.initContainers": { mergeKey: "name" },
  "spec.ephemeralContainers": { mergeKey: "name" },
  "spec.volumes": { mergeKey: "name" },
  "spec.imagePullSecrets": { mergeKey: "name" },
  "spec.hostAliases": { mergeKey: "ip" },
  "spec.topologySpreadConstraints": { mergeKey: "topologyKey" },
  "spec.schedulingGates": { mergeKey: "name" },
  "spec.ports": { mergeKey: "port" },
  "status.conditions": { mergeKey: "type" },
  "status.podIPs": { mergeKey: "ip" },
  "status.hostIPs": { mergeKey: "ip" },
  "status.addresses": { mergeKey: "type" },
  secrets: { mergeKey: "name" },
  imagePullSecrets: { mergeKey: "name" },
};

for (const list of ["spec.containers", "spec.initContainers", "spec.ephemeralContainers"]) {
  for (const [field, key] of Object.entries(CONTAINER_LISTS)) LIST_STRATEGIES[`${list}.${field}`] = { mergeKey: key };
}

export function strategyFor(path: string[]): ListStrategy | undefined {
  return LIST_STRATEGIES[path.join(".")];
}

/** The same, by the dotted path ("spec.containers.ports"). */
export function strategyAt(dottedPath: string): ListStrategy | undefined {
  return LIST_STRATEGIES[dottedPath];
}

const SET_ORDER = "$setElementOrder/";
const DELETE_FROM = "$deleteFromPrimitiveList/";

/** Removes `$patch`-style directives from a subtree that is taken as is. */
function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((item) => !(isRecord(item) && item.$patch !== undefined && Object.keys(item).length === 1)).map(stripDirectives);
  if (!isRecord(value)) return value;
  const result: JsonRecord = {};
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith("$")) continue;
    result[key] = stripDirectives(child);
  }
  return result;
}

function mergeKeyedList(original: unknown[], patch: unknown[], mergeKey: string, path: string[]): unknown[] {
  if (patch.some((item) => isRecord(item) && item.$patch === "replace")) {
    return patch.filter((item) => !(isRecord(item) && item.$patch === "replace")).map(stripDirectives);
  }
  const result = original.map((item) => deepClone(item));
  for (const item of patch) {
    if (!isRecord(item)) throw badRequest(`strategic merge patch: list ${path.join(".")} expects objects`);
    const index = result.findIndex((existing) => isRecord(existing) && existing[mergeKey] === item[mergeKey]);
    if (item.$patch === "delete") {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = mergeObjects(result[index] as JsonRecord, item, path);
    } else {
      result.push(mergeObjects({}, item, path));
    }
  }
  return result;
}

function orderList(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (item: unknown): unknown => (mergeKey && isRecord(item) ? item[mergeKey] : item);
  const wanted = order.map((entry) => (mergeKey && isRecord(entry) ? entry[mergeKey] : entry));
  const ordered: unknown[] = [];
  for (const key of wanted) {
    const found = list.find((item) => deepEqual(keyOf(item), key));
    if (found !== undefined) ordered.push(found);
  }
  for (const item of list) if (!ordered.includes(item)) ordered.push(item);
  return ordered;
}

function mergeObjects(original: JsonRecord, patch: JsonRecord, path: string[]): JsonRecord {
  if (patch.$patch === "replace") return stripDirectives(patch) as JsonRecord;
  const result: JsonRecord = deepClone(original);
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    const childPath = [...path, key];
    if (value === null) {
      delete result[key];
    } else if (isRecord(value)) {
      if (value.$patch === "delete") delete result[key];
      else result[key] = mergeObjects(isRecord(result[key]) ? result[key] : {}, value, childPath);
    } else if (Array.isArray(value)) {
      const strategy = strategyFor(childPath);
      const existing = Array.isArray(result[key]) ? (result[key] as unknown[]) : [];
      if (strategy?.mergeKey) result[key] = mergeKeyedList(existing, value, strategy.mergeKey, childPath);
      else if (strategy?.primitive) result[key] = [...existing, ...value.filter((v) => !existing.some((e) => deepEqual(e, v)))];
      else result[key] = stripDirectives(value);
    } else {
      result[key] = value;
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_FROM) && Array.isArray(value)) {
      const field = key.slice(DELETE_FROM.length);
      const list = result[field];
      if (Array.isArray(list)) result[field] = list.filter((item) => !value.some((v) => deepEqual(v, item)));
    } else if (key.startsWith(SET_ORDER) && Array.isArray(value)) {
      const field = key.slice(SET_ORDER.length);
      const list = result[field];
      if (Array.isArray(list)) result[field] = orderList(list, value, strategyFor([...path, field])?.mergeKey);
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.map(String));
    for (const key of Object.keys(result)) if (!keep.has(key)) delete result[key];
  }
  return result;
}

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) throw badRequest("strategic merge patch: the patch must be a JSON object");
  return mergeObjects(isRecord(target) ? target : {}, patch, []);
}
