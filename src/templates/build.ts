// Building the Pod an agent runs in, from a resolved template: the template's fields become a pod, its
// YAML fragments become another, the fields win over the YAML, and then the agent container, its
// JENKINS_* variables, the workspace volume and the cluster-facing defaults are added.
// Pure: the agent's name, secret and controller URL come in; nothing is read from the outside.
import type { Cloud, ContainerTemplate, EnvVar, PodTemplate, Volume, WorkspaceVolume } from "./model.ts";
import { DEFAULT_AGENT_CONTAINER, DEFAULT_WORKING_DIR, WORKSPACE_VOLUME_NAME } from "./model.ts";
import type { ResolvedTemplate } from "./inherit.ts";
import { envKey, normalizeMountPath, templateDisplayName } from "./inherit.ts";
import { TemplateError } from "./errors.ts";
import { combinePods, isObject, type JsonObject } from "./pod-merge.ts";
import { combineFragments } from "./yaml-fragments.ts";
import { sanitizeLabel, splitCommandLine, templateLabels } from "./naming.ts";
import { OriginMap, Provenance, RecordingMerge, type Origin } from "./trace.ts";
import { agentBootstrap, agentImageFor } from "./agent-container.ts";

export interface AgentIdentity {
  /** The agent's name, which is also the pod's name. */
  name: string;
  secret: string;
  /** Where the agent connects back to (the plugin's Jenkins URL). */
  controllerUrl: string;
  /** The controller's own proxy variables (http_proxy, no_proxy, ...), given to pods of clouds with addMasterProxyEnvVars. */
  proxyEnv?: Record<string, string>;
}

export interface BuiltPod {
  pod: JsonObject;
  /** Present when the resolution was traced: the origin of every field and every shadowed value. */
  provenance?: Provenance;
  notes: string[];
}

const DEFAULT_ORIGIN: Origin = { template: "berth default", via: "default" };
const AGENT_ORIGIN: Origin = { template: "berth agent", via: "default" };

/** Where building records the origin of what it writes; `from` reads a template setting's origin. */
interface Recorder {
  set(path: string, origin: Origin): void;
  from(templatePath: string): Origin;
}

const NO_RECORD: Recorder = { set() {}, from: () => DEFAULT_ORIGIN };

function recorderFor(target: Provenance, templateOrigins: OriginMap): Recorder {
  return { set: (path, origin) => target.origins.entries.set(path, origin), from: (path) => templateOrigins.originOf(path) };
}

export function buildPod(resolved: ResolvedTemplate, cloud: Cloud, agent: AgentIdentity): BuiltPod {
  const t = resolved.template;
  const name = resolved.chain.at(-1) ?? templateDisplayName(t);
  const tracing = resolved.provenance !== undefined;
  const controllerUrl = withTrailingSlash(agent.controllerUrl);

  // Fields pod, with origins carried over from the template's own paths.
  const templateOrigins = resolved.provenance?.origins ?? new OriginMap({ template: name, via: "fields" });
  const fieldsOrigins = new Provenance(new OriginMap({ template: name, via: "fields" }), [...(resolved.provenance?.shadows ?? [])]);
  for (const [p, o] of templateOrigins.entries) fieldsOrigins.origins.entries.set(p, o);
  const fieldsRecord = tracing ? recorderFor(fieldsOrigins, templateOrigins) : NO_RECORD;
  const mounts = templateMounts(t.volumes ?? [], fieldsRecord);
  const fieldsPod = buildFieldsPod(t, name, cloud, agent, controllerUrl, mounts, fieldsRecord);

  // YAML pod, then fields over YAML.
  const strategy = t.yamlMergeStrategy ?? "override";
  const yaml = combineFragments(resolved.yamls, strategy, tracing);
  const notes = [...yaml.notes];
  let provenance: Provenance | undefined;
  let merged: JsonObject;
  if (tracing) {
    const yamlOrigins = yaml.provenance ?? new Provenance(new OriginMap(fieldsOrigins.origins.fallback));
    provenance = new Provenance(new OriginMap(fieldsOrigins.origins.fallback), [...yamlOrigins.shadows, ...fieldsOrigins.shadows]);
    merged = combinePods(yaml.pod, fieldsPod, new RecordingMerge(yamlOrigins.origins, fieldsOrigins.origins, provenance));
    // Template-only settings (label, caps, retention, ...) are not pod fields; keep their origins too.
    for (const [p, o] of templateOrigins.entries) if (p.startsWith("template.")) provenance.origins.entries.set(p, o);
  } else {
    merged = combinePods(yaml.pod, fieldsPod);
  }
  const record = provenance ? recorderFor(provenance, templateOrigins) : NO_RECORD;
  const pod = finishPod(merged, t, cloud, agent, controllerUrl, mounts, new Set((t.containers ?? []).map((c) => c.name)), record, notes);
  return { pod, notes, ...(provenance ? { provenance } : {}) };
}

