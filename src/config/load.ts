// berth.yaml: clouds and their pod templates in the schema of the Kubernetes plugin's Configuration-as-
// Code YAML, so an admin can paste the `clouds:` section of a Jenkins instance (with or without the
// surrounding `jenkins:`). Layout and every field: docs/configuration.md.
import { readFileSync } from "node:fs";
import type { Cloud, ContainerTemplate, EnvVar, LivenessProbe, PodRetention, PodTemplate, PortMapping, Volume, WorkspaceVolume } from "../templates/model.ts";
import { NODE_USAGE_MODES, POD_RETENTIONS, YAML_MERGE_STRATEGIES } from "../templates/model.ts";
import { ConfigError, YamlValue } from "./yaml-reader.ts";
import { readCredentials, type ConfiguredCredential } from "./credentials.ts";

export interface BerthConfig {
  file: string;
  clouds: Cloud[];
  /** Credentials for withCredentials and credentials() (Kubernetes secrets are the other source). */
  credentials: ConfiguredCredential[];
  /** Settings that were accepted for compatibility but do nothing in Berth. */
  warnings: string[];
}

export function loadConfigFile(file: string): BerthConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { file, line: 1, column: 1 });
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): BerthConfig {
  const warnings: string[] = [];
  const root = YamlValue.parse(text, file);
  if (root.isNull) root.fail("the config file is empty; it needs a `clouds:` list");
  let fields = root.fields(["clouds", "jenkins", "credentials"]);
  const credentials = readCredentials(fields.get("credentials"));
  const jenkins = fields.get("jenkins");
  if (jenkins) fields = jenkins.fields(["clouds"], JENKINS_IGNORED);
  const clouds = fields.get("clouds");
  if (!clouds) return root.fail("no `clouds:` list");
  const result = clouds.items().map((item) => {
    const entry = item.fields(["kubernetes"]);
    const cloud = entry.get("kubernetes");
    if (!cloud) return item.fail("each cloud is written `- kubernetes: {...}`");
    return readCloud(cloud, warnings);
  });
  const names = new Set<string>();
  for (const c of result) {
    if (names.has(c.name)) throw new ConfigError(`two clouds are named '${c.name}'`, c.at);
    names.add(c.name);
  }
  return { file, clouds: result, credentials, warnings };
}

// Jenkins settings that may come along with a pasted `jenkins:` section and do not concern Berth.
const JENKINS_IGNORED = ["systemMessage", "numExecutors", "mode", "securityRealm", "authorizationStrategy", "nodes", "labelString", "views", "globalNodeProperties", "crumbIssuer", "remotingSecurity", "slaveAgentPort", "agentProtocols"];

// Cloud settings the plugin has that Berth accepts without effect (each is reported once as a warning).
const CLOUD_UNUSED = ["credentialsId", "useJenkinsProxy", "waitForPodSec", "capOnlyOnAlivePods", "traits", "garbageCollection"];

