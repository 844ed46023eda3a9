// Template inheritance: `inheritFrom` (one or several space-separated parents, later ones win), the
// cloud's defaults template as the implicit first parent, and the field-by-field combination of a parent
// and a child template. The rules follow the Kubernetes plugin; where the plugin silently drops what a
// user wrote, Berth keeps it (docs/templates.md lists each difference).
import type { Cloud, ContainerTemplate, EnvVar, PodTemplate, YamlFragment } from "./model.ts";
import { NO_TRACE, OriginMap, Provenance, RecordingMerge, type MergeTrace } from "./trace.ts";
import { TemplateError } from "./errors.ts";

export interface ResolvedTemplate {
  /** The combined fields of the whole chain (its own `yaml` is folded into `yamls`). */
  template: PodTemplate;
  /** Raw YAML fragments, ancestors first. */
  yamls: YamlFragment[];
  /** Template names in the order they were applied, ancestors first. */
  chain: string[];
  warnings: string[];
  provenance?: Provenance;
}

export interface ResolveOptions {
  /** Templates that exist only while a pipeline runs (podTemplate steps); searched after the cloud's. */
  extraTemplates?: PodTemplate[];
  trace?: boolean;
}

export function templateDisplayName(t: PodTemplate): string {
  return t.name ?? t.label ?? "(unnamed template)";
}

// Resolutions of a cloud's own templates, remembered per cloud and template object: clouds and
// templates are values (a changed config is loaded as new objects), so an entry can never go stale.
// Traced resolutions and those involving a pipeline's templates are not remembered.
const resolutions = new WeakMap<Cloud, WeakMap<PodTemplate, ResolvedTemplate>>();

/**
 * Resolves a template against its cloud: every ancestor combined into it, in the documented order.
 * The result is shared between callers: read it, do not change it.
 */
export function resolveTemplate(template: PodTemplate, cloud: Cloud, options: ResolveOptions = {}): ResolvedTemplate {
  const cacheable = !options.trace && !options.extraTemplates?.length;
  if (!cacheable) return resolveUncached(template, cloud, options);
  let perCloud = resolutions.get(cloud);
  if (!perCloud) resolutions.set(cloud, (perCloud = new WeakMap()));
  let resolved = perCloud.get(template);
  if (!resolved) perCloud.set(template, (resolved = resolveUncached(template, cloud, options)));
  return resolved;
}

function resolveUncached(template: PodTemplate, cloud: Cloud, options: ResolveOptions): ResolvedTemplate {
  const all = [...cloud.templates, ...(options.extraTemplates ?? [])];
  const warnings: string[] = [];
  const lookup = (name: string, wantedBy: PodTemplate): PodTemplate | undefined => {
    const found = all.find((t) => t.name === name);
    if (!found) warnings.push(`template '${templateDisplayName(wantedBy)}' inherits from '${name}', which does not exist in cloud '${cloud.name}': ignored`);
    return found;
  };
  const trace = options.trace ?? false;

  const unwrap = (t: PodTemplate, stack: string[], withDefaults: boolean): Layer => {
    const name = templateDisplayName(t);
    if (t.name !== undefined && stack.includes(t.name)) {
      throw new TemplateError(`inheritance cycle: ${[...stack, t.name].join(" -> ")}`, t.at);
    }
    const inner = t.name !== undefined ? [...stack, t.name] : stack;
    const parents: string[] = [];
    if (withDefaults && cloud.defaultsProviderTemplate && cloud.defaultsProviderTemplate !== t.name) {
      parents.push(cloud.defaultsProviderTemplate);
    }
    parents.push(...parentNames(t));
    let result: Layer | undefined;
    for (const parentName of parents) {
      const parent = lookup(parentName, t);
      if (!parent) continue;
      const unwrapped = unwrap(parent, inner, false);
      result = result ? combineLayers(result, unwrapped, trace) : unwrapped;
    }
    const own = ownLayer(t, name, trace);
    return result ? combineLayers(result, own, trace) : own;
  };

  const layer = unwrap(template, [], true);
  return { template: layer.template, yamls: layer.yamls, chain: layer.chain, warnings, provenance: layer.provenance };
}

export function parentNames(t: PodTemplate): string[] {
  return (t.inheritFrom ?? "").trim().split(/ +/).filter((n) => n !== "");
}

interface Layer {
  template: PodTemplate;
  yamls: YamlFragment[];
  chain: string[];
  provenance?: Provenance;
}

