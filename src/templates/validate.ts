// Validation of a built Pod before anything would be sent to a cluster: the Kubernetes schema (types,
// required fields, quantity formats) through kubernetes-models, plus the rules the API server adds on
// top (RFC 1123 names, unique names, mounts that name a volume, port ranges, requests within limits).
// Each problem names the field, and, when the resolution was traced, the template that supplied it.
import { Pod } from "kubernetes-models/v1/Pod";
import { isObject, listItemKey, type JsonObject } from "./pod-merge.ts";
import { RFC1123_LABEL, isValidLabelValue } from "./naming.ts";
import { describeOrigin, type Provenance } from "./trace.ts";

export interface Problem {
  path: string;
  message: string;
  /** Which template supplied the offending value, when known. */
  source?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function validatePod(pod: JsonObject, provenance?: Provenance): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => {
    const origin = provenance?.origins.originOf(path);
    problems.push({ path, message, ...(origin ? { source: describeOrigin(origin) } : {}) });
  };
  schemaProblems(pod, add);
  ruleProblems(pod, add);
  return problems;
}

function schemaProblems(pod: JsonObject, add: (path: string, message: string) => void): void {
  try {
    new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string; keyword: string }[] }).errors ?? [];
    const seen = new Set<string>();
    for (const err of errors) {
      // A oneOf failure repeats what its branches already said (a quantity is "a number or a string").
      if (err.keyword === "oneOf" || (err.keyword === "type" && err.message === "must be number")) continue;
      const path = readablePath(pod, err.instancePath);
      const key = `${path}: ${err.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      add(path, err.message ?? "is invalid");
    }
  }
}

/** `/spec/containers/0/image` → `spec.containers[maven].image`: list items by their name where they have one. */
export function readablePath(root: unknown, pointer: string): string {
  let path = "";
  let node: unknown = root;
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      const item: unknown = node[Number(seg)];
      path += `[${listItemKey(path, item) ?? seg}]`;
      node = item;
    } else {
      path += path === "" ? seg : `.${seg}`;
      node = isObject(node) ? node[seg] : undefined;
    }
  }
  return path || "(pod)";
}

function objects(v: unknown): JsonObject[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function ruleProblems(pod: JsonObject, add: (path: string, message: string) => void): void {
  const metadata = isObject(pod["metadata"]) ? pod["metadata"] : {};
  const spec = isObject(pod["spec"]) ? pod["spec"] : {};
  const name = metadata["name"];
  if (typeof name === "string" && (name.length > 253 || !DNS_SUBDOMAIN.test(name))) {
    add("metadata.name", `a pod name must be a lowercase RFC 1123 subdomain (got '${name}')`);
  }
  const namespace = metadata["namespace"];
  if (typeof namespace === "string" && (namespace.length > 63 || !RFC1123_LABEL.test(namespace))) {
    add("metadata.namespace", `a namespace must be a lowercase RFC 1123 label (got '${namespace}')`);
  }
  for (const field of ["labels", "annotations"] as const) {
    const map = isObject(metadata[field]) ? metadata[field] : {};
    for (const [key, value] of Object.entries(map)) {
      if (!isQualifiedKey(key)) add(`metadata.${field}[${key}]`, `'${key}' is not a valid ${field === "labels" ? "label" : "annotation"} key`);
      if (field === "labels" && !isValidLabelValue(String(value))) add(`metadata.labels[${key}]`, `'${String(value)}' is not a valid label value (63 characters at most, alphanumeric at both ends)`);
    }
  }

  const volumes = objects(spec["volumes"]);
  const volumeNames = new Set<string>();
  for (const v of volumes) {
    const vn = String(v["name"] ?? "");
    if (!RFC1123_LABEL.test(vn) || vn.length > 63) add(`spec.volumes[${vn}].name`, `a volume name must be a lowercase RFC 1123 label (got '${vn}')`);
    if (volumeNames.has(vn)) add(`spec.volumes[${vn}]`, `duplicate volume name '${vn}'`);
    volumeNames.add(vn);
  }

  const containers = objects(spec["containers"]);
  if (containers.length === 0) add("spec.containers", "a pod needs at least one container");
  const containerNames = new Set<string>();
  for (const [field, list] of [["containers", containers], ["initContainers", objects(spec["initContainers"])]] as const) {
    for (const c of list) {
      const cn = String(c["name"] ?? "");
      const path = `spec.${field}[${cn}]`;
      if (!RFC1123_LABEL.test(cn) || cn.length > 63) {
        add(`${path}.name`, `container names must match RFC 1123: lowercase letters, digits and '-', starting and ending alphanumeric, at most 63 (got '${cn}')`);
      }
      if (containerNames.has(cn)) add(`${path}.name`, `duplicate container name '${cn}'`);
      containerNames.add(cn);
      const image = c["image"];
      if (typeof image !== "string" || image.trim() === "") add(`${path}.image`, "an image is required");
      else if (/\s/.test(image)) add(`${path}.image`, `malformed image '${image}' (contains whitespace)`);
      containerRules(c, path, volumeNames, add);
    }
  }

  const restartPolicy = spec["restartPolicy"];
  if (restartPolicy !== undefined && !["Always", "OnFailure", "Never"].includes(String(restartPolicy))) {
    add("spec.restartPolicy", `restartPolicy must be Always, OnFailure or Never (got '${String(restartPolicy)}')`);
  }
  const deadline = spec["activeDeadlineSeconds"];
  if (typeof deadline === "number" && deadline <= 0) add("spec.activeDeadlineSeconds", "activeDeadlineSeconds must be greater than 0");
}

function isQualifiedKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
}

function containerRules(c: JsonObject, path: string, volumeNames: Set<string>, add: (path: string, message: string) => void): void {
  const mountPaths = new Set<string>();
  for (const m of objects(c["volumeMounts"])) {
    const mp = String(m["mountPath"] ?? "");
    const mountPath = `${path}.volumeMounts[${mp}]`;
    if (!volumeNames.has(String(m["name"]))) add(mountPath, `mount at '${mp}' refers to volume '${String(m["name"])}', which the pod does not have`);
    if (mountPaths.has(mp)) add(mountPath, `two mounts at '${mp}'`);
    mountPaths.add(mp);
  }
  const portNames = new Set<string>();
  for (const p of objects(c["ports"])) {
    const port = p["containerPort"];
    const portPath = `${path}.ports[${String(port)}/${String(p["protocol"] ?? "TCP")}]`;
    for (const field of ["containerPort", "hostPort"]) {
      const v = p[field];
      if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535)) add(`${portPath}.${field}`, `${field} must be between 1 and 65535 (got ${String(v)})`);
    }
    const pn = p["name"];
    if (typeof pn === "string") {
      if (pn.length > 15 || !PORT_NAME.test(pn) || !/[a-z]/.test(pn)) add(`${portPath}.name`, `port name '${pn}' must be at most 15 lowercase letters, digits and '-', with a letter`);
      if (portNames.has(pn)) add(`${portPath}.name`, `duplicate port name '${pn}'`);
      portNames.add(pn);
    }
  }
  const resources = isObject(c["resources"]) ? c["resources"] : {};
  const requests = isObject(resources["requests"]) ? resources["requests"] : {};
  const limits = isObject(resources["limits"]) ? resources["limits"] : {};
  for (const [resource, limit] of Object.entries(limits)) {
    const request = requests[resource];
    const r = request === undefined ? undefined : parseQuantity(request);
    const l = parseQuantity(limit);
    if (r !== undefined && l !== undefined && r > l) {
      add(`${path}.resources.requests.${resource}`, `request ${String(request)} is more than the limit ${String(limit)}`);
    }
  }
}

const SUFFIXES: Record<string, number> = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number, or undefined when it is not one. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  return m[2] !== undefined ? base * 10 ** Number(m[2]) : base * SUFFIXES[m[3] ?? ""]!;
}
