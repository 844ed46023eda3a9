// Which agent pods are kept after their build (podRetention), and how a kept pod is reported. Pure.
import type { V1Pod } from "@kubernetes/client-node";
import type { Cloud, PodRetention, PodTemplate } from "../templates/model.ts";

/** The template's policy, or the cloud's for `default` or unset (the cloud's own default is `never`). */
export function effectiveRetention(template: PodTemplate, cloud: Cloud): Exclude<PodRetention, "default"> {
  const own = template.podRetention;
  if (own && own !== "default") return own;
  return cloud.podRetention === "default" ? "never" : cloud.podRetention;
}

/**
 * Whether to keep the pod. `onFailure` keeps it when the build failed as well as when the pod itself
 * failed: the plugin looks at the pod only, so a failing build on a healthy pod lost exactly the pod the
 * user wanted to inspect (docs/templates.md lists this difference).
 */
export function keepPod(retention: Exclude<PodRetention, "default">, pod: V1Pod | undefined, buildFailed: boolean): boolean {
  switch (retention) {
    case "never":
      return false;
    case "always":
      return true;
    case "onFailure":
      return buildFailed || pod === undefined || /^(failed|unknown)$/i.test(pod.status?.phase ?? "");
    case "evicted":
      return /^evicted$/i.test(pod?.status?.reason ?? "");
  }
}

/** The commands a user can paste to look at a kept pod. */
export function inspectCommands(namespace: string, podName: string, agentContainer: string): string[] {
  return [
    `kubectl -n ${namespace} describe pod ${podName}`,
    `kubectl -n ${namespace} logs ${podName} -c ${agentContainer}`,
    `kubectl -n ${namespace} delete pod ${podName}   # when done`,
  ];
}
