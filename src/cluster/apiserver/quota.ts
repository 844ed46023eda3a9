// ResourceQuota admission for pods, worded as the real quota admission plugin words it.
import { podResourceTotals } from "./pods.ts";
import { formatQuantity, parseQuantity } from "./quantity.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";

/** Quota names that count the same thing under two spellings. */
function canonical(resource: string): string {
  if (resource === "cpu" || resource === "memory" || resource === "ephemeral-storage") return `requests.${resource}`;
  if (resource === "count/pods") return "pods";
  return resource;
}

/** What one pod adds to each quota-tracked resource. */
export function podUsage(pod: KubeObject): Record<string, number> {
  return { pods: 1, ...podResourceTotals(pod.spec) };
}

export function sumUsage(pods: KubeObject[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const pod of pods) for (const [key, value] of Object.entries(podUsage(pod))) total[key] = (total[key] ?? 0) + value;
  return total;
}

function hardOf(quota: KubeObject): Record<string, unknown> {
  const spec = isRecord(quota.spec) ? quota.spec : {};
  return isRecord(spec.hard) ? spec.hard : {};
}

/**
 * Checks a new pod against the namespace's quotas. Returns the reason for a 403 (without the
 * `pods "x" is forbidden: ` prefix), or undefined when the pod fits.
 */
export function quotaViolation(quotas: KubeObject[], pod: KubeObject, used: Record<string, number>): string | undefined {
  const requested = podUsage(pod);
  const containers = Array.isArray((pod.spec as JsonRecord | undefined)?.containers) ? ((pod.spec as JsonRecord).containers as JsonRecord[]) : [];
  for (const quota of [...quotas].sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""))) {
    const hard = hardOf(quota);
    const tracked = Object.keys(hard).map((key) => ({ key, resource: canonical(key) }));
    // Quota on compute resources requires every container to state them.
    const missing = tracked
      .filter(({ resource }) => resource.startsWith("requests.") || resource.startsWith("limits."))
      .map(({ key, resource }) => {
        const [kind, name] = resource.split(".") as [string, string];
        const lacking = containers.filter((c) => {
          const r = isRecord(c.resources) ? c.resources : {};
          const values = isRecord(r[kind]) ? (r[kind] as JsonRecord) : {};
          return values[name] === undefined;
        });
        return lacking.length ? `${key} for: ${lacking.map((c) => String(c.name)).join(",")}` : "";
      })
      .filter(Boolean);
    if (missing.length) return `failed quota: ${quota.metadata.name}: must specify ${missing.join("; ")}`;
    const exceeded = tracked.filter(({ key, resource }) => {
      const limit = parseQuantity(hard[key]);
      return limit !== undefined && (used[resource] ?? 0) + (requested[resource] ?? 0) > limit;
    });
    if (exceeded.length) {
      const list = (pick: (resource: string, key: string) => string): string =>
        exceeded
          .map(({ key, resource }) => `${key}=${pick(resource, key)}`)
          .sort()
          .join(",");
      return (
        `exceeded quota: ${quota.metadata.name}, ` +
        `requested: ${list((r, k) => formatQuantity(k, requested[r] ?? 0))}, ` +
        `used: ${list((r, k) => formatQuantity(k, used[r] ?? 0))}, ` +
        `limited: ${list((_r, k) => String(hard[k]))}`
      );
    }
  }
  return undefined;
}

/** The status a quota should show for the given usage. */
export function quotaStatus(quota: KubeObject, used: Record<string, number>): JsonRecord {
  const hard = hardOf(quota);
  const usedOut: Record<string, string> = {};
  for (const key of Object.keys(hard)) usedOut[key] = formatQuantity(key, used[canonical(key)] ?? 0);
  return { hard: { ...hard }, used: usedOut };
}
