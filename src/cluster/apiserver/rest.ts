// The generic REST semantics every stored kind shares (reference §3): create, get, list, update,
// patch, delete and deletecollection, plus the few kind-specific verbs (binding, namespace
// finalize). Takes decoded requests and returns objects or throws ApiError; no HTTP here.
import { randomUUID } from "node:crypto";
import { LAST_APPLIED, applyConfiguration, applyCreateEntries, entriesOf, sameIgnoringTimes, trackUpdate } from "./managed-fields.ts";
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from "./patch.ts";
import { isTerminalPhase } from "./pods.ts";
import { quotaStatus, quotaViolation, sumUsage } from "./quota.ts";
import { fieldValue, findResource, groupVersionOf, storedType, supportsField, type ResourceType } from "./resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldSelector, type LabelSelector } from "./selectors.ts";
import {
  ApiError,
  STALE_OBJECT,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  fieldErrors,
  forbidden,
  invalid,
  notFound,
  unsupportedPatchType,
  type FieldError,
  type ResourceName,
} from "./status.ts";
import { AlreadyStored, type Storage } from "./storage.ts";
import { deepClone, deepEqual, formatTime, isRecord, type JsonRecord, type KubeObject } from "./types.ts";
import { validateObjectMeta } from "./validation.ts";

export interface Clock {
  now(): Date;
}

export interface ListFilter {
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  /** Deprecated form of the policy: true is Orphan, false is Background. */
  orphanDependents?: boolean;
  dryRun?: string[];
  preconditions?: { uid?: string; resourceVersion?: string };
}

const NAMESPACES = findResource("", "v1", "namespaces") as ResourceType;
const PODS = findResource("", "v1", "pods") as ResourceType;
const SERVICE_ACCOUNTS = findResource("", "v1", "serviceaccounts") as ResourceType;
const RESOURCE_QUOTAS = findResource("", "v1", "resourcequotas") as ResourceType;

/** Finalizers the garbage collector owns (gc.ts): set by DELETE with the Orphan and Foreground policies. */
export const ORPHAN_FINALIZER = "orphan";
export const FOREGROUND_FINALIZER = "foregroundDeletion";

export type PropagationPolicy = "Background" | "Foreground" | "Orphan";

/** The propagation policy a DeleteOptions asks for; undefined when it names none (Background). */
export function propagationPolicyOf(options: DeleteOptions): PropagationPolicy | undefined {
  const errors: FieldError[] = [];
  const policy = options.propagationPolicy;
  if (policy !== undefined && policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
    errors.push(fieldErrors.notSupported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"]));
  }
  if (policy !== undefined && options.orphanDependents !== undefined) {
    errors.push(fieldErrors.invalid("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set"));
  }
  if (errors.length > 0) throw invalid("DeleteOptions", "meta.k8s.io", "", errors);
  if (policy !== undefined) return policy as PropagationPolicy;
  if (options.orphanDependents !== undefined) return options.orphanDependents ? "Orphan" : "Background";
  return undefined;
}

/** The finalizers after a delete with this policy: Orphan and Foreground each add theirs and drop the other's. */
function finalizersForPolicy(finalizers: string[], policy: PropagationPolicy | undefined): string[] {
  if (policy === undefined) return finalizers;
  const wanted = policy === "Orphan" ? ORPHAN_FINALIZER : policy === "Foreground" ? FOREGROUND_FINALIZER : undefined;
  const next = finalizers.filter((f) => (f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER) || f === wanted);
  if (wanted && !next.includes(wanted)) next.push(wanted);
  return next;
}

const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function generateNameSuffix(): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)];
  return suffix;
}

export function resourceName(rt: ResourceType): ResourceName {
  return { resource: rt.plural, group: rt.group };
}

function isDryRun(query: URLSearchParams): boolean {
  return query.getAll("dryRun").some((v) => v === "All");
}

function specOf(obj: KubeObject): JsonRecord {
  return isRecord(obj.spec) ? obj.spec : {};
}

/** Parses a boolean query value as Go's strconv.ParseBool does. */
export function parseBool(value: string | null): boolean | undefined {
  if (value === null) return undefined;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw badRequest(`invalid boolean value: ${JSON.stringify(value)}`);
}