function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

interface TemplateMount {
  volume: JsonObject;
  mount: JsonObject;
}

/** Template volumes as pod volumes `volume-0`, `volume-1`, ... and their mounts; one per mount path. */
function templateMounts(volumes: Volume[], record: Recorder): TemplateMount[] {
  const out: TemplateMount[] = [];
  const seen = new Set<string>();
  for (const v of volumes) {
    const mountPath = normalizeMountPath(v.mountPath);
    if (seen.has(mountPath)) continue;
    seen.add(mountPath);
    const name = `volume-${out.length}`;
    const mount: JsonObject = { name, mountPath, readOnly: v.kind === "hostPathVolume" ? (v.readOnly ?? false) : false };
    if (v.kind === "configMapVolume" && v.subPath) mount["subPath"] = normalizeMountPath(v.subPath);
    out.push({ volume: { name, ...volumeSource(v) }, mount });
    record.set(`spec.volumes[${name}]`, record.from(`template.volumes[${mountPath}]`));
  }
  return out;
}

function volumeSource(v: Volume): JsonObject {
  switch (v.kind) {
    case "emptyDirVolume":
      return { emptyDir: v.memory ? { medium: "Memory" } : {} };
    case "configMapVolume":
      return { configMap: { name: v.configMapName, ...(v.optional !== undefined ? { optional: v.optional } : {}) } };
    case "secretVolume":
      return {
        secret: {
          secretName: v.secretName,
          ...(v.optional !== undefined ? { optional: v.optional } : {}),
          ...(v.defaultMode ? { defaultMode: parseFileMode(v.defaultMode) } : {}),
        },
      };
    case "hostPathVolume":
      return { hostPath: { path: v.hostPath } };
    case "nfsVolume":
      return { nfs: { server: v.serverAddress, path: v.serverPath, ...(v.readOnly !== undefined ? { readOnly: v.readOnly } : {}) } };
    case "persistentVolumeClaim":
      return { persistentVolumeClaim: { claimName: v.claimName, readOnly: v.readOnly ?? false } };
    case "dynamicPVC":
    case "genericEphemeralVolume":
      return ephemeralVolume(v);
  }
}

/**
 * A file mode: with a leading 0 it is octal as in chmod ("0644"); without, decimal as the plugin reads
 * it ("420"). The plugin reads "0644" as decimal 644, a different mode from the one meant.
 */
export function parseFileMode(mode: string): number {
  const s = mode.trim();
  if (/^0[0-7]*$/.test(s)) return Number.parseInt(s, 8);
  if (/^\d+$/.test(s)) return Number.parseInt(s, 10);
  throw new TemplateError(`secret volume defaultMode '${mode}' is not a file mode (expected e.g. 0644)`);
}