function ownLayer(t: PodTemplate, name: string, trace: boolean): Layer {
  const yamls = t.yaml?.trim() ? [{ template: name, text: t.yaml, ...(t.yamlAt ? { at: t.yamlAt } : {}) }] : [];
  return {
    template: t,
    yamls,
    chain: [name],
    ...(trace ? { provenance: new Provenance(new OriginMap({ template: name, via: "fields" })) } : {}),
  };
}

function combineLayers(parent: Layer, child: Layer, trace: boolean): Layer {
  let provenance: Provenance | undefined;
  let tracer: MergeTrace = NO_TRACE;
  if (trace && parent.provenance && child.provenance) {
    provenance = new Provenance(new OriginMap(child.provenance.origins.fallback), [...parent.provenance.shadows, ...child.provenance.shadows]);
    tracer = new RecordingMerge(parent.provenance.origins, child.provenance.origins, provenance);
  }
  return {
    template: combineTemplates(parent.template, child.template, tracer),
    yamls: [...parent.yamls, ...child.yamls],
    chain: [...parent.chain, ...child.chain],
    ...(provenance ? { provenance } : {}),
  };
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null && v !== "";

/** Chooses the child's value when it has one, recording what the parent's lost. */
function pick<T>(trace: MergeTrace, path: string, parent: T | undefined, child: T | undefined): T | undefined {
  if (isSet(child)) {
    trace.take(path, "child");
    if (trace.recording && isSet(parent) && !sameValue(parent, child)) trace.shadow(path, parent);
    return child;
  }
  if (isSet(parent)) trace.take(path, "parent");
  return isSet(parent) ? parent : undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Merges two lists by key: parent items keep their place (replaced or combined with the child's item of
 * the same key), child-only items follow in the child's order. Within one list, the last item of a key wins.
 */
export function mergeByKey<T>(
  trace: MergeTrace,
  path: string,
  parent: T[] | undefined,
  child: T[] | undefined,
  key: (item: T) => string,
  combine?: (path: string, parent: T, child: T) => T,
): T[] | undefined {
  if (!parent?.length && !child?.length) return parent ?? child;
  const out = new Map<string, T>();
  for (const item of parent ?? []) {
    out.set(key(item), item);
    trace.take(`${path}[${key(item)}]`, "parent");
  }
  for (const item of child ?? []) {
    const k = key(item);
    const itemPath = `${path}[${k}]`;
    const existing = out.get(k);
    if (existing !== undefined && combine) {
      out.set(k, combine(itemPath, existing, item));
    } else {
      if (trace.recording && existing !== undefined && !sameValue(existing, item)) trace.shadow(itemPath, existing);
      out.set(k, item);
      trace.take(itemPath, "child");
    }
  }
  return [...out.values()];
}

// Scalar template settings: [field, path in the pod or template namespace]. Child wins when set.
const SCALAR_FIELDS: ReadonlyArray<readonly [keyof PodTemplate, string]> = [
  ["namespace", "metadata.namespace"],
  ["nodeSelector", "spec.nodeSelector"],
  ["serviceAccount", "spec.serviceAccountName"],
  ["schedulerName", "spec.schedulerName"],
  ["agentContainer", "template.agentContainer"],
  ["runAsUser", "spec.securityContext.runAsUser"],
  ["runAsGroup", "spec.securityContext.runAsGroup"],
  ["supplementalGroups", "spec.securityContext.supplementalGroups"],
  ["instanceCap", "template.instanceCap"],
  ["slaveConnectTimeout", "template.slaveConnectTimeout"],
  ["idleMinutes", "template.idleMinutes"],
  ["activeDeadlineSeconds", "spec.activeDeadlineSeconds"],
  ["terminationGracePeriodSeconds", "spec.terminationGracePeriodSeconds"],
  ["hostNetwork", "spec.hostNetwork"],
  ["agentInjection", "template.agentInjection"],
  ["nodeUsageMode", "template.nodeUsageMode"],
  ["podRetention", "template.podRetention"],
  ["workspaceVolume", "spec.volumes[workspace-volume]"],
];

/** Combines a parent template and a child template (reference §3.2, with Berth's differences). */
export function combineTemplates(parent: PodTemplate, child: PodTemplate, trace: MergeTrace = NO_TRACE): PodTemplate {
  const { yaml: _yaml, yamlAt: _yamlAt, ...out } = child;
  const record = out as Record<string, unknown>;
  for (const [field, path] of SCALAR_FIELDS) {
    const value = pick(trace, path, parent[field], child[field]);
    if (value !== undefined) record[field] = value;
    else if (field in record) delete record[field];
  }
  // Hiding the raw YAML anywhere in the chain hides it: a parent may keep its pod out of build logs.
  if (parent.showRawYaml !== undefined || child.showRawYaml !== undefined) {
    out.showRawYaml = (parent.showRawYaml ?? true) && (child.showRawYaml ?? true);
    trace.take("template.showRawYaml", parent.showRawYaml === false ? "parent" : "child");
  }
  const strategy = child.yamlMergeStrategy ?? (parent.inheritYamlMergeStrategy ? parent.yamlMergeStrategy : undefined);
  if (strategy === undefined) {
    if ("yamlMergeStrategy" in out) delete out.yamlMergeStrategy;
  } else {
    out.yamlMergeStrategy = strategy;
    trace.take("template.yamlMergeStrategy", child.yamlMergeStrategy ? "child" : "parent");
  }
  const inheritStrategy = child.inheritYamlMergeStrategy ?? parent.inheritYamlMergeStrategy;
  if (inheritStrategy !== undefined) out.inheritYamlMergeStrategy = inheritStrategy;

  setList(out, "envVars", mergeByKey(trace, "template.envVars", parent.envVars, child.envVars, envKey));
  setList(out, "volumes", mergeByKey(trace, "template.volumes", parent.volumes, child.volumes, (v) => normalizeMountPath(v.mountPath)));
  setList(out, "imagePullSecrets", mergeByKey(trace, "spec.imagePullSecrets", parent.imagePullSecrets, child.imagePullSecrets, (s) => s));
  setList(out, "annotations", mergeByKey(trace, "metadata.annotations", parent.annotations, child.annotations, (a) => a.key));
  setList(
    out,
    "containers",
    mergeByKey(trace, "spec.containers", parent.containers, child.containers, (c) => c.name, (path, p, c) => combineContainerTemplates(p, c, trace, path)),
  );
  return out;
}

function setList<K extends "envVars" | "volumes" | "imagePullSecrets" | "annotations" | "containers">(
  t: PodTemplate,
  field: K,
  value: PodTemplate[K],
): void {
  if (value !== undefined && value.length > 0) t[field] = value;
  else if (field in t) delete t[field];
}

export const envKey = (e: EnvVar): string => e.key;

export function normalizeMountPath(p: string): string {
  if (!/\/\/|\/\.|\\|.\/$/.test(p)) return p; // already normal: the usual case
  const parts: string[] = [];
  for (const part of p.replace(/\\/g, "/").split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return (p.startsWith("/") || p.startsWith("\\") ? "/" : "") + parts.join("/");
}

// Container settings: [field, path below the container]. Child wins when set.
const CONTAINER_FIELDS: ReadonlyArray<readonly [keyof ContainerTemplate, string]> = [
  ["image", "image"],
  ["command", "command"],
  ["args", "args"],
  ["workingDir", "workingDir"],
  ["shell", "shell"],
  ["ttyEnabled", "tty"],
  ["privileged", "securityContext.privileged"],
  ["alwaysPullImage", "imagePullPolicy"],
  ["runAsUser", "securityContext.runAsUser"],
  ["runAsGroup", "securityContext.runAsGroup"],
  ["resourceRequestCpu", "resources.requests[cpu]"],
  ["resourceRequestMemory", "resources.requests[memory]"],
  ["resourceRequestEphemeralStorage", "resources.requests[ephemeral-storage]"],
  ["resourceLimitCpu", "resources.limits[cpu]"],
  ["resourceLimitMemory", "resources.limits[memory]"],
  ["resourceLimitEphemeralStorage", "resources.limits[ephemeral-storage]"],
  ["livenessProbe", "livenessProbe"],
];

/** Combines two container templates of the same name (reference §3.3, with Berth's differences). */
export function combineContainerTemplates(
  parent: ContainerTemplate,
  child: ContainerTemplate,
  trace: MergeTrace = NO_TRACE,
  path = `spec.containers[${child.name}]`,
): ContainerTemplate {
  const out: ContainerTemplate = { name: child.name };
  const record = out as unknown as Record<string, unknown>;
  for (const [field, sub] of CONTAINER_FIELDS) {
    const value = pick(trace, `${path}.${sub}`, parent[field], child[field]);
    if (value !== undefined) record[field] = value;
  }
  const env = mergeByKey(trace, `${path}.env`, parent.envVars, child.envVars, envKey);
  if (env?.length) out.envVars = env;
  const ports = mergeByKey(trace, `${path}.ports`, parent.ports, child.ports, (p) => p.name ?? String(p.containerPort));
  if (ports?.length) out.ports = ports;
  return out;
}