export function parseListFilter(rt: ResourceType, namespace: string | undefined, query: URLSearchParams): ListFilter {
  return {
    namespace,
    labels: parseLabelSelector(query.get("labelSelector")),
    fields: parseFieldSelector(query.get("fieldSelector"), (field) => supportsField(rt, field)),
  };
}

export function matchesFilter(rt: ResourceType, filter: ListFilter, obj: KubeObject): boolean {
  if (filter.namespace !== undefined && obj.metadata.namespace !== filter.namespace) return false;
  return matchesLabels(filter.labels, obj.metadata.labels) && matchesFields(filter.fields, (field) => fieldValue(rt, obj, field));
}

interface ContinueToken {
  rv: number;
  namespace: string;
  name: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodeContinue(text: string): ContinueToken {
  try {
    const token = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as ContinueToken;
    if (typeof token.rv === "number" && typeof token.namespace === "string" && typeof token.name === "string") return token;
  } catch {
    // fall through to the error below
  }
  throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
}

/** Hooks the surrounding server gives the REST layer. */
export interface RestHooks {
  /** Called when a namespace starts terminating or loses an object while terminating. */
  namespaceNeedsFinalizing(name: string): void;
  /** Called after a namespace is created, to give it its default service account and CA config map. */
  namespaceCreated(name: string): void;
}

/** How a stored text that is already in served form begins: apiVersion and kind first, as served. */
function servedPrefix(rt: ResourceType): string {
  let prefix = servedPrefixes.get(rt);
  if (prefix === undefined) servedPrefixes.set(rt, (prefix = `{"apiVersion":${JSON.stringify(groupVersionOf(rt))},"kind":${JSON.stringify(rt.kind)},`));
  return prefix;
}

const servedPrefixes = new WeakMap<ResourceType, string>();

/** Served objects made from a just-written object, and the JSON text they serialise to. */
const servedTexts = new WeakMap<object, string>();

/**
 * The JSON text of an answer: the stored text when the answer is a served object made from a
 * just-written one (and not changed since: answers are not edited after served() makes them).
 */
export function jsonText(value: unknown): string {
  return (typeof value === "object" && value !== null ? servedTexts.get(value) : undefined) ?? JSON.stringify(value);
}

export class RestStore {
  readonly storage: Storage;
  readonly clock: Clock;
  hooks: RestHooks = { namespaceNeedsFinalizing: () => {}, namespaceCreated: () => {} };

  constructor(storage: Storage, clock: Clock = { now: () => new Date() }) {
    this.storage = storage;
    this.clock = clock;
  }

  // ----------------------------------------------------------------------------------------------
  // Conversion between the served version and the stored form

  served(rt: ResourceType, stored: KubeObject): KubeObject {
    const { apiVersion: _apiVersion, kind: _kind, ...fields } = rt.fromStorage ? rt.fromStorage(stored) : stored;
    // apiVersion and kind first, as the real server writes them.
    const served = { apiVersion: groupVersionOf(rt), kind: rt.kind, ...fields };
    // A just-written object is served as it was stored when the stored text is already the served form.
    const text = rt.fromStorage ? undefined : this.storage.textOf(stored);
    if (text !== undefined && text.startsWith(servedPrefix(rt))) servedTexts.set(served, text);
    return served;
  }

