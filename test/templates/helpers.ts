// Shared fixtures for template tests: a cloud around some templates, and a render with fixed identity.
import type { Cloud, PodTemplate } from "../../src/templates/model.ts";
import { renderPod, type Rendered } from "../../src/templates/render.ts";
import type { JsonObject } from "../../src/templates/pod-merge.ts";

export function cloudOf(templates: PodTemplate[], extra: Partial<Cloud> = {}): Cloud {
  return { name: "kubernetes", podLabels: { jenkins: "slave" }, podRetention: "never", templates, ...extra };
}

export const AGENT = { name: "agent-1", secret: "0123456789abcdef", controllerUrl: "http://controller:8080" };

export function render(templates: PodTemplate[], name: string, extra: Partial<Cloud> = {}, explain = false): Rendered {
  const cloud = cloudOf(templates, extra);
  const template = cloud.templates.find((t) => t.name === name)!;
  return renderPod({ cloud, template, agent: AGENT, explain });
}

export function podOf(templates: PodTemplate[], name: string, extra: Partial<Cloud> = {}): JsonObject {
  return render(templates, name, extra).built.pod;
}

type Container = { name: string; image?: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[]; [k: string]: unknown };

export function containers(pod: JsonObject): Container[] {
  return (pod["spec"] as { containers: Container[] }).containers;
}

export function container(pod: JsonObject, name: string): Container {
  const c = containers(pod).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name} in ${containers(pod).map((x) => x.name).join(",")}`);
  return c;
}

export function envOf(pod: JsonObject, name: string): Record<string, string | undefined> {
  return Object.fromEntries((container(pod, name).env ?? []).map((e) => [e.name, e.value]));
}

export function spec(pod: JsonObject): JsonObject {
  return pod["spec"] as JsonObject;
}