function ephemeralVolume(v: { storageClassName?: string; requestsSize?: string; accessModes?: string }): JsonObject {
  return {
    ephemeral: {
      volumeClaimTemplate: {
        spec: {
          accessModes: [v.accessModes || "ReadWriteOnce"],
          ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}),
          resources: { requests: { storage: v.requestsSize || "10Gi" } },
        },
      },
    },
  };
}

function workspaceVolumeSource(w: WorkspaceVolume | undefined, podName: string): JsonObject {
  if (!w) return { emptyDir: {} };
  switch (w.kind) {
    case "emptyDirWorkspaceVolume":
      return { emptyDir: { ...(w.memory ? { medium: "Memory" } : {}), ...(w.sizeLimit ? { sizeLimit: w.sizeLimit } : {}) } };
    case "hostPathWorkspaceVolume":
      return { hostPath: { path: w.hostPath } };
    case "nfsWorkspaceVolume":
      return { nfs: { server: w.serverAddress, path: w.serverPath, ...(w.readOnly !== undefined ? { readOnly: w.readOnly } : {}) } };
    case "persistentVolumeClaimWorkspaceVolume":
      return { persistentVolumeClaim: { claimName: w.claimName, readOnly: w.readOnly ?? false } };
    case "dynamicPVC":
      // The claim itself is created by the controller when it launches the pod (owned by the pod).
      return { persistentVolumeClaim: { claimName: `pvc-workspace-${podName}`, readOnly: false } };
    case "genericEphemeralVolume":
      return ephemeralVolume(w);
  }
}

/** Pod-level env vars: the controller's proxy variables when the cloud asks for them, then the template's. */
function podEnvOf(t: PodTemplate, cloud: Cloud, agent: AgentIdentity): JsonObject[] {
  const own = (t.envVars ?? []).map(envEntry);
  if (!cloud.addMasterProxyEnvVars || !agent.proxyEnv) return own;
  const proxy = Object.entries(agent.proxyEnv)
    .filter(([name]) => !own.some((e) => e["name"] === name))
    .map(([name, value]) => ({ name, value }));
  return [...proxy, ...own];
}

function envEntry(e: EnvVar): JsonObject {
  if (e.kind === "envVar") return { name: e.key, value: e.value };
  return {
    name: e.key,
    valueFrom: { secretKeyRef: { name: e.secretName, key: e.secretKey, ...(e.optional !== undefined ? { optional: e.optional } : {}) } },
  };
}

function parseIntegerField(value: string | undefined, field: string, template: string): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw new TemplateError(`template '${template}': ${field} '${value}' is not a number`);
  return Number.parseInt(value.trim(), 10);
}

export function parseNodeSelector(selector: string, template: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of selector.split(",")) {
    if (entry.trim() === "") continue;
    const parts = entry.split("=");
    if (parts.length !== 2 || parts[0]!.trim() === "" || parts[1]!.trim() === "") {
      throw new TemplateError(`template '${template}': nodeSelector entry '${entry.trim()}' is not key=value`);
    }
    out[parts[0]!.trim()] = parts[1]!.trim();
  }
  return out;
}

