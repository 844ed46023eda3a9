// The catalogue of resources this server serves: names and verbs for discovery, how each kind is
// scoped, which fields selectors may use, and the per-kind rules (defaults and validation) that the
// generic REST code calls. Adding a kind is adding an entry here.
import { admitNewPod, applyPodDefaults, isTerminalPhase, validatePodSpec, validatePodUpdate } from "./pods.ts";
import { fieldErrors, type FieldError } from "./status.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";

export interface SubresourceInfo {
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
}

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources: Record<string, SubresourceInfo>;
  /** Where objects live in storage; core and events.k8s.io events share one store. */
  storageKey: string;
  /** Field-selector fields beyond metadata.name and metadata.namespace. */
  fields: Record<string, (obj: KubeObject) => string>;
  /** Pods, service accounts and namespaces answer DELETE with the object; others with a Status. */
  deleteReturnsObject: boolean;
  /** Kinds with a status subresource keep the old status on updates of the main resource. */
  hasStatusSubresource: boolean;
  /** Namespaces must be DNS labels; everything else DNS subdomains. */
  nameIsLabel?: boolean;
  /** Not stored: a request that is answered at once (reviews). */
  virtual?: boolean;
  /** Defaults applied whenever an object is decoded (create and update). */
  defaults?(obj: KubeObject): void;
  /** Defaults and admission applied on create only. */
  admit?(obj: KubeObject): void;
  validate?(obj: KubeObject): FieldError[];
  validateUpdate?(oldObj: KubeObject, newObj: KubeObject): FieldError[];
  /** Converts from the served version to the stored form and back (events.k8s.io). */
  toStorage?(obj: KubeObject): KubeObject;
  fromStorage?(obj: KubeObject): KubeObject;
}

export const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS = ["get", "patch", "update"];

function str(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}

function path(obj: unknown, ...keys: string[]): unknown {
  let node = obj;
  for (const key of keys) node = isRecord(node) ? node[key] : undefined;
  return node;
}

function define(partial: Partial<ResourceType> & Pick<ResourceType, "plural" | "singular" | "kind" | "namespaced">): ResourceType {
  return {
    group: "",
    version: "v1",
    verbs: ALL_VERBS,
    subresources: {},
    storageKey: partial.group ? `${partial.plural}.${partial.group}` : partial.plural,
    fields: {},
    deleteReturnsObject: false,
    hasStatusSubresource: false,
    ...partial,
  };
}

// ------------------------------------------------------------------------------------------------
// Per-kind rules

