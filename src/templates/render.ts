// The template engine's front door: find a template in a cloud, resolve its inheritance, build the pod,
// validate it. Everything a caller needs to print the pod, explain it, or refuse it.
import type { Cloud, PodTemplate } from "./model.ts";
import { resolveTemplate, templateDisplayName, type ResolvedTemplate } from "./inherit.ts";
import { buildPod, type AgentIdentity, type BuiltPod } from "./build.ts";
import { validatePod, type Problem } from "./validate.ts";
import { TemplateError } from "./errors.ts";

export interface RenderRequest {
  cloud: Cloud;
  template: PodTemplate;
  agent: AgentIdentity;
  /** Templates defined by a running pipeline, found by inheritFrom after the cloud's. */
  extraTemplates?: PodTemplate[];
  explain?: boolean;
}

export interface Rendered {
  resolved: ResolvedTemplate;
  built: BuiltPod;
  problems: Problem[];
}

export function renderPod(req: RenderRequest): Rendered {
  const run = (trace: boolean): Rendered => {
    const resolved = resolveTemplate(req.template, req.cloud, { trace, ...(req.extraTemplates ? { extraTemplates: req.extraTemplates } : {}) });
    const built = buildPod(resolved, req.cloud, req.agent);
    return { resolved, built, problems: validatePod(built.pod, built.provenance) };
  };
  const first = run(req.explain ?? false);
  // Problems are worth a second, traced pass: it names the template behind each bad value.
  return first.problems.length && !req.explain ? run(true) : first;
}

/** Throws a TemplateError listing every problem, each with the template that caused it. */
export function assertValid(rendered: Rendered, template: PodTemplate): void {
  if (rendered.problems.length === 0) return;
  const lines = rendered.problems.map((p) => `  ${p.path}: ${p.message}${p.source ? ` (from ${p.source})` : ""}`);
  throw new TemplateError(`template '${templateDisplayName(template)}' builds an invalid pod:\n${lines.join("\n")}`, template.at);
}

export function findTemplate(cloud: Cloud, name: string): PodTemplate {
  const found = cloud.templates.find((t) => t.name === name) ?? cloud.templates.find((t) => t.label === name);
  if (found) return found;
  const known = cloud.templates.map(templateDisplayName).join(", ") || "none";
  throw new TemplateError(`no template '${name}' in cloud '${cloud.name}' (templates: ${known})`, cloud.at);
}