function buildFieldsPod(
  t: PodTemplate,
  name: string,
  cloud: Cloud,
  agent: AgentIdentity,
  controllerUrl: string,
  mounts: TemplateMount[],
  record: Recorder,
): JsonObject {
  const labels: Record<string, string> = { ...cloud.podLabels, ...templateLabels(t.label) };
  labels["kubernetes.jenkins.io/controller"] = sanitizeLabel(controllerUrl);
  for (const key of Object.keys(labels)) record.set(`metadata.labels[${key}]`, key in cloud.podLabels ? { template: `cloud ${cloud.name}`, via: "fields" } : record.from("template.label"));
  record.set("metadata.name", AGENT_ORIGIN);

  const metadata: JsonObject = { name: agent.name, labels };
  if (t.namespace) metadata["namespace"] = t.namespace;
  if (t.annotations?.length) metadata["annotations"] = Object.fromEntries(t.annotations.map((a) => [a.key, a.value]));

  const podEnv = podEnvOf(t, cloud, agent);
  const containers = (t.containers ?? []).map((c) => buildContainer(c, podEnv, mounts, name, agent, record));
  const spec: JsonObject = { containers };
  if (t.activeDeadlineSeconds && t.activeDeadlineSeconds > 0) spec["activeDeadlineSeconds"] = t.activeDeadlineSeconds;
  spec["volumes"] = [...mounts.map((m) => m.volume), { name: WORKSPACE_VOLUME_NAME, ...workspaceVolumeSource(t.workspaceVolume, agent.name) }];
  if (t.serviceAccount) spec["serviceAccountName"] = t.serviceAccount;
  if (t.schedulerName) spec["schedulerName"] = t.schedulerName;
  if (t.imagePullSecrets?.length) spec["imagePullSecrets"] = t.imagePullSecrets.map((n) => ({ name: n }));
  if (t.nodeSelector) spec["nodeSelector"] = parseNodeSelector(t.nodeSelector, name);
  if (t.terminationGracePeriodSeconds !== undefined) spec["terminationGracePeriodSeconds"] = t.terminationGracePeriodSeconds;
  const securityContext: JsonObject = {};
  const runAsUser = parseIntegerField(t.runAsUser, "runAsUser", name);
  const runAsGroup = parseIntegerField(t.runAsGroup, "runAsGroup", name);
  if (runAsUser !== undefined) securityContext["runAsUser"] = runAsUser;
  if (runAsGroup !== undefined) securityContext["runAsGroup"] = runAsGroup;
  if (t.supplementalGroups?.trim()) {
    securityContext["supplementalGroups"] = t.supplementalGroups
      .split(",")
      .filter((g) => g.trim() !== "")
      .map((g) => parseIntegerField(g, "supplementalGroups", name)!);
  }
  if (Object.keys(securityContext).length) spec["securityContext"] = securityContext;
  if (t.hostNetwork !== undefined) spec["hostNetwork"] = t.hostNetwork;
  return { apiVersion: "v1", kind: "Pod", metadata, spec };
}

function buildContainer(c: ContainerTemplate, podEnv: JsonObject[], mounts: TemplateMount[], template: string, agent: AgentIdentity, record: Recorder): JsonObject {
  const path = `spec.containers[${c.name}]`;
  const own = (c.envVars ?? []).map(envEntry);
  const ownNames = new Set((c.envVars ?? []).map(envKey));
  const env = [...podEnv.filter((e) => !ownNames.has(e["name"] as string)), ...own];
  for (const e of podEnv) if (!ownNames.has(e["name"] as string)) record.set(`${path}.env[${String(e["name"])}]`, record.from(`template.envVars[${String(e["name"])}]`));

  const container: JsonObject = { name: c.name };
  if (c.image) container["image"] = c.image;
  if (c.alwaysPullImage !== undefined) container["imagePullPolicy"] = c.alwaysPullImage ? "Always" : "IfNotPresent";
  if (c.command?.trim()) container["command"] = splitCommandLine(c.command);
  if (c.args?.trim()) container["args"] = splitCommandLine(expandAgentMacros(c.args, agent));
  if (c.workingDir) container["workingDir"] = c.workingDir;
  if (c.ttyEnabled !== undefined) container["tty"] = c.ttyEnabled;
  if (env.length) container["env"] = env;
  const securityContext: JsonObject = {};
  if (c.privileged !== undefined) securityContext["privileged"] = c.privileged;
  const runAsUser = parseIntegerField(c.runAsUser, `container '${c.name}' runAsUser`, template);
  const runAsGroup = parseIntegerField(c.runAsGroup, `container '${c.name}' runAsGroup`, template);
  if (runAsUser !== undefined) securityContext["runAsUser"] = runAsUser;
  if (runAsGroup !== undefined) securityContext["runAsGroup"] = runAsGroup;
  if (Object.keys(securityContext).length) container["securityContext"] = securityContext;
  const resources = containerResources(c);
  if (resources) container["resources"] = resources;
  if (c.ports?.length) {
    container["ports"] = c.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, ...(p.hostPort ? { hostPort: p.hostPort } : {}) }));
  }
  if (c.livenessProbe?.execArgs.trim()) {
    const { execArgs, ...timings } = c.livenessProbe;
    container["livenessProbe"] = { exec: { command: splitCommandLine(execArgs) }, ...timings };
  }
  const volumeMounts = mounts.map((m) => m.mount);
  for (const m of mounts) record.set(`${path}.volumeMounts[${String(m.mount["mountPath"])}]`, record.from(`template.volumes[${String(m.mount["mountPath"])}]`));
  if (c.workingDir && !volumeMounts.some((m) => m.mountPath === c.workingDir)) {
    volumeMounts.push({ name: WORKSPACE_VOLUME_NAME, mountPath: c.workingDir, readOnly: false });
  }
  if (volumeMounts.length) container["volumeMounts"] = volumeMounts;
  return container;
}

