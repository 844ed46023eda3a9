// Pod semantics of the real API server: defaulting (reference §6.1), validation (§6.2) and the
// update rules that make most of the spec immutable (§6.3). Pure functions over plain JSON.
import { parseQuantity } from "./quantity.ts";
import { fieldErrors, type FieldError } from "./status.ts";
import { deepEqual, isRecord, type JsonRecord, type KubeObject } from "./types.ts";
import { dns1123LabelErrors, isDns1123Label } from "./validation.ts";

const CONTAINER_LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;

function records(value: unknown): JsonRecord[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function setDefault(target: JsonRecord, key: string, value: unknown): void {
  if (target[key] === undefined || target[key] === null) target[key] = value;
}

/** `Always` for `:latest` or untagged images, else `IfNotPresent`. */
export function defaultPullPolicy(image: unknown): string {
  if (typeof image !== "string") return "IfNotPresent";
  if (image.includes("@")) return "IfNotPresent";
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  return colon < 0 || lastSegment.slice(colon + 1) === "latest" ? "Always" : "IfNotPresent";
}

function defaultProbe(probe: unknown): void {
  if (!isRecord(probe)) return;
  setDefault(probe, "timeoutSeconds", 1);
  setDefault(probe, "periodSeconds", 10);
  setDefault(probe, "successThreshold", 1);
  setDefault(probe, "failureThreshold", 3);
  if (isRecord(probe.httpGet)) setDefault(probe.httpGet, "scheme", "HTTP");
}

function defaultContainer(container: JsonRecord): void {
  setDefault(container, "terminationMessagePath", "/dev/termination-log");
  setDefault(container, "terminationMessagePolicy", "File");
  setDefault(container, "imagePullPolicy", defaultPullPolicy(container.image));
  setDefault(container, "resources", {});
  const resources = container.resources;
  if (isRecord(resources) && isRecord(resources.limits)) {
    // Requests default to the limits when only limits are given.
    const requests: JsonRecord = isRecord(resources.requests) ? resources.requests : {};
    for (const [name, value] of Object.entries(resources.limits)) setDefault(requests, name, value);
    resources.requests = requests;
  }
  for (const port of records(container.ports)) setDefault(port, "protocol", "TCP");
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) defaultProbe(container[probe]);
  for (const env of records(container.env)) {
    if (isRecord(env.valueFrom) && isRecord(env.valueFrom.fieldRef)) setDefault(env.valueFrom.fieldRef, "apiVersion", "v1");
  }
}

function defaultVolume(volume: JsonRecord): void {
  for (const source of ["configMap", "secret", "projected", "downwardAPI"]) {
    if (isRecord(volume[source])) setDefault(volume[source], "defaultMode", 420);
  }
}

const DEFAULT_TOLERATIONS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

/**
 * Fields the real server fills in when a pod is decoded (SetDefaults_*). Applied on create and on
 * update alike, so a PUT of a stripped-down pod compares equal to the stored one.
 */
export function applyPodDefaults(pod: KubeObject): void {
  if (!isRecord(pod.spec)) pod.spec = {};
  const spec = pod.spec as JsonRecord;
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "enableServiceLinks", true);
  setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
  setDefault(spec, "priority", 0);
  if (spec.serviceAccountName === undefined && typeof spec.serviceAccount === "string") spec.serviceAccountName = spec.serviceAccount;
  for (const list of CONTAINER_LISTS) for (const container of records(spec[list])) defaultContainer(container);
  for (const volume of records(spec.volumes)) defaultVolume(volume);
}