function readCloud(v: YamlValue, warnings: string[]): Cloud {
  const f = v.fields([
    "name", "serverUrl", "serverCertificate", "skipTlsVerify", "namespace", "jenkinsUrl", "jenkinsTunnel", "webSocket", "directConnection",
    "containerCap", "containerCapStr", "podLabels", "podRetention", "maxRequestsPerHost", "maxRequestsPerHostStr", "connectTimeout",
    "readTimeout", "retentionTimeout", "usageRestricted", "defaultsProviderTemplate", "addMasterProxyEnvVars", "restrictedPssSecurityContext",
    "jnlpregistry", "agentImage", "kubeconfig", "context", "qps", "burst", "templates", ...CLOUD_UNUSED,
  ]);
  const name = f.get("name")?.string() ?? "kubernetes";
  for (const key of CLOUD_UNUSED) if (f.has(key)) warnings.push(`cloud '${name}': '${key}' is accepted for compatibility but has no effect in Berth`);
  const cap = (f.get("containerCap") ?? f.get("containerCapStr"))?.integer();
  const cloud: Cloud = {
    name,
    podLabels: readPodLabels(f.get("podLabels")),
    podRetention: readRetention(f.get("podRetention")) ?? "never",
    templates: [],
    at: v.position,
  };
  const strings = ["serverUrl", "serverCertificate", "namespace", "jenkinsUrl", "jenkinsTunnel", "defaultsProviderTemplate", "jnlpregistry", "agentImage", "kubeconfig", "context"] as const;
  for (const key of strings) {
    const s = f.get(key)?.string()?.trim();
    if (s) cloud[key] = s;
  }
  const booleans = ["skipTlsVerify", "webSocket", "directConnection", "usageRestricted", "addMasterProxyEnvVars", "restrictedPssSecurityContext"] as const;
  for (const key of booleans) {
    const b = f.get(key)?.boolean();
    if (b !== undefined) cloud[key] = b;
  }
  // 0 or less means "no limit", as in the plugin.
  if (cap !== undefined && cap > 0) cloud.containerCap = cap;
  const maxRequests = (f.get("maxRequestsPerHost") ?? f.get("maxRequestsPerHostStr"))?.integer();
  if (maxRequests !== undefined && maxRequests > 0) cloud.maxRequestsPerHost = maxRequests;
  for (const key of ["connectTimeout", "readTimeout", "retentionTimeout", "qps", "burst"] as const) {
    const value = f.get(key);
    const n = value?.integer();
    if (n === undefined) continue;
    if ((key === "qps" || key === "burst") && n < 1) value!.fail(`${key} must be at least 1`);
    cloud[key] = n;
  }
  cloud.templates = (f.get("templates")?.items() ?? []).map((t) => readTemplate(t));
  const names = new Set<string>();
  for (const t of cloud.templates) {
    if (t.name === undefined) continue;
    if (names.has(t.name)) throw new ConfigError(`cloud '${name}' has two templates named '${t.name}'`, t.at);
    names.add(t.name);
  }
  return cloud;
}

function readPodLabels(v: YamlValue | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of v?.items() ?? []) {
    const f = item.fields(["key", "value"]);
    labels[f.get("key")?.requiredString() ?? item.fail("a pod label needs a key")] = f.get("value")?.string() ?? "";
  }
  // The plugin labels every agent pod jenkins=slave unless told otherwise; selectors out there rely on it.
  return Object.keys(labels).length ? labels : { jenkins: "slave" };
}

/** `never`, `never()`, or `{never: {}}`: JCasC and Jenkinsfile spellings of a retention policy. */
function readSymbol<T extends string>(v: YamlValue | undefined, allowed: readonly T[], what: string): T | undefined {
  if (!v || v.isNull) return undefined;
  let name: string | undefined;
  if (v.isMapping()) {
    const entries = v.entries();
    if (entries.length !== 1) v.fail(`expected one of ${allowed.join(", ")}`);
    name = entries[0]![0];
  } else {
    name = v.string()?.trim().replace(/\(\)$/, "");
  }
  if (name === undefined || name === "") return undefined;
  const found = allowed.find((a) => a.toLowerCase() === name.toLowerCase());
  if (!found) v.fail(`unknown ${what} '${name}' (expected one of ${allowed.join(", ")})`);
  return found;
}

function readRetention(v: YamlValue | undefined): PodRetention | undefined {
  return readSymbol(v, POD_RETENTIONS, "podRetention");
}

const TEMPLATE_FIELDS = [
  "name", "namespace", "label", "inheritFrom", "containers", "envVars", "volumes", "workspaceVolume", "annotations", "imagePullSecrets",
  "nodeSelector", "nodeUsageMode", "serviceAccount", "schedulerName", "instanceCap", "instanceCapStr", "slaveConnectTimeout",
  "slaveConnectTimeoutStr", "idleMinutes", "idleMinutesStr", "activeDeadlineSeconds", "activeDeadlineSecondsStr",
  "terminationGracePeriodSeconds", "hostNetwork", "runAsUser", "runAsGroup", "supplementalGroups", "yaml", "yamlMergeStrategy",
  "inheritYamlMergeStrategy", "showRawYaml", "podRetention", "agentContainer", "agentInjection",
] as const;
// Accepted in pasted configs, no effect: `id` (Jenkins' own bookkeeping), tool locations, a deprecated flag.
const TEMPLATE_IGNORED = ["id", "nodeProperties", "capOnlyOnAlivePods", "remoteFs"];