/** The plugin's `${computer.jnlpmac}` and `${computer.name}` in containerTemplate args: the agent's secret and name. */
function expandAgentMacros(args: string, agent: AgentIdentity): string {
  return args.replaceAll("${computer.jnlpmac}", agent.secret).replaceAll("${computer.name}", agent.name);
}

function containerResources(c: ContainerTemplate): JsonObject | undefined {
  const pick = (cpu?: string, memory?: string, storage?: string) => {
    const out: Record<string, string> = {};
    if (cpu?.trim()) out["cpu"] = cpu.trim();
    if (memory?.trim()) out["memory"] = memory.trim();
    if (storage?.trim()) out["ephemeral-storage"] = storage.trim();
    return Object.keys(out).length ? out : undefined;
  };
  const requests = pick(c.resourceRequestCpu, c.resourceRequestMemory, c.resourceRequestEphemeralStorage);
  const limits = pick(c.resourceLimitCpu, c.resourceLimitMemory, c.resourceLimitEphemeralStorage);
  if (!requests && !limits) return undefined;
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

function listOf(pod: JsonObject, field: string): JsonObject[] {
  const spec = pod["spec"] as JsonObject;
  const list = spec[field];
  return Array.isArray(list) ? (list.filter(isObject) as JsonObject[]) : [];
}

/**
 * Everything after fields and YAML are merged: agent container, workspace, defaults. The merged pod may
 * share frozen parts with cached YAML, so what this changes is copied first (pod, metadata, spec, each
 * container and its env and mounts); the rest stays shared, and so the returned pod is to be read, not
 * changed (cloneJson it first).
 */
/** Jenkins' own inbound agent images (and their old names), with or without a registry and tag. */
const REMOTING_AGENT_IMAGE = /^(?:[^/]+\.[^/]+\/|docker\.io\/)?(?:jenkins\/(?:inbound-agent|jnlp-slave|jnlp-agent[^:@]*|slave|agent)|jenkinsci\/jnlp-slave)(?:[:@].*)?$/;

function finishPod(
  merged: JsonObject,
  t: PodTemplate,
  cloud: Cloud,
  agent: AgentIdentity,
  controllerUrl: string,
  mounts: TemplateMount[],
  templateContainers: Set<string>,
  record: Recorder,
  notes: string[],
): JsonObject {
  const pod: JsonObject = { ...merged, apiVersion: "v1", kind: "Pod" };
  record.set("apiVersion", DEFAULT_ORIGIN);
  record.set("kind", DEFAULT_ORIGIN);
  const metadata: JsonObject = { ...(isObject(merged["metadata"]) ? merged["metadata"] : {}), name: agent.name };
  pod["metadata"] = metadata;
  if (!metadata["namespace"] && cloud.namespace) {
    metadata["namespace"] = cloud.namespace;
    record.set("metadata.namespace", { template: `cloud ${cloud.name}`, via: "fields" });
  }
  const spec: JsonObject = { ...(isObject(merged["spec"]) ? merged["spec"] : {}) };
  pod["spec"] = spec;
  const containers = listOf(pod, "containers").map(writableContainer);
  spec["containers"] = containers;
  if (spec["initContainers"]) spec["initContainers"] = listOf(pod, "initContainers").map(writableContainer);
  const podEnv = podEnvOf(t, cloud, agent);

  // Pod-level env vars and volumes are "applied to ALL containers" (seed 001), also those only in YAML.
  for (const c of containers) if (!templateContainers.has(c["name"] as string)) applyPodWide(c, podEnv, mounts, record);

  // The agent container: the template's or YAML's own, else a generated one at the end.
  const agentName = t.agentContainer || DEFAULT_AGENT_CONTAINER;
  const agentPath = `spec.containers[${agentName}]`;
  let agentContainer = containers.find((c) => c["name"] === agentName);
  if (!agentContainer) {
    agentContainer = { name: agentName };
    containers.push(agentContainer);
    record.set(agentPath, AGENT_ORIGIN);
    applyPodWide(agentContainer, podEnv, mounts, record);
  }
  for (const c of containers) {
    if (!c["workingDir"] && agentContainer["workingDir"]) {
      c["workingDir"] = agentContainer["workingDir"];
      record.set(`spec.containers[${String(c["name"])}].workingDir`, AGENT_ORIGIN);
    }
  }
  const image = agentContainer["image"];
  if (typeof image === "string" && !agentContainer["command"] && !t.agentInjection && REMOTING_AGENT_IMAGE.test(image)) {
    // Such an image runs Jenkins remoting, which Berth's controller does not speak; its args are remoting's too.
    notes.push(`the agent container's image ${image} runs a Jenkins remoting agent, which Berth does not speak: Berth's agent image runs instead`);
    delete agentContainer["image"];
    delete agentContainer["args"];
  }
  if (!agentContainer["image"]) {
    agentContainer["image"] = agentImageFor(cloud);
    record.set(`${agentPath}.image`, AGENT_ORIGIN);
    if (!agentContainer["command"] && !agentContainer["args"] && !t.agentInjection) {
      agentContainer["command"] = agentBootstrap();
      record.set(`${agentPath}.command`, AGENT_ORIGIN);
      // Node then sends the agent's fetch and WebSocket through HTTP(S)_PROXY when the pod has one.
      addMissing(agentContainer, "env", "name", [{ name: "NODE_USE_ENV_PROXY", value: "1" }], () => record.set(`${agentPath}.env[NODE_USE_ENV_PROXY]`, AGENT_ORIGIN));
    }
  }
  const workdir = (agentContainer["workingDir"] as string | undefined) || DEFAULT_WORKING_DIR;
  const agentEnv = agentVariables(cloud, agent, controllerUrl, workdir, t.agentInjection === true);
  // Precedence, lowest first: agent variables, pod-level env vars, the container's own env.
  const added = agentEnv.filter((a) => !hasEnv(agentContainer, a["name"] as string) && !podEnv.some((p) => p["name"] === a["name"]));
  agentContainer["env"] = [...added, ...envOf(agentContainer)];
  for (const e of added) record.set(`${agentPath}.env[${String(e["name"])}]`, AGENT_ORIGIN);

  if (t.agentInjection) injectAgent(pod, agentContainer, cloud, record);
  if (!agentContainer["resources"]) {
    agentContainer["resources"] = { requests: { cpu: "100m", memory: "256Mi" } };
    record.set(`${agentPath}.resources`, DEFAULT_ORIGIN);
  }

  // Defaults a cluster expects of an agent pod.
  const affinity = spec["affinity"] as JsonObject | undefined;
  const nodeSelector = spec["nodeSelector"] as JsonObject | undefined;
  if (!spec["runtimeClassName"] && (!nodeSelector || Object.keys(nodeSelector).length === 0) && !affinity?.["nodeAffinity"]) {
    spec["nodeSelector"] = { "kubernetes.io/os": "linux" };
    record.set("spec.nodeSelector", DEFAULT_ORIGIN);
  }
  if (!spec["restartPolicy"]) {
    spec["restartPolicy"] = "Never";
    record.set("spec.restartPolicy", DEFAULT_ORIGIN);
  }
  const volumes = listOf(pod, "volumes");
  if (!volumes.some((v) => v["name"] === WORKSPACE_VOLUME_NAME)) {
    volumes.push({ name: WORKSPACE_VOLUME_NAME, emptyDir: {} });
    record.set(`spec.volumes[${WORKSPACE_VOLUME_NAME}]`, DEFAULT_ORIGIN);
  }
  spec["volumes"] = volumes;
  for (const c of containers) {
    const dir = (c["workingDir"] as string | undefined) || DEFAULT_WORKING_DIR;
    const added = addMissing(c, "volumeMounts", "mountPath", [{ name: WORKSPACE_VOLUME_NAME, mountPath: dir, readOnly: false }], () => {});
    if (added) record.set(`spec.containers[${String(c["name"])}].volumeMounts[${dir}]`, DEFAULT_ORIGIN);
  }
  for (const c of containers) {
    if (templateContainers.has(c["name"] as string) && c["imagePullPolicy"] === undefined) {
      c["imagePullPolicy"] = "IfNotPresent";
      record.set(`spec.containers[${String(c["name"])}].imagePullPolicy`, DEFAULT_ORIGIN);
    }
  }
  if (cloud.restrictedPssSecurityContext) applyRestrictedPss(pod, record);
  // The usual reading order of a manifest.
  spec["containers"] = containers.map((c) => ordered(c, CONTAINER_KEY_ORDER));
  if (spec["initContainers"]) spec["initContainers"] = listOf(pod, "initContainers").map((c) => ordered(c, CONTAINER_KEY_ORDER));
  return ordered(pod, ["apiVersion", "kind", "metadata", "spec"]);
}

const CONTAINER_KEY_ORDER = ["name", "image", "imagePullPolicy", "command", "args", "workingDir", "tty", "env", "envFrom", "ports", "resources", "volumeMounts"];

/** A container that finishPod may change: its own object, env list and mount list. */
function writableContainer(c: JsonObject): JsonObject {
  const copy: JsonObject = { ...c };
  if (Array.isArray(c["env"])) copy["env"] = [...(c["env"] as unknown[])];
  if (Array.isArray(c["volumeMounts"])) copy["volumeMounts"] = [...(c["volumeMounts"] as unknown[])];
  return copy;
}

/** A copy of `o` with the `first` keys first, in that order, then the others as they were. */
function ordered(o: JsonObject, first: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of first) if (k in o) out[k] = o[k];
  for (const k in o) if (!(k in out)) out[k] = o[k];
  return out;
}