function secretDefaults(secret: KubeObject): void {
  if (secret.type === undefined || secret.type === "") secret.type = "Opaque";
  if (isRecord(secret.stringData)) {
    // stringData is write-only: merged into data, base64-encoded, then dropped.
    const data: JsonRecord = isRecord(secret.data) ? secret.data : {};
    for (const [key, value] of Object.entries(secret.stringData)) data[key] = Buffer.from(String(value), "utf8").toString("base64");
    secret.data = data;
    delete secret.stringData;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function dataKeyErrors(obj: KubeObject, field: string): FieldError[] {
  const data = obj[field];
  if (data === undefined || data === null) return [];
  if (!isRecord(data)) return [fieldErrors.typeInvalid(field, "must be a map")];
  return Object.keys(data)
    .filter((key) => !CONFIG_KEY.test(key) || key.length > 253)
    .map((key) => fieldErrors.invalid(`${field}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
}

function validateSecret(secret: KubeObject): FieldError[] {
  const errors = dataKeyErrors(secret, "data");
  if (isRecord(secret.data)) {
    for (const [key, value] of Object.entries(secret.data)) {
      if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) errors.push(fieldErrors.invalid(`data[${key}]`, "<secret contents redacted>", "must be base64-encoded"));
    }
  }
  return errors;
}

function validateConfigMap(cm: KubeObject): FieldError[] {
  const errors = [...dataKeyErrors(cm, "data"), ...dataKeyErrors(cm, "binaryData")];
  if (isRecord(cm.data)) {
    for (const [key, value] of Object.entries(cm.data)) if (typeof value !== "string") errors.push(fieldErrors.typeInvalid(`data[${key}]`, "must be a string"));
  }
  return errors;
}

function immutableData(oldObj: KubeObject, newObj: KubeObject): FieldError[] {
  if (oldObj.immutable !== true) return [];
  const errors: FieldError[] = [];
  if (newObj.immutable !== true) errors.push(fieldErrors.forbidden("immutable", "field is immutable when `immutable` is set"));
  for (const field of ["data", "binaryData"]) {
    if (JSON.stringify(oldObj[field] ?? {}) !== JSON.stringify(newObj[field] ?? {})) errors.push(fieldErrors.forbidden(field, "field is immutable when `immutable` is set"));
  }
  return errors;
}

function namespaceDefaults(ns: KubeObject): void {
  const name = ns.metadata.name;
  if (name) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
  const spec: JsonRecord = isRecord(ns.spec) ? ns.spec : {};
  if (!Array.isArray(spec.finalizers)) spec.finalizers = ["kubernetes"];
  ns.spec = spec;
  const status: JsonRecord = isRecord(ns.status) ? ns.status : {};
  if (typeof status.phase !== "string") status.phase = "Active";
  ns.status = status;
}

function serviceDefaults(service: KubeObject): void {
  const spec: JsonRecord = isRecord(service.spec) ? service.spec : {};
  if (spec.type === undefined) spec.type = "ClusterIP";
  if (spec.sessionAffinity === undefined) spec.sessionAffinity = "None";
  for (const port of Array.isArray(spec.ports) ? spec.ports.filter(isRecord) : []) {
    if (port.protocol === undefined) port.protocol = "TCP";
    if (port.targetPort === undefined) port.targetPort = port.port;
  }
  service.spec = spec;
}

function pvcDefaults(pvc: KubeObject): void {
  const spec: JsonRecord = isRecord(pvc.spec) ? pvc.spec : {};
  if (spec.volumeMode === undefined) spec.volumeMode = "Filesystem";
  pvc.spec = spec;
}

function pvcAdmit(pvc: KubeObject): void {
  const status: JsonRecord = isRecord(pvc.status) ? pvc.status : {};
  if (typeof status.phase !== "string") status.phase = "Pending";
  pvc.status = status;
}

function validatePvc(pvc: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = isRecord(pvc.spec) ? pvc.spec : {};
  if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0) errors.push(fieldErrors.required("spec.accessModes"));
  if (path(spec, "resources", "requests", "storage") === undefined) errors.push(fieldErrors.required("spec.resources[storage]"));
  return errors;
}

function validateRoleRules(role: KubeObject): FieldError[] {
  const rules = role.rules;
  if (rules === undefined || rules === null) return [];
  if (!Array.isArray(rules)) return [fieldErrors.typeInvalid("rules", "must be a list")];
  const errors: FieldError[] = [];
  rules.forEach((rule, i) => {
    if (!isRecord(rule) || !Array.isArray(rule.verbs) || rule.verbs.length === 0) errors.push(fieldErrors.required(`rules[${i}].verbs`, "verbs must contain at least one value"));
  });
  return errors;
}

function validateBinding(binding: KubeObject): FieldError[] {
  const ref = binding.roleRef;
  if (!isRecord(ref)) return [fieldErrors.required("roleRef")];
  const errors: FieldError[] = [];
  if (ref.kind !== "Role" && ref.kind !== "ClusterRole") errors.push(fieldErrors.notSupported("roleRef.kind", ref.kind, ["Role", "ClusterRole"]));
  if (typeof ref.name !== "string" || ref.name === "") errors.push(fieldErrors.required("roleRef.name"));
  return errors;
}

function validateBindingUpdate(oldObj: KubeObject, newObj: KubeObject): FieldError[] {
  const errors = validateBinding(newObj);
  if (JSON.stringify(oldObj.roleRef) !== JSON.stringify(newObj.roleRef)) errors.push(fieldErrors.invalid("roleRef", newObj.roleRef, "cannot change roleRef"));
  return errors;
}

// events.k8s.io/v1 is another view of core/v1 events (reference §9).
const EVENT_FIELD_MAP: [core: string, events: string][] = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
  ["reportingComponent", "reportingController"],
];

function renameFields(obj: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const result: KubeObject = { ...obj, apiVersion, kind: "Event" };
  for (const [from, to] of pairs) {
    if (from in result) {
      result[to] = result[from];
      delete result[from];
    }
  }
  return result;
}

const eventsToCore = (obj: KubeObject): KubeObject => renameFields(obj, EVENT_FIELD_MAP.map(([c, e]) => [e, c]), "v1");
const eventsFromCore = (obj: KubeObject): KubeObject => renameFields(obj, EVENT_FIELD_MAP, "events.k8s.io/v1");

function involvedFields(prefix: string, key: string): Record<string, (o: KubeObject) => string> {
  const fields: Record<string, (o: KubeObject) => string> = {};
  for (const f of ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]) {
    fields[`${prefix}.${f}`] = (o) => str(path(o, key, f));
  }
  return fields;
}

// ------------------------------------------------------------------------------------------------
// The catalogue

const pods = define({
  plural: "pods",
  singular: "pod",
  kind: "Pod",
  namespaced: true,
  shortNames: ["po"],
  categories: ["all"],
  deleteReturnsObject: true,
  hasStatusSubresource: true,
  subresources: {
    status: { kind: "Pod", verbs: STATUS_VERBS },
    binding: { kind: "Binding", verbs: ["create"] },
    log: { kind: "Pod", verbs: ["get"] },
    exec: { kind: "PodExecOptions", verbs: ["create", "get"] },
    attach: { kind: "PodAttachOptions", verbs: ["create", "get"] },
    portforward: { kind: "PodPortForwardOptions", verbs: ["create", "get"] },
    ephemeralcontainers: { kind: "Pod", verbs: STATUS_VERBS },
  },
  fields: {
    "spec.nodeName": (o) => str(path(o, "spec", "nodeName")),
    "spec.restartPolicy": (o) => str(path(o, "spec", "restartPolicy")),
    "spec.schedulerName": (o) => str(path(o, "spec", "schedulerName")),
    "spec.serviceAccountName": (o) => str(path(o, "spec", "serviceAccountName")),
    "spec.hostNetwork": (o) => String(path(o, "spec", "hostNetwork") === true),
    "status.phase": (o) => str(path(o, "status", "phase")),
    "status.podIP": (o) => str(path(o, "status", "podIP")),
    "status.nominatedNodeName": (o) => str(path(o, "status", "nominatedNodeName")),
  },
  defaults: applyPodDefaults,
  admit: admitNewPod,
  validate: (pod) => validatePodSpec(pod.spec),
  validateUpdate: validatePodUpdate,
});

const events = define({
  plural: "events",
  singular: "event",
  kind: "Event",
  namespaced: true,
  shortNames: ["ev"],
  fields: {
    ...involvedFields("involvedObject", "involvedObject"),
    reason: (o) => str(o.reason),
    reportingComponent: (o) => str(o.reportingComponent),
    source: (o) => str(path(o, "source", "component")),
    type: (o) => str(o.type),
  },
});

const eventsV1 = define({
  group: "events.k8s.io",
  plural: "events",
  singular: "event",
  kind: "Event",
  namespaced: true,
  shortNames: ["ev"],
  storageKey: "events",
  fields: {
    ...involvedFields("regarding", "involvedObject"),
    reason: (o) => str(o.reason),
    reportingController: (o) => str(o.reportingComponent),
    type: (o) => str(o.type),
  },
  toStorage: eventsToCore,
  fromStorage: eventsFromCore,
});

export const RESOURCE_TYPES: ResourceType[] = [
  define({
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    deleteReturnsObject: true,
    hasStatusSubresource: true,
    nameIsLabel: true,
    subresources: { status: { kind: "Namespace", verbs: STATUS_VERBS }, finalize: { kind: "Namespace", verbs: ["update"] } },
    fields: { "status.phase": (o) => str(path(o, "status", "phase")) },
    defaults: namespaceDefaults,
  }),
  pods,
  define({ plural: "bindings", singular: "binding", kind: "Binding", namespaced: true, verbs: ["create"], virtual: true }),
  define({
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    shortNames: ["no"],
    hasStatusSubresource: true,
    subresources: { status: { kind: "Node", verbs: STATUS_VERBS } },
    fields: { "spec.unschedulable": (o) => String(path(o, "spec", "unschedulable") === true) },
  }),
  events,
  define({
    plural: "secrets",
    singular: "secret",
    kind: "Secret",
    namespaced: true,
    fields: { type: (o) => str(o.type) },
    defaults: secretDefaults,
    validate: validateSecret,
    validateUpdate: (oldObj, newObj) => [...validateSecret(newObj), ...immutableData(oldObj, newObj)],
  }),
  define({
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
    validate: validateConfigMap,
    validateUpdate: (oldObj, newObj) => [...validateConfigMap(newObj), ...immutableData(oldObj, newObj)],
  }),
  define({
    plural: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    shortNames: ["sa"],
    deleteReturnsObject: true,
    subresources: { token: { kind: "TokenRequest", group: "authentication.k8s.io", version: "v1", verbs: ["create"] } },
  }),
  define({
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    kind: "PersistentVolumeClaim",
    namespaced: true,
    shortNames: ["pvc"],
    hasStatusSubresource: true,
    subresources: { status: { kind: "PersistentVolumeClaim", verbs: STATUS_VERBS } },
    defaults: pvcDefaults,
    admit: pvcAdmit,
    validate: validatePvc,
  }),
  // Stored only: no cluster IPs or endpoints. kubectl cluster-info and expose need the kind to exist.
  define({
    plural: "services",
    singular: "service",
    kind: "Service",
    namespaced: true,
    shortNames: ["svc"],
    categories: ["all"],
    hasStatusSubresource: true,
    subresources: { status: { kind: "Service", verbs: STATUS_VERBS } },
    defaults: serviceDefaults,
  }),
  define({
    plural: "resourcequotas",
    singular: "resourcequota",
    kind: "ResourceQuota",
    namespaced: true,
    shortNames: ["quota"],
    hasStatusSubresource: true,
    subresources: { status: { kind: "ResourceQuota", verbs: STATUS_VERBS } },
  }),
  define({ group: "coordination.k8s.io", plural: "leases", singular: "lease", kind: "Lease", namespaced: true }),
  eventsV1,
  define({ group: "authorization.k8s.io", plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview", namespaced: false, verbs: ["create"], virtual: true }),
  define({ group: "authorization.k8s.io", plural: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview", kind: "SelfSubjectRulesReview", namespaced: false, verbs: ["create"], virtual: true }),
  define({ group: "authentication.k8s.io", plural: "selfsubjectreviews", singular: "selfsubjectreview", kind: "SelfSubjectReview", namespaced: false, verbs: ["create"], virtual: true }),
  define({ group: "rbac.authorization.k8s.io", plural: "roles", singular: "role", kind: "Role", namespaced: true, validate: validateRoleRules }),
  define({ group: "rbac.authorization.k8s.io", plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole", namespaced: false, validate: validateRoleRules }),
  define({ group: "rbac.authorization.k8s.io", plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true, validate: validateBinding, validateUpdate: validateBindingUpdate }),
  define({ group: "rbac.authorization.k8s.io", plural: "clusterrolebindings", singular: "clusterrolebinding", kind: "ClusterRoleBinding", namespaced: false, validate: validateBinding, validateUpdate: validateBindingUpdate }),
];

export function groupVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

const BY_PLURAL = new Map(RESOURCE_TYPES.map((rt) => [`${rt.group}/${rt.version}/${rt.plural}`, rt]));

/** Finds a resource by group, version and plural name (every request's route asks). */
export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return BY_PLURAL.get(`${group}/${version}/${plural}`);
}

/** The group-versions served, core first, then the named groups in catalogue order. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const rt of RESOURCE_TYPES) seen.set(`${rt.group}/${rt.version}`, { group: rt.group, version: rt.version });
  return [...seen.values()];
}

export function fieldValue(rt: ResourceType, obj: KubeObject, field: string): string {
  if (field === "metadata.name") return obj.metadata.name ?? "";
  if (field === "metadata.namespace") return obj.metadata.namespace ?? "";
  return rt.fields[field]?.(obj) ?? "";
}

export function supportsField(rt: ResourceType, field: string): boolean {
  return field === "metadata.name" || field === "metadata.namespace" || field in rt.fields;
}

export { isTerminalPhase };

/** The stored kind behind a storage key (the served form that needs no conversion). */
export function storedType(storageKey: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((rt) => rt.storageKey === storageKey && !rt.toStorage && !rt.virtual);
}

/** The kind an ownerReference or similar names by apiVersion and kind, if this server stores it. */
export function findKind(apiVersion: string, kind: string): ResourceType | undefined {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  return RESOURCE_TYPES.find((rt) => rt.group === group && rt.version === version && rt.kind === kind && !rt.virtual);
}