export function readTemplate(v: YamlValue): PodTemplate {
  const f = v.fields(TEMPLATE_FIELDS, TEMPLATE_IGNORED);
  const t: PodTemplate = { at: v.position };
  const strings = ["name", "namespace", "label", "inheritFrom", "nodeSelector", "serviceAccount", "schedulerName", "runAsUser", "runAsGroup", "supplementalGroups", "agentContainer"] as const;
  for (const key of strings) {
    const s = f.get(key)?.string()?.trim();
    if (s) t[key] = s;
  }
  const yaml = f.get("yaml");
  const yamlText = yaml?.string();
  if (yaml && yamlText?.trim()) {
    t.yaml = yamlText;
    t.yamlAt = yaml.textPosition;
  }
  for (const key of ["hostNetwork", "inheritYamlMergeStrategy", "showRawYaml", "agentInjection"] as const) {
    const b = f.get(key)?.boolean();
    if (b !== undefined) t[key] = b;
  }
  const int = (key: string) => (f.get(key) ?? f.get(`${key}Str`))?.integer();
  const instanceCap = int("instanceCap");
  if (instanceCap !== undefined && instanceCap >= 0) t.instanceCap = instanceCap;
  const timeout = int("slaveConnectTimeout");
  if (timeout !== undefined && timeout > 0) t.slaveConnectTimeout = timeout;
  const idle = int("idleMinutes");
  if (idle !== undefined && idle > 0) t.idleMinutes = idle;
  const deadline = int("activeDeadlineSeconds");
  if (deadline !== undefined && deadline > 0) t.activeDeadlineSeconds = deadline;
  const grace = f.get("terminationGracePeriodSeconds")?.integer();
  if (grace !== undefined) t.terminationGracePeriodSeconds = grace;

  const mode = readSymbol(f.get("nodeUsageMode"), NODE_USAGE_MODES, "nodeUsageMode");
  if (mode) t.nodeUsageMode = mode;
  const strategy = readSymbol(f.get("yamlMergeStrategy"), YAML_MERGE_STRATEGIES, "yamlMergeStrategy");
  if (strategy) t.yamlMergeStrategy = strategy;
  const retention = readRetention(f.get("podRetention"));
  if (retention) t.podRetention = retention;

  const containers = f.get("containers")?.items().map(readContainer);
  if (containers?.length) t.containers = containers;
  const envVars = f.get("envVars")?.items().map(readEnvVar);
  if (envVars?.length) t.envVars = envVars;
  const volumes = f.get("volumes")?.items().map(readVolume);
  if (volumes?.length) t.volumes = volumes;
  const workspace = f.get("workspaceVolume");
  if (workspace && !workspace.isNull) t.workspaceVolume = readWorkspaceVolume(workspace);
  const annotations = f.get("annotations")?.items().map((a) => {
    const af = unwrapSymbol(a, "podAnnotation").fields(["key", "value"]);
    return { key: af.get("key")?.requiredString() ?? a.fail("an annotation needs a key"), value: af.get("value")?.string() ?? "" };
  });
  if (annotations?.length) t.annotations = annotations;
  const pullSecrets = f.get("imagePullSecrets")?.items().map((s) => (s.isMapping() ? (s.fields(["name"]).get("name")?.requiredString() ?? s.fail("needs a name")) : s.requiredString()));
  if (pullSecrets?.length) t.imagePullSecrets = pullSecrets;
  return t;
}

/** `{podAnnotation: {...}}` and `{...}` both mean the inner mapping. */
function unwrapSymbol(v: YamlValue, symbol: string): YamlValue {
  const entries = v.isMapping() ? v.entries() : [];
  return entries.length === 1 && entries[0]![0] === symbol ? entries[0]![1] : v;
}