/** Adds the template's pod-level env vars and volume mounts where the container does not set its own. */
function applyPodWide(c: JsonObject, podEnv: JsonObject[], mounts: TemplateMount[], record: Recorder): void {
  const path = `spec.containers[${String(c["name"])}]`;
  addMissing(c, "env", "name", podEnv, (e) => record.set(`${path}.env[${String(e["name"])}]`, record.from(`template.envVars[${String(e["name"])}]`)));
  const mountsOf = mounts.map((m) => ({ ...m.mount }));
  addMissing(c, "volumeMounts", "mountPath", mountsOf, (m) => record.set(`${path}.volumeMounts[${String(m["mountPath"])}]`, record.from(`template.volumes[${String(m["mountPath"])}]`)));
}

function envOf(c: JsonObject): JsonObject[] {
  return Array.isArray(c["env"]) ? (c["env"] as JsonObject[]) : [];
}

function hasEnv(c: JsonObject, name: string): boolean {
  return envOf(c).some((e) => e["name"] === name);
}

/** Appends the entries whose key the container's list lacks; returns whether any was added. */
function addMissing(c: JsonObject, field: string, key: string, entries: JsonObject[], onAdd: (e: JsonObject) => void): boolean {
  const list = Array.isArray(c[field]) ? (c[field] as JsonObject[]) : [];
  let added = false;
  for (const e of entries) {
    if (list.some((x) => x[key] === e[key])) continue;
    list.push(e);
    onAdd(e);
    added = true;
  }
  if (list.length) c[field] = list;
  return added;
}

