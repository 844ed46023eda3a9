// A container's environment as the kubelet computes it: the API server's service variables, envFrom
// sources, then env entries in order, each value $(VAR)-expanded against what came before; command and
// args are expanded against the result. Pure: ConfigMaps and Secrets are fetched by the caller (see
// `referencedObjects`) and passed in.
import type { Obj } from "../client/api.ts";
import { quantityValue } from "../client/quantity.ts";

/** A reason the container cannot be created (kubelet: CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

export interface EnvSources {
  configMaps: Map<string, Obj | undefined>;
  secrets: Map<string, Obj | undefined>;
  /** Node allocatable, for resourceFieldRef of a limit the container does not set. */
  nodeAllocatable: Record<string, string>;
  /** Extra variables every container gets first (KUBERNETES_SERVICE_HOST/PORT). */
  serviceEnv: Record<string, string>;
}

/** Names of the ConfigMaps and Secrets a container's env refers to. */
export function referencedObjects(container: Obj): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const from of (container.envFrom ?? []) as Obj[]) {
    if (from.configMapRef?.name) configMaps.add(String(from.configMapRef.name));
    if (from.secretRef?.name) secrets.add(String(from.secretRef.name));
  }
  for (const env of (container.env ?? []) as Obj[]) {
    if (env.valueFrom?.configMapKeyRef?.name) configMaps.add(String(env.valueFrom.configMapKeyRef.name));
    if (env.valueFrom?.secretKeyRef?.name) secrets.add(String(env.valueFrom.secretKeyRef.name));
  }
  return { configMaps, secrets };
}

/** Kubernetes' $(VAR) syntax: `$$` is a literal `$`, `$(NAME)` is replaced when NAME is known, else kept. */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = lookup(name);
      out += value ?? `$(${name})`;
      i = close;
    } else out += ch;
  }
  return out;
}

function decodeSecretValue(secret: Obj, key: string): string | undefined {
  const data = secret.data?.[key];
  return typeof data === "string" ? Buffer.from(data, "base64").toString("utf8") : undefined;
}

function configMapValue(configMap: Obj, key: string): string | undefined {
  const value = configMap.data?.[key];
  if (typeof value === "string") return value;
  const binary = configMap.binaryData?.[key];
  return typeof binary === "string" ? Buffer.from(binary, "base64").toString("utf8") : undefined;
}

/** metadata.labels['a'] → ["labels", "a"]. */
function subscript(path: string): [string, string] | undefined {
  const match = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  return match ? [match[1] as string, match[2] as string] : undefined;
}

/** The value of a downward-API fieldRef; whole label/annotation maps in the file format of volumes. */
export function fieldRefValue(pod: Obj, fieldPath: string): string {
  const meta = (pod.metadata ?? {}) as Obj;
  const indexed = subscript(fieldPath);
  if (indexed) return String(meta[indexed[0]]?.[indexed[1]] ?? "");
  switch (fieldPath) {
    case "metadata.name":
      return String(meta.name ?? "");
    case "metadata.namespace":
      return String(meta.namespace ?? "");
    case "metadata.uid":
      return String(meta.uid ?? "");
    case "metadata.labels":
    case "metadata.annotations": {
      const map = (meta[fieldPath.slice("metadata.".length)] ?? {}) as Record<string, string>;
      return Object.keys(map)
        .sort()
        .map((key) => `${key}=${JSON.stringify(map[key])}`)
        .join("\n");
    }
    case "spec.nodeName":
      return String(pod.spec?.nodeName ?? "");
    case "spec.serviceAccountName":
      return String(pod.spec?.serviceAccountName ?? "");
    case "status.hostIP":
      return String(pod.status?.hostIP ?? "");
    case "status.hostIPs":
      return ((pod.status?.hostIPs ?? []) as Obj[]).map((a) => a.ip).join(",");
    case "status.podIP":
      return String(pod.status?.podIP ?? "");
    case "status.podIPs":
      return ((pod.status?.podIPs ?? []) as Obj[]).map((a) => a.ip).join(",");
    default:
      throw new ContainerConfigError(`unsupported fieldPath: ${fieldPath}`);
  }
}