  #decode(rt: ResourceType, body: unknown, namespace: string | undefined): KubeObject {
    if (!isRecord(body)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)?.slice(0, 200)}'`);
    if (body.metadata !== undefined && body.metadata !== null && !isRecord(body.metadata)) {
      throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: json: cannot unmarshal ${typeof body.metadata} into Go struct field ${rt.kind}.metadata of type v1.ObjectMeta`);
    }
    const obj = deepClone(body) as KubeObject;
    obj.metadata = isRecord(body.metadata) ? (obj.metadata as KubeObject["metadata"]) : {};
    if (obj.kind !== undefined && obj.kind !== rt.kind) {
      throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: the kind in the body (${JSON.stringify(obj.kind)}) does not match the kind of the resource ("${rt.kind}")`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== groupVersionOf(rt)) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${groupVersionOf(rt)})`);
    }
    if (rt.namespaced) {
      if (obj.metadata.namespace && namespace !== undefined && obj.metadata.namespace !== namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      obj.metadata.namespace = namespace;
    } else {
      delete obj.metadata.namespace;
    }
    obj.apiVersion = groupVersionOf(rt);
    obj.kind = rt.kind;
    // Go's omitempty: an empty map or list in metadata is the same as none, and is never written back.
    for (const field of ["labels", "annotations", "finalizers", "ownerReferences"]) {
      const value = obj.metadata[field];
      if (value === null || (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0)) delete obj.metadata[field];
    }
    const stored = rt.toStorage ? rt.toStorage(obj) : obj;
    rt.defaults?.(stored);
    return stored;
  }

  #validate(rt: ResourceType, obj: KubeObject, extra: FieldError[]): void {
    const errors = [...validateObjectMeta(obj.metadata, { namespaced: rt.namespaced, nameIsLabel: rt.nameIsLabel }), ...extra];
    if (errors.length > 0) throw invalid(rt.kind, rt.group, obj.metadata.name ?? obj.metadata.generateName ?? "", errors);
  }

  #requireActiveNamespace(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced || namespace === undefined) return;
    const state = this.storage.namespaceState(namespace);
    if (state === "missing") throw notFound(resourceName(NAMESPACES), namespace);
    if (state === "terminating") {
      throw forbidden(resourceName(rt), name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Reads

  getStored(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.storage.get(rt.storageKey, namespace ?? "", name);
    if (!obj) throw notFound(resourceName(rt), name);
    return obj;
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    return this.served(rt, this.getStored(rt, namespace, name));
  }

  /** The served JSON text of an object: the stored text itself when that is already the served form. */
  getText(rt: ResourceType, namespace: string | undefined, name: string): string {
    const text = this.storage.getText(rt.storageKey, namespace ?? "", name);
    if (text === undefined) throw notFound(resourceName(rt), name);
    if (!rt.fromStorage && text.startsWith(servedPrefix(rt))) return text;
    return JSON.stringify(this.served(rt, JSON.parse(text) as KubeObject));
  }

  /** A list page: the matching objects in stored form, and the list metadata. */
  listStored(rt: ResourceType, filter: ListFilter, query: URLSearchParams): { items: KubeObject[]; metadata: JsonRecord } {
    const limitText = query.get("limit");
    const limit = limitText ? Number(limitText) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit: ${limitText}`);
    const continueText = query.get("continue");
    const token = continueText ? decodeContinue(continueText) : undefined;
    if (token && token.rv < this.storage.compactedRV) {
      throw expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
    }
    const items: KubeObject[] = [];
    let more = false;
    for (const obj of this.storage.list(rt.storageKey, filter.namespace, token)) {
      if (!matchesFilter(rt, filter, obj)) continue;
      if (limit > 0 && items.length === limit) {
        more = true;
        break;
      }
      items.push(obj);
    }
    const rv = token?.rv ?? this.storage.currentRV;
    const metadata: JsonRecord = { resourceVersion: String(rv) };
    const last = items[items.length - 1];
    if (more && last) metadata.continue = encodeContinue({ rv, namespace: last.metadata.namespace ?? "", name: last.metadata.name ?? "" });
    return { items, metadata };
  }

  list(rt: ResourceType, namespace: string | undefined, query: URLSearchParams): JsonRecord {
    const page = this.listStored(rt, parseListFilter(rt, namespace, query), query);
    return {
      kind: `${rt.kind}List`,
      apiVersion: groupVersionOf(rt),
      metadata: page.metadata,
      items: page.items.map((item) => this.served(rt, item)),
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Create

  create(rt: ResourceType, namespace: string | undefined, body: unknown, query: URLSearchParams, apply?: { manager: string }): KubeObject {
    const obj = this.#decode(rt, body, namespace);
    const meta = obj.metadata;
    if (meta.resourceVersion) {
      throw invalid(rt.kind, rt.group, meta.name ?? "", [fieldErrors.invalid("metadata.resourceVersion", meta.resourceVersion, "must be empty")]);
    }
    for (const owned of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink"]) delete meta[owned];
    let generated = false;
    if (!meta.name && meta.generateName) {
      generated = true;
      meta.name = meta.generateName + generateNameSuffix();
      for (let attempt = 0; attempt < 8 && this.storage.exists(rt.storageKey, namespace ?? "", meta.name); attempt++) {
        meta.name = meta.generateName + generateNameSuffix();
      }
    }
    this.#requireActiveNamespace(rt, namespace, meta.name ?? "");
    rt.admit?.(obj);
    this.#validate(rt, obj, rt.validate?.(obj) ?? []);
    const name = meta.name as string;
    const taken = (): ApiError => {
      const error = alreadyExists(resourceName(rt), name);
      if (!generated) return error;
      return new ApiError(409, "AlreadyExists", `${error.message}, the server was not able to generate a unique name for the object`, { ...error.details, retryAfterSeconds: 1 });
    };
    const dryRun = isDryRun(query);
    // A real create finds a taken name when it inserts; a dry run has to look.
    if (dryRun && this.storage.exists(rt.storageKey, namespace ?? "", name)) throw taken();
    const quotas = rt === PODS && this.#admitPod(obj);
    meta.uid = randomUUID();
    meta.creationTimestamp = formatTime(this.clock.now());
    // Of the kinds served here only pods track generation (since Kubernetes 1.33).
    if (rt === PODS) meta.generation = 1;
    const manager = query.get("fieldManager");
    if (manager && this.#tracksFields(rt)) {
      const time = formatTime(this.clock.now());
      const part = rt.hasStatusSubresource ? "main" : "all";
      const entries = apply && isRecord(body) ? applyCreateEntries(body, apply.manager, groupVersionOf(rt), time, part) : trackUpdate([], undefined, obj, manager, groupVersionOf(rt), undefined, time);
      if (entries.length > 0) meta.managedFields = entries;
    }
    if (dryRun) return this.served(rt, obj);
    let stored: KubeObject;
    try {
      stored = this.storage.insert(rt.storageKey, obj);
    } catch (error) {
      if (error instanceof AlreadyStored) throw taken();
      throw error;
    }
    if (rt === NAMESPACES) this.hooks.namespaceCreated(name);
    if (quotas || rt === RESOURCE_QUOTAS) this.refreshQuotaStatus(namespace ?? "");
    return this.served(rt, stored);
  }

  /** Admission for new pods: the service account must exist, and the pod must fit the quotas (if any: the answer). */
  #admitPod(pod: KubeObject): boolean {
    const namespace = pod.metadata.namespace ?? "";
    const name = pod.metadata.name ?? "";
    const sa = String(specOf(pod).serviceAccountName ?? "default");
    if (!this.storage.exists(SERVICE_ACCOUNTS.storageKey, namespace, sa)) {
      throw forbidden(resourceName(PODS), name, `error looking up service account ${namespace}/${sa}: serviceaccount "${sa}" not found`);
    }
    if (!this.storage.any(RESOURCE_QUOTAS.storageKey, namespace)) return false;
    const quotas = [...this.storage.list(RESOURCE_QUOTAS.storageKey, namespace)];
    const violation = quotaViolation(quotas, pod, sumUsage(this.#activePods(namespace)));
    if (violation) throw forbidden(resourceName(PODS), name, violation);
    return true;
  }

  #activePods(namespace: string): KubeObject[] {
    return [...this.storage.list(PODS.storageKey, namespace)].filter((p) => !isTerminalPhase(p));
  }

  /** Keeps each quota's status.used current, as the quota controller does. */
  refreshQuotaStatus(namespace: string): void {
    if (!this.storage.any(RESOURCE_QUOTAS.storageKey, namespace)) return;
    const quotas = [...this.storage.list(RESOURCE_QUOTAS.storageKey, namespace)];
    if (quotas.length === 0) return;
    const used = sumUsage(this.#activePods(namespace));
    for (const quota of quotas) {
      const status = quotaStatus(quota, used);
      if (!deepEqual(status, quota.status)) this.storage.put(RESOURCE_QUOTAS.storageKey, { ...quota, status }, quota);
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Update (PUT) and the shared write path of PATCH

  update(rt: ResourceType, namespace: string | undefined, name: string, body: unknown, query: URLSearchParams, subresource?: string): KubeObject {
    const existing = this.getStored(rt, namespace, name);
    const incoming = this.#decode(rt, body, namespace);
    if (incoming.metadata.name && incoming.metadata.name !== name) {
      throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
    }
    incoming.metadata.name = name;
    return this.#writeUpdate(rt, existing, incoming, query, subresource);
  }

  /** Kinds whose objects carry managedFields (not events: many, written once, never applied). */
  #tracksFields(rt: ResourceType): boolean {
    return rt.storageKey !== "events";
  }

  /**
   * The managedFields of an update: an apply's own result, a list the client changed on purpose
   * (kubectl rewrites them when it moves client-side apply to server-side apply; `[{}]` clears
   * them), or the existing list with the manager owning what it changed.
   */
  #managedFieldsAfter(rt: ResourceType, existing: KubeObject, next: KubeObject, sent: unknown, query: URLSearchParams, subresource: string | undefined, applied: unknown[] | undefined): unknown[] | undefined {
    if (!this.#tracksFields(rt)) return existing.metadata.managedFields;
    if (applied) return applied;
    if (subresource !== "status" && Array.isArray(sent) && sent.length > 0 && !deepEqual(sent, existing.metadata.managedFields)) {
      return sent.every((e) => isRecord(e) && Object.keys(e).length === 0) ? undefined : sent;
    }
    const manager = query.get("fieldManager");
    if (!manager) return existing.metadata.managedFields;
    return trackUpdate(entriesOf(existing), existing, next, manager, groupVersionOf(rt), subresource, formatTime(this.clock.now()));
  }

  #writeUpdate(rt: ResourceType, existing: KubeObject, incoming: KubeObject, query: URLSearchParams, subresource?: string, applied?: unknown[]): KubeObject {
    const name = existing.metadata.name as string;
    const sentManagedFields = incoming.metadata.managedFields;
    const expectedRV = incoming.metadata.resourceVersion;
    if (expectedRV && expectedRV !== existing.metadata.resourceVersion) throw conflict(resourceName(rt), name, STALE_OBJECT);
    let next: KubeObject;
    if (subresource === "status") {
      next = { ...deepClone(existing), status: incoming.status };
    } else {
      next = incoming;
      if (rt.hasStatusSubresource) {
        if (existing.status === undefined) delete next.status;
        else next.status = deepClone(existing.status);
      }
      next.metadata = { ...next.metadata };
      for (const owned of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace"]) {
        if (existing.metadata[owned] === undefined) delete next.metadata[owned];
        else next.metadata[owned] = existing.metadata[owned];
      }
      delete next.metadata.managedFields;
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    const errors: FieldError[] = [];
    if (existing.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !(existing.metadata.finalizers ?? []).includes(f));
      if (added.length) errors.push(fieldErrors.forbidden("metadata.finalizers", `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`));
    }
    if (subresource !== "status") errors.push(...(rt.validateUpdate ? rt.validateUpdate(existing, next) : (rt.validate?.(next) ?? [])));
    this.#validate(rt, next, errors);
    if (!deepEqual(specOf(next), specOf(existing)) && existing.metadata.generation !== undefined) {
      next.metadata.generation = existing.metadata.generation + 1;
    }
    const managedFields = this.#managedFieldsAfter(rt, existing, next, sentManagedFields, query, subresource, applied);
    if (managedFields && managedFields.length > 0) next.metadata.managedFields = managedFields;
    else delete next.metadata.managedFields;
    const { managedFields: _next, ...nextMeta } = next.metadata;
    const { managedFields: _existing, ...existingMeta } = existing.metadata;
    // A write that changes nothing but the time of a manager's entry is no write.
    if (deepEqual({ ...next, metadata: nextMeta }, { ...existing, metadata: existingMeta }) && sameIgnoringTimes(next.metadata.managedFields, existing.metadata.managedFields)) return this.served(rt, existing);
    if (isDryRun(query)) return this.served(rt, next);
    if (this.#readyToRemove(next)) return this.served(rt, this.#remove(rt, next));
    return this.served(rt, this.storage.put(rt.storageKey, next, existing));
  }

  /** An object being deleted goes once its finalizers are gone and no grace period is pending. */
  #readyToRemove(obj: KubeObject): boolean {
    const meta = obj.metadata;
    if (!meta.deletionTimestamp || (meta.finalizers?.length ?? 0) > 0) return false;
    if (obj.kind === "Namespace") return ((specOf(obj).finalizers as unknown[] | undefined)?.length ?? 0) === 0;
    return (meta.deletionGracePeriodSeconds ?? 0) === 0;
  }

  #remove(rt: ResourceType, obj: KubeObject): KubeObject {
    const removed = this.storage.remove(rt.storageKey, obj);
    const namespace = obj.metadata.namespace;
    if (namespace) {
      if (rt.storageKey === PODS.storageKey) this.refreshQuotaStatus(namespace);
      const ns = this.storage.get(NAMESPACES.storageKey, "", namespace);
      if (ns?.metadata.deletionTimestamp) this.hooks.namespaceNeedsFinalizing(namespace);
    }
    return removed;
  }

  // ----------------------------------------------------------------------------------------------
  // Patch

  patch(rt: ResourceType, namespace: string | undefined, name: string, contentType: string, body: unknown, query: URLSearchParams, subresource?: string): { object: KubeObject; created: boolean } {
    const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
    const existing = this.storage.get(rt.storageKey, namespace ?? "", name);
    let applied: unknown[] | undefined;
    if (type === "application/apply-patch+yaml") {
      const manager = query.get("fieldManager");
      if (!manager) {
        throw invalid("PatchOptions", "meta.k8s.io", "", [fieldErrors.required("fieldManager", "is required for apply patch")]);
      }
      if (!isRecord(body)) throw badRequest("error decoding YAML: the apply configuration must be an object");
      if (!existing) {
        if (subresource) throw notFound(resourceName(rt), name);
        const obj = { ...body, metadata: { ...(isRecord(body.metadata) ? body.metadata : {}), name } };
        return { object: this.create(rt, namespace, obj, query, { manager }), created: true };
      }
      if (this.#tracksFields(rt)) {
        const force = parseBool(query.get("force")) ?? false;
        const part = subresource === "status" ? "status" : rt.hasStatusSubresource ? "main" : "all";
        const lastAppliedText = existing.metadata.annotations?.[LAST_APPLIED];
        let lastApplied: JsonRecord | undefined;
        try {
          const parsed = lastAppliedText ? (JSON.parse(lastAppliedText) as unknown) : undefined;
          if (isRecord(parsed)) lastApplied = parsed;
        } catch {
          // An unreadable annotation allows nothing.
        }
        const result = applyConfiguration(entriesOf(existing), this.served(rt, existing), body, { manager, force, apiVersion: groupVersionOf(rt), subresource, time: formatTime(this.clock.now()), part, lastApplied }, (live, config) => applyStrategicMergePatch(live, config) as JsonRecord);
        applied = result.entries;
        return { object: this.#writePatched(rt, namespace, name, existing, result.object, query, subresource, applied), created: false };
      }
    }
    if (!existing) throw notFound(resourceName(rt), name);
    const current = this.served(rt, existing);
    let patched: unknown;
    switch (type) {
      case "application/json-patch+json":
        patched = applyJsonPatch(current, body);
        break;
      case "application/merge-patch+json":
        if (!isRecord(body)) throw badRequest("merge patch: the patch must be a JSON object");
        patched = applyMergePatch(current, body);
        break;
      case "application/strategic-merge-patch+json":
      case "application/apply-patch+yaml":
        patched = applyStrategicMergePatch(current, body);
        break;
      default:
        throw unsupportedPatchType();
    }
    return { object: this.#writePatched(rt, namespace, name, existing, patched, query, subresource, applied), created: false };
  }

  #writePatched(rt: ResourceType, namespace: string | undefined, name: string, existing: KubeObject, patched: unknown, query: URLSearchParams, subresource: string | undefined, applied: unknown[] | undefined): KubeObject {
    if (!isRecord(patched)) throw new ApiError(422, "Invalid", "the patch produced a document that is not an object");
    if (isRecord(patched.metadata) && patched.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(patched.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const incoming = this.#decode(rt, patched, namespace);
    return this.#writeUpdate(rt, existing, incoming, query, subresource, applied);
  }

  // ----------------------------------------------------------------------------------------------
  // Delete

  delete(rt: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions, query: URLSearchParams): JsonRecord {
    const existing = this.getStored(rt, namespace, name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== existing.metadata.uid) {
      throw conflict(resourceName(rt), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid ?? ""}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(resourceName(rt), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${existing.metadata.resourceVersion ?? ""}`);
    }
    const dryRun = isDryRun(query) || (options.dryRun ?? []).includes("All");
    const result = this.#deleteObject(rt, existing, options, dryRun);
    if (rt.deleteReturnsObject || result.metadata.deletionTimestamp) return this.served(rt, result);
    return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural, uid: existing.metadata.uid } };
  }

  #gracePeriod(rt: ResourceType, obj: KubeObject, options: DeleteOptions): number {
    if (rt !== PODS) return 0;
    const spec = specOf(obj);
    if (!spec.nodeName || isTerminalPhase(obj)) return 0;
    let grace = options.gracePeriodSeconds ?? (typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30);
    if (grace < 0) grace = 1;
    return grace;
  }

  #deleteObject(rt: ResourceType, existing: KubeObject, options: DeleteOptions, dryRun: boolean): KubeObject {
    const now = this.clock.now();
    const policy = propagationPolicyOf(options);
    if (rt === NAMESPACES) {
      if (existing.metadata.deletionTimestamp) return existing;
      const terminating = deepClone(existing);
      terminating.metadata.deletionTimestamp = formatTime(now);
      terminating.metadata.deletionGracePeriodSeconds = 0;
      terminating.status = { ...(isRecord(existing.status) ? existing.status : {}), phase: "Terminating" };
      if (dryRun) return terminating;
      const stored = this.storage.put(rt.storageKey, terminating, existing);
      this.hooks.namespaceNeedsFinalizing(existing.metadata.name as string);
      return stored;
    }
    const grace = this.#gracePeriod(rt, existing, options);
    const finalizers = finalizersForPolicy(existing.metadata.finalizers ?? [], policy);
    const finalizersChanged = !deepEqual(finalizers, existing.metadata.finalizers ?? []);
    const withFinalizers = (obj: KubeObject): KubeObject => {
      if (finalizers.length > 0) obj.metadata.finalizers = finalizers;
      else delete obj.metadata.finalizers;
      return obj;
    };
    if (existing.metadata.deletionTimestamp) {
      // A second delete may shorten the grace period, never lengthen it, and may change the policy.
      const current = existing.metadata.deletionGracePeriodSeconds ?? 0;
      if (grace >= current && !finalizersChanged) return existing;
      const next = withFinalizers(deepClone(existing));
      if (grace < current) {
        next.metadata.deletionGracePeriodSeconds = grace;
        next.metadata.deletionTimestamp = formatTime(new Date(now.getTime() + grace * 1000));
      }
      if (dryRun) return next;
      if (this.#readyToRemove(next)) return this.#remove(rt, next);
      return this.storage.put(rt.storageKey, next, existing);
    }
    if (grace > 0 || finalizers.length > 0) {
      const deleting = withFinalizers(deepClone(existing));
      deleting.metadata.deletionTimestamp = formatTime(new Date(now.getTime() + grace * 1000));
      deleting.metadata.deletionGracePeriodSeconds = grace;
      if (dryRun) return deleting;
      return this.storage.put(rt.storageKey, deleting, existing);
    }
    if (dryRun) return existing;
    return this.#remove(rt, existing);
  }

  deleteCollection(rt: ResourceType, namespace: string | undefined, options: DeleteOptions, query: URLSearchParams): JsonRecord {
    const filter = parseListFilter(rt, namespace, query);
    const dryRun = isDryRun(query) || (options.dryRun ?? []).includes("All");
    const deleted = [...this.storage.list(rt.storageKey, namespace)]
      .filter((obj) => matchesFilter(rt, filter, obj))
      .map((obj) => this.served(rt, this.#deleteObject(rt, obj, options, dryRun)));
    return { kind: `${rt.kind}List`, apiVersion: groupVersionOf(rt), metadata: { resourceVersion: String(this.storage.currentRV) }, items: deleted };
  }

  // ----------------------------------------------------------------------------------------------
  // Kind-specific verbs

  /** pods/binding: assigns an unscheduled pod to a node in one atomic update (reference §6.4). */
  bind(namespace: string, podName: string, body: unknown): JsonRecord {
    if (!isRecord(body) || !isRecord(body.target)) throw badRequest("a Binding with a target is required");
    const meta = isRecord(body.metadata) ? body.metadata : {};
    if (meta.name !== undefined && meta.name !== podName) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${podName})`);
    const node = body.target.name;
    if (typeof node !== "string" || node === "") throw invalid("Binding", "", podName, [fieldErrors.required("target.name")]);
    const pod = this.getStored(PODS, namespace, podName);
    if (typeof meta.uid === "string" && meta.uid !== pod.metadata.uid) {
      throw conflict(resourceName(PODS), podName, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${pod.metadata.uid ?? ""}`);
    }
    const spec = specOf(pod);
    if (pod.metadata.deletionTimestamp) throw conflict({ resource: "pods/binding", group: "" }, podName, `pod ${podName} is being deleted, cannot be assigned to a host`);
    if (spec.nodeName) throw conflict({ resource: "pods/binding", group: "" }, podName, `pod ${podName} is already assigned to node "${String(spec.nodeName)}"`);
    if (Array.isArray(spec.schedulingGates) && spec.schedulingGates.length > 0) {
      throw conflict({ resource: "pods/binding", group: "" }, podName, `pod ${podName} has non-empty .spec.schedulingGates`);
    }
    const bound = deepClone(pod);
    (bound.spec as JsonRecord).nodeName = node;
    if (isRecord(meta.annotations)) bound.metadata.annotations = { ...(bound.metadata.annotations ?? {}), ...(meta.annotations as Record<string, string>) };
    const status: JsonRecord = isRecord(bound.status) ? bound.status : {};
    delete status.nominatedNodeName;
    const conditions = Array.isArray(status.conditions) ? (status.conditions as JsonRecord[]).filter((c) => c.type !== "PodScheduled") : [];
    conditions.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: formatTime(this.clock.now()) });
    status.conditions = conditions;
    bound.status = status;
    this.storage.put(PODS.storageKey, bound, pod);
    return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };
  }

  /** namespaces/<n>/finalize: sets spec.finalizers; an emptied, terminating namespace goes away. */
  finalizeNamespace(name: string, body: unknown): KubeObject {
    const existing = this.getStored(NAMESPACES, undefined, name);
    const spec = isRecord(body) && isRecord(body.spec) ? body.spec : {};
    const next = deepClone(existing);
    next.spec = { ...specOf(existing), finalizers: Array.isArray(spec.finalizers) ? spec.finalizers : [] };
    if (deepEqual(next, existing)) return this.served(NAMESPACES, existing);
    if (this.#readyToRemove(next)) return this.served(NAMESPACES, this.#remove(NAMESPACES, next));
    return this.served(NAMESPACES, this.storage.put(NAMESPACES.storageKey, next, existing));
  }

  /**
   * One step of the namespace controller: deletes everything left in a terminating namespace and
   * removes the namespace once it is empty.
   */
  finalizeNamespaceContent(name: string): void {
    const ns = this.storage.get(NAMESPACES.storageKey, "", name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const storageKey of this.storage.kindsInNamespace(name)) {
      const rt = this.#storedType(storageKey);
      if (!rt) continue;
      for (const obj of [...this.storage.list(storageKey, name)]) {
        if (!obj.metadata.deletionTimestamp) this.#deleteObject(rt, obj, {}, false);
      }
    }
    if (this.storage.countInNamespace(name) === 0) {
      const current = this.storage.get(NAMESPACES.storageKey, "", name);
      if (current) this.finalizeNamespace(name, { spec: { finalizers: ((specOf(current).finalizers as string[] | undefined) ?? []).filter((f) => f !== "kubernetes") } });
    }
  }

  #storedType(storageKey: string): ResourceType | undefined {
    return storedType(storageKey);
  }

  /**
   * A write by a controller of this server (the garbage collector): changes the metadata of the
   * stored object through the ordinary update path, so a deleting object whose last finalizer goes
   * is removed.
   */
  updateMetadata(rt: ResourceType, existing: KubeObject, change: (metadata: KubeObject["metadata"]) => void, manager: string): KubeObject {
    const next = deepClone(existing);
    change(next.metadata);
    for (const field of ["finalizers", "ownerReferences"]) {
      const value = next.metadata[field];
      if (Array.isArray(value) && value.length === 0) delete next.metadata[field];
    }
    return this.#writeUpdate(rt, existing, next, new URLSearchParams({ fieldManager: manager }));
  }
}