/** The variables the agent reads to find and authenticate to its controller (seed 001). */
export function agentVariables(cloud: Cloud, agent: AgentIdentity, controllerUrl: string, workdir: string, injected: boolean): JsonObject[] {
  const vars: [string, string][] = [];
  if (agent.secret) vars.push(["JENKINS_SECRET", agent.secret]);
  vars.push(["JENKINS_AGENT_NAME", agent.name], ["JENKINS_NAME", agent.name], ["JENKINS_AGENT_WORKDIR", workdir]);
  if (cloud.jenkinsTunnel) vars.push(["JENKINS_TUNNEL", cloud.jenkinsTunnel]);
  if (!cloud.directConnection) vars.push(["JENKINS_URL", controllerUrl]);
  if (cloud.webSocket && !cloud.directConnection) vars.push(["JENKINS_WEB_SOCKET", "true"]);
  if (injected) vars.push(["JENKINS_AGENT_FILE", "/jenkins-agent/berth-agent.mjs"]);
  return vars.map(([name, value]) => ({ name, value }));
}

/**
 * agentInjection: the agent program is copied by an init container into a shared volume, so the agent
 * container can use any image that has a `node` binary on its PATH.
 */
function injectAgent(pod: JsonObject, agentContainer: JsonObject, cloud: Cloud, record: Recorder): void {
  const spec = pod["spec"] as JsonObject;
  const init = listOf(pod, "initContainers");
  init.push({
    name: "set-up-jenkins-agent",
    image: agentImageFor(cloud),
    command: agentBootstrap("/jenkins-agent/berth-agent.mjs"),
    volumeMounts: [{ name: "jenkins-agent", mountPath: "/jenkins-agent" }],
  });
  spec["initContainers"] = init;
  spec["volumes"] = [...listOf(pod, "volumes"), { name: "jenkins-agent", emptyDir: {} }];
  addMissing(agentContainer, "volumeMounts", "mountPath", [{ name: "jenkins-agent", mountPath: "/jenkins-agent", readOnly: true }], () => {});
  agentContainer["workingDir"] = DEFAULT_WORKING_DIR;
  agentContainer["command"] = ["node", "/jenkins-agent/berth-agent.mjs"];
  agentContainer["args"] = [];
  record.set("spec.initContainers[set-up-jenkins-agent]", AGENT_ORIGIN);
  record.set("spec.volumes[jenkins-agent]", AGENT_ORIGIN);
}

/** Fills what the Restricted Pod Security Standard requires, keeping every value the user set. */
function applyRestrictedPss(pod: JsonObject, record: Recorder): void {
  for (const field of ["initContainers", "containers"]) {
    for (const c of listOf(pod, field)) {
      const sc: JsonObject = { ...(isObject(c["securityContext"]) ? c["securityContext"] : {}) };
      c["securityContext"] = sc;
      sc["allowPrivilegeEscalation"] ??= false;
      sc["runAsNonRoot"] ??= true;
      sc["seccompProfile"] ??= { type: "RuntimeDefault" };
      sc["capabilities"] ??= { drop: ["ALL"] };
      record.set(`spec.${field}[${String(c["name"])}].securityContext`, { template: "restrictedPssSecurityContext", via: "default" });
    }
  }
}