/** What admission adds on create only: the service account and the default tolerations. */
export function admitNewPod(pod: KubeObject): void {
  const spec = pod.spec as JsonRecord;
  setDefault(spec, "serviceAccountName", "default");
  spec.serviceAccount = spec.serviceAccountName;
  const tolerations = records(spec.tolerations);
  for (const key of DEFAULT_TOLERATIONS) {
    if (!tolerations.some((t) => t.key === key && t.effect === "NoExecute")) {
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
  }
  spec.tolerations = tolerations;
  // Whatever status a client sends is dropped: a new pod is Pending until a kubelet says otherwise.
  pod.status = { phase: "Pending", qosClass: qosClass(spec) };
}

/** Guaranteed, Burstable or BestEffort, from the containers' requests and limits. */
export function qosClass(spec: JsonRecord): string {
  const containers = [...records(spec.containers), ...records(spec.initContainers)];
  let anySet = false;
  let guaranteed = true;
  for (const container of containers) {
    const resources = isRecord(container.resources) ? container.resources : {};
    const requests = isRecord(resources.requests) ? resources.requests : {};
    const limits = isRecord(resources.limits) ? resources.limits : {};
    for (const name of ["cpu", "memory"]) {
      const request = parseQuantity(requests[name]);
      const limit = parseQuantity(limits[name]);
      if ((request ?? 0) > 0 || (limit ?? 0) > 0) anySet = true;
      if (limit === undefined || limit === 0 || (request !== undefined && request !== limit)) guaranteed = false;
    }
  }
  if (!anySet) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

// ------------------------------------------------------------------------------------------------
// Validation

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PROTOCOLS = ["TCP", "UDP", "SCTP"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function portNameErrors(field: string, name: string): FieldError[] {
  if (name.length > 15) return [fieldErrors.invalid(field, name, "must be no more than 15 characters")];
  if (!IANA_SVC_NAME.test(name)) return [fieldErrors.invalid(field, name, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")];
  if (name.includes("--")) return [fieldErrors.invalid(field, name, "must not contain consecutive hyphens")];
  if (!/[a-z]/.test(name)) return [fieldErrors.invalid(field, name, "must contain at least one letter (a-z)")];
  return [];
}

function isPortNumber(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= 65535;
}

function validateContainer(c: JsonRecord, path: string, volumeNames: Set<string>, portNames: Set<string>, requireImage: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof c.name !== "string" || c.name === "") errors.push(fieldErrors.required(`${path}.name`));
  else errors.push(...dns1123LabelErrors(`${path}.name`, c.name));
  if (requireImage && (typeof c.image !== "string" || c.image.trim() === "")) errors.push(fieldErrors.required(`${path}.image`));
  if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(String(c.imagePullPolicy))) {
    errors.push(fieldErrors.notSupported(`${path}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
  }
  for (const [i, port] of records(c.ports).entries()) {
    const p = `${path}.ports[${i}]`;
    // Go cannot tell 0 from absent, so the real server calls a zero port missing.
    if (port.containerPort === undefined || port.containerPort === 0) errors.push(fieldErrors.required(`${p}.containerPort`));
    else if (!isPortNumber(port.containerPort, 1)) errors.push(fieldErrors.invalid(`${p}.containerPort`, port.containerPort, "must be between 1 and 65535, inclusive"));
    if (port.hostPort !== undefined && !isPortNumber(port.hostPort, 0)) errors.push(fieldErrors.invalid(`${p}.hostPort`, port.hostPort, "must be between 1 and 65535, inclusive"));
    if (port.protocol !== undefined && !PROTOCOLS.includes(String(port.protocol))) errors.push(fieldErrors.notSupported(`${p}.protocol`, port.protocol, PROTOCOLS));
    if (port.name !== undefined) {
      const name = String(port.name);
      errors.push(...portNameErrors(`${p}.name`, name));
      if (portNames.has(name)) errors.push(fieldErrors.duplicate(`${p}.name`, name));
      portNames.add(name);
    }
  }
  const mountPaths = new Set<string>();
  for (const [i, mount] of records(c.volumeMounts).entries()) {
    const p = `${path}.volumeMounts[${i}]`;
    if (typeof mount.name !== "string" || mount.name === "") errors.push(fieldErrors.required(`${p}.name`));
    else if (!volumeNames.has(mount.name)) errors.push(fieldErrors.notFound(`${p}.name`, mount.name));
    if (typeof mount.mountPath !== "string" || mount.mountPath === "") errors.push(fieldErrors.required(`${p}.mountPath`));
    else if (mountPaths.has(mount.mountPath)) errors.push(fieldErrors.invalid(`${p}.mountPath`, mount.mountPath, "must be unique"));
    else mountPaths.add(mount.mountPath);
  }
  for (const [i, env] of records(c.env).entries()) {
    const p = `${path}.env[${i}]`;
    if (typeof env.name !== "string" || env.name === "") errors.push(fieldErrors.required(`${p}.name`));
    else if (env.name.includes("=") || !/^[\x20-\x7e]+$/.test(env.name)) {
      errors.push(fieldErrors.invalid(`${p}.name`, env.name, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
    }
  }
  const resources = isRecord(c.resources) ? c.resources : {};
  const requests = isRecord(resources.requests) ? resources.requests : {};
  const limits = isRecord(resources.limits) ? resources.limits : {};
  for (const [kind, values] of [["requests", requests], ["limits", limits]] as const) {
    for (const [name, value] of Object.entries(values)) {
      if (parseQuantity(value) === undefined) errors.push(fieldErrors.invalid(`${path}.resources.${kind}[${name}]`, value, "must be a valid quantity"));
    }
  }
  for (const [name, value] of Object.entries(requests)) {
    const request = parseQuantity(value);
    const limit = parseQuantity(limits[name]);
    if (request !== undefined && limit !== undefined && request > limit) {
      errors.push(fieldErrors.invalid(`${path}.resources.requests`, value, `must be less than or equal to ${name} limit of ${String(limits[name])}`));
    }
  }
  return errors;
}

/** Every problem of a pod's spec, as the real server reports them in one 422. */
export function validatePodSpec(spec: unknown): FieldError[] {
  if (!isRecord(spec)) return [fieldErrors.required("spec")];
  const errors: FieldError[] = [];
  const volumeNames = new Set<string>();
  for (const [i, volume] of records(spec.volumes).entries()) {
    const field = `spec.volumes[${i}].name`;
    if (typeof volume.name !== "string" || volume.name === "") errors.push(fieldErrors.required(field));
    else if (!isDns1123Label(volume.name)) errors.push(...dns1123LabelErrors(field, volume.name));
    else if (volumeNames.has(volume.name)) errors.push(fieldErrors.duplicate(field, volume.name));
    else volumeNames.add(volume.name);
  }
  if (records(spec.containers).length === 0) errors.push(fieldErrors.required("spec.containers"));
  const containerNames = new Set<string>();
  const portNames = new Set<string>();
  for (const list of CONTAINER_LISTS) {
    if (spec[list] !== undefined && !Array.isArray(spec[list])) {
      errors.push(fieldErrors.typeInvalid(`spec.${list}`, "must be a list"));
      continue;
    }
    for (const [i, container] of records(spec[list]).entries()) {
      const path = `spec.${list}[${i}]`;
      errors.push(...validateContainer(container, path, volumeNames, portNames, list !== "ephemeralContainers"));
      if (typeof container.name === "string" && container.name !== "") {
        if (containerNames.has(container.name)) errors.push(fieldErrors.duplicate(`${path}.name`, container.name));
        containerNames.add(container.name);
      }
    }
  }
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(String(spec.restartPolicy))) {
    errors.push(fieldErrors.notSupported("spec.restartPolicy", spec.restartPolicy, RESTART_POLICIES));
  }
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(String(spec.dnsPolicy))) {
    errors.push(fieldErrors.notSupported("spec.dnsPolicy", spec.dnsPolicy, DNS_POLICIES));
  }
  if (spec.activeDeadlineSeconds !== undefined && !(typeof spec.activeDeadlineSeconds === "number" && spec.activeDeadlineSeconds > 0)) {
    errors.push(fieldErrors.invalid("spec.activeDeadlineSeconds", spec.activeDeadlineSeconds, "must be between 1 and 2147483647, inclusive"));
  }
  if (spec.terminationGracePeriodSeconds !== undefined && typeof spec.terminationGracePeriodSeconds !== "number") {
    errors.push(fieldErrors.typeInvalid("spec.terminationGracePeriodSeconds", "must be an integer"));
  }
  if (spec.nodeSelector !== undefined && !isRecord(spec.nodeSelector)) errors.push(fieldErrors.typeInvalid("spec.nodeSelector", "must be a map"));
  return errors;
}

// ------------------------------------------------------------------------------------------------
// Updates

const IMMUTABLE_MESSAGE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/**
 * The real server lets an update change only a few spec fields. We mask those on a copy of the new
 * spec and compare it with the old one.
 */
export function validatePodSpecUpdate(oldSpec: JsonRecord, newSpec: JsonRecord): FieldError[] {
  const masked = structuredClone(newSpec);
  for (const list of ["containers", "initContainers"] as const) {
    const oldList = records(oldSpec[list]);
    for (const [i, container] of records(masked[list]).entries()) {
      const old = oldList[i];
      if (old) container.image = old.image;
    }
  }
  const oldDeadline = oldSpec.activeDeadlineSeconds;
  const newDeadline = newSpec.activeDeadlineSeconds;
  if (newDeadline !== undefined && (oldDeadline === undefined || (typeof newDeadline === "number" && typeof oldDeadline === "number" && newDeadline <= oldDeadline))) {
    masked.activeDeadlineSeconds = oldDeadline;
    if (oldDeadline === undefined) delete masked.activeDeadlineSeconds;
  }
  const oldTolerations = records(oldSpec.tolerations);
  const newTolerations = records(newSpec.tolerations);
  if (oldTolerations.every((t) => newTolerations.some((n) => deepEqual(n, t)))) masked.tolerations = oldSpec.tolerations;
  if (typeof oldSpec.terminationGracePeriodSeconds === "number" && oldSpec.terminationGracePeriodSeconds < 0 && newSpec.terminationGracePeriodSeconds === 1) {
    masked.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;
  }
  const oldGates = records(oldSpec.schedulingGates);
  const newGates = records(newSpec.schedulingGates);
  if (newGates.every((g) => oldGates.some((o) => deepEqual(o, g)))) {
    masked.schedulingGates = oldSpec.schedulingGates;
    if (oldSpec.schedulingGates === undefined) delete masked.schedulingGates;
  }
  if (deepEqual(masked, oldSpec)) return [];
  return [fieldErrors.forbidden("spec", IMMUTABLE_MESSAGE)];
}

export function validatePodUpdate(oldPod: KubeObject, newPod: KubeObject): FieldError[] {
  const errors = validatePodSpec(newPod.spec);
  if (errors.length > 0) return errors;
  return validatePodSpecUpdate(oldPod.spec as JsonRecord, newPod.spec as JsonRecord);
}

/** Resource requests of one pod, summed over containers (used by quota). */
export function podResourceTotals(spec: unknown): Record<string, number> {
  const totals: Record<string, number> = {};
  if (!isRecord(spec)) return totals;
  for (const container of records(spec.containers)) {
    const resources = isRecord(container.resources) ? container.resources : {};
    for (const kind of ["requests", "limits"] as const) {
      const values = isRecord(resources[kind]) ? resources[kind] : {};
      for (const [name, value] of Object.entries(values)) {
        const amount = parseQuantity(value) ?? 0;
        totals[`${kind}.${name}`] = (totals[`${kind}.${name}`] ?? 0) + amount;
      }
    }
  }
  return totals;
}

export function isTerminalPhase(pod: KubeObject): boolean {
  const phase = isRecord(pod.status) ? pod.status.phase : undefined;
  return phase === "Succeeded" || phase === "Failed";
}