const CONTAINER_FIELDS = [
  "name", "image", "command", "args", "workingDir", "ttyEnabled", "privileged", "alwaysPullImage", "runAsUser", "runAsGroup",
  "resourceRequestCpu", "resourceRequestMemory", "resourceRequestEphemeralStorage", "resourceLimitCpu", "resourceLimitMemory",
  "resourceLimitEphemeralStorage", "shell", "envVars", "ports", "livenessProbe",
] as const;

function readContainer(v: YamlValue): ContainerTemplate {
  const f = unwrapSymbol(v, "containerTemplate").fields(CONTAINER_FIELDS);
  const name = f.get("name")?.requiredString() ?? v.fail("a container needs a name");
  const c: ContainerTemplate = { name: name.trim() };
  const strings = [
    "image", "command", "args", "workingDir", "runAsUser", "runAsGroup", "resourceRequestCpu", "resourceRequestMemory",
    "resourceRequestEphemeralStorage", "resourceLimitCpu", "resourceLimitMemory", "resourceLimitEphemeralStorage", "shell",
  ] as const;
  for (const key of strings) {
    const value = f.get(key);
    const s = value?.string();
    if (key === "image" && s !== undefined && s !== "" && !/^\S+$/.test(s)) value!.fail(`malformed image '${s}'`);
    if (s !== undefined && s.trim() !== "") c[key] = key === "command" || key === "args" ? s : s.trim();
  }
  for (const key of ["ttyEnabled", "privileged", "alwaysPullImage"] as const) {
    const b = f.get(key)?.boolean();
    if (b !== undefined) c[key] = b;
  }
  const env = f.get("envVars")?.items().map(readEnvVar);
  if (env?.length) c.envVars = env;
  const ports = f.get("ports")?.items().map(readPort);
  if (ports?.length) c.ports = ports;
  const probe = f.get("livenessProbe");
  if (probe && !probe.isNull) c.livenessProbe = readProbe(unwrapSymbol(probe, "containerLivenessProbe"));
  return c;
}

function readPort(v: YamlValue): PortMapping {
  const f = unwrapSymbol(v, "portMapping").fields(["name", "containerPort", "hostPort"]);
  const containerPort = f.get("containerPort")?.integer() ?? v.fail("a port needs a containerPort");
  const p: PortMapping = { containerPort };
  const name = f.get("name")?.string()?.trim();
  if (name) p.name = name;
  const hostPort = f.get("hostPort")?.integer();
  if (hostPort) p.hostPort = hostPort;
  return p;
}

function readProbe(v: YamlValue): LivenessProbe {
  const numbers = ["timeoutSeconds", "initialDelaySeconds", "failureThreshold", "periodSeconds", "successThreshold"] as const;
  const f = v.fields(["execArgs", ...numbers]);
  const probe: LivenessProbe = { execArgs: f.get("execArgs")?.string() ?? "" };
  for (const key of numbers) {
    const n = f.get(key)?.integer();
    if (n !== undefined) probe[key] = n;
  }
  return probe;
}

function symbolOf(v: YamlValue, kinds: readonly string[], what: string): [string, YamlValue] {
  const entries = v.entries();
  if (entries.length !== 1 || !kinds.includes(entries[0]![0])) {
    v.fail(`expected one of ${kinds.map((k) => `${k}: {...}`).join(", ")} for ${what}`);
  }
  return entries[0]!;
}

function readEnvVar(v: YamlValue): EnvVar {
  const [kind, body] = symbolOf(v, ["envVar", "containerEnvVar", "podEnvVar", "secretEnvVar"], "an env var");
  if (kind === "secretEnvVar") {
    const f = body.fields(["key", "secretName", "secretKey", "optional"]);
    const e: EnvVar = {
      kind: "secretEnvVar",
      key: f.get("key")?.requiredString() ?? body.fail("needs a key"),
      secretName: f.get("secretName")?.requiredString() ?? body.fail("needs a secretName"),
      secretKey: f.get("secretKey")?.requiredString() ?? body.fail("needs a secretKey"),
    };
    const optional = f.get("optional")?.boolean();
    if (optional !== undefined) e.optional = optional;
    return e;
  }
  const f = body.fields(["key", "value"]);
  return { kind: "envVar", key: f.get("key")?.requiredString() ?? body.fail("needs a key"), value: f.get("value")?.string() ?? "" };
}