/** resourceFieldRef: limits fall back to node allocatable, the value is rounded up in divisor units. */
export function resourceFieldValue(pod: Obj, container: Obj | undefined, ref: Obj, nodeAllocatable: Record<string, string>): string {
  const resource = String(ref.resource ?? "");
  const [kind, name] = resource.split(/\.(.*)/s) as [string, string];
  const target = ref.containerName ? ([...((pod.spec?.containers ?? []) as Obj[]), ...((pod.spec?.initContainers ?? []) as Obj[])].find((c) => c.name === ref.containerName) as Obj | undefined) : container;
  if ((kind !== "limits" && kind !== "requests") || !name) throw new ContainerConfigError(`unsupported resource: ${resource}`);
  let quantity = target?.resources?.[kind]?.[name] as string | undefined;
  if (quantity === undefined && kind === "limits") quantity = nodeAllocatable[name];
  const value = quantityValue(quantity ?? "0") ?? 0;
  const divisor = quantityValue(ref.divisor ?? "1") || 1;
  return String(Math.ceil(Math.round((value / divisor) * 1e9) / 1e9));
}

/** The resolved env of a container (in order, last definition wins) or a ContainerConfigError. */
export function resolveEnv(pod: Obj, container: Obj, sources: EnvSources): { name: string; value: string }[] {
  const namespace = String(pod.metadata?.namespace ?? "");
  const values = new Map<string, string>(Object.entries(sources.serviceEnv));
  for (const from of (container.envFrom ?? []) as Obj[]) {
    const prefix = String(from.prefix ?? "");
    if (from.configMapRef) {
      const name = String(from.configMapRef.name);
      const cm = sources.configMaps.get(name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      for (const key of [...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})]) values.set(prefix + key, configMapValue(cm, key) ?? "");
    }
    if (from.secretRef) {
      const name = String(from.secretRef.name);
      const secret = sources.secrets.get(name);
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      for (const key of Object.keys(secret.data ?? {})) values.set(prefix + key, decodeSecretValue(secret, key) ?? "");
    }
  }
  for (const env of (container.env ?? []) as Obj[]) {
    const name = String(env.name);
    const from = env.valueFrom as Obj | undefined;
    if (!from) {
      values.set(name, expand(String(env.value ?? ""), (v) => values.get(v)));
      continue;
    }
    if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef as Obj;
      const cm = sources.configMaps.get(String(ref.name));
      if (!cm) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`configmap "${String(ref.name)}" not found`);
      }
      const value = configMapValue(cm, String(ref.key));
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`couldn't find key ${String(ref.key)} in ConfigMap ${namespace}/${String(ref.name)}`);
      }
      values.set(name, value);
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef as Obj;
      const secret = sources.secrets.get(String(ref.name));
      if (!secret) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`secret "${String(ref.name)}" not found`);
      }
      const value = decodeSecretValue(secret, String(ref.key));
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`couldn't find key ${String(ref.key)} in Secret ${namespace}/${String(ref.name)}`);
      }
      values.set(name, value);
    } else if (from.fieldRef) {
      values.set(name, fieldRefValue(pod, String(from.fieldRef.fieldPath)));
    } else if (from.resourceFieldRef) {
      values.set(name, resourceFieldValue(pod, container, from.resourceFieldRef as Obj, sources.nodeAllocatable));
    }
  }
  return [...values].map(([name, value]) => ({ name, value }));
}

/** command and args with $(VAR) references to the final env replaced. */
export function expandCommand(container: Obj, env: { name: string; value: string }[]): { command?: string[]; args?: string[] } {
  const map = new Map(env.map((e) => [e.name, e.value]));
  const lookup = (name: string): string | undefined => map.get(name);
  return {
    command: container.command ? (container.command as string[]).map((c) => expand(String(c), lookup)) : undefined,
    args: container.args ? (container.args as string[]).map((a) => expand(String(a), lookup)) : undefined,
  };
}