const VOLUME_KINDS = ["emptyDirVolume", "configMapVolume", "secretVolume", "hostPathVolume", "nfsVolume", "persistentVolumeClaim", "dynamicPVC", "genericEphemeralVolume"] as const;

// Fields of each volume kind: [name, type]; `required` ones must be present.
const VOLUME_FIELDS: Record<string, { fields: Record<string, "string" | "boolean">; required: string[] }> = {
  emptyDirVolume: { fields: { mountPath: "string", memory: "boolean" }, required: ["mountPath"] },
  configMapVolume: { fields: { mountPath: "string", configMapName: "string", optional: "boolean", subPath: "string" }, required: ["mountPath", "configMapName"] },
  secretVolume: { fields: { mountPath: "string", secretName: "string", defaultMode: "string", optional: "boolean" }, required: ["mountPath", "secretName"] },
  hostPathVolume: { fields: { mountPath: "string", hostPath: "string", readOnly: "boolean" }, required: ["mountPath", "hostPath"] },
  nfsVolume: { fields: { mountPath: "string", serverAddress: "string", serverPath: "string", readOnly: "boolean" }, required: ["mountPath", "serverAddress", "serverPath"] },
  persistentVolumeClaim: { fields: { mountPath: "string", claimName: "string", readOnly: "boolean" }, required: ["mountPath", "claimName"] },
  dynamicPVC: { fields: { mountPath: "string", storageClassName: "string", requestsSize: "string", accessModes: "string" }, required: [] },
  genericEphemeralVolume: { fields: { mountPath: "string", storageClassName: "string", requestsSize: "string", accessModes: "string" }, required: [] },
  emptyDirWorkspaceVolume: { fields: { memory: "boolean", sizeLimit: "string" }, required: [] },
  hostPathWorkspaceVolume: { fields: { hostPath: "string" }, required: ["hostPath"] },
  nfsWorkspaceVolume: { fields: { serverAddress: "string", serverPath: "string", readOnly: "boolean" }, required: ["serverAddress", "serverPath"] },
  persistentVolumeClaimWorkspaceVolume: { fields: { claimName: "string", readOnly: "boolean" }, required: ["claimName"] },
};

function readVolumeBody(kind: string, body: YamlValue, extraRequired: string[] = []): Record<string, unknown> {
  const spec = VOLUME_FIELDS[kind]!;
  const f = body.fields(Object.keys(spec.fields));
  const out: Record<string, unknown> = { kind };
  for (const [key, type] of Object.entries(spec.fields)) {
    const value = f.get(key);
    const read = type === "boolean" ? value?.boolean() : value?.string()?.trim();
    if (read !== undefined && read !== "") out[key] = read;
    else if ([...spec.required, ...extraRequired].includes(key)) body.fail(`${kind} needs ${key}`);
  }
  return out;
}

function readVolume(v: YamlValue): Volume {
  const [kind, body] = symbolOf(v, VOLUME_KINDS, "a volume");
  return readVolumeBody(kind, body, ["mountPath"]) as unknown as Volume;
}

const WORKSPACE_KINDS = ["emptyDirWorkspaceVolume", "dynamicPVC", "genericEphemeralVolume", "hostPathWorkspaceVolume", "nfsWorkspaceVolume", "persistentVolumeClaimWorkspaceVolume"] as const;

function readWorkspaceVolume(v: YamlValue): WorkspaceVolume {
  const [kind, body] = symbolOf(v, WORKSPACE_KINDS, "the workspace volume");
  const out = readVolumeBody(kind, body);
  delete out["mountPath"];
  return out as unknown as WorkspaceVolume;
}
