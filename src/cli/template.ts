// `berth template render` and `berth template list`: show the pod a template produces, where each of its
// fields came from, and which templates exist. The interface is fixed (other tools call it).
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { stringify } from "yaml";
import { loadConfigFile, type BerthConfig } from "../config/load.ts";
import type { Cloud } from "../templates/model.ts";
import { agentNameFor } from "../templates/naming.ts";
import { parentNames, resolveTemplate, templateDisplayName } from "../templates/inherit.ts";
import { assertValid, findTemplate, renderPod } from "../templates/render.ts";
import { explain } from "../templates/explain.ts";
import { TemplateError } from "../templates/errors.ts";
import { isObject } from "../templates/pod-merge.ts";
import { DEFAULT_CONTROLLER_URL, UsageError } from "./errors.ts";

const SECRET_MASK = "********";

interface RenderOptions {
  config: string;
  template: string;
  cloud?: string;
  agentName?: string;
  secret?: string;
  controllerUrl?: string;
  output: string;
  explain?: boolean;
  showSecret?: boolean;
}

export function registerTemplateCommands(program: Command): void {
  const template = program.command("template").description("Inspect pod templates: the final pod and where each field came from.");

  template
    .command("render")
    .description("Print the Pod a template produces, after inheritance, YAML merging and Berth's defaults.")
    .option("--config <file>", "configuration file", "berth.yaml")
    .requiredOption("--template <name>", "template name (or label)")
    .option("--cloud <name>", "cloud the template belongs to (default: the first cloud that has it)")
    .option("--agent-name <name>", "agent and pod name, used verbatim (default: template name + random suffix)")
    .option("--secret <secret>", "agent secret (default: random)")
    .option("--controller-url <url>", "URL the agent connects back to (default: the cloud's jenkinsUrl)")
    .option("-o, --output <format>", "yaml or json", "yaml")
    .option("--explain", "print where every field came from instead of the manifest")
    .option("--show-secret", "print the agent secret instead of masking it")
    .action((opts: RenderOptions) => {
      if (opts.output !== "yaml" && opts.output !== "json") throw new UsageError(`--output must be yaml or json, not '${opts.output}'`);
      const config = loadConfigFile(opts.config);
      printWarnings(config);
      const cloud = pickCloud(config, opts.template, opts.cloud);
      const tpl = findTemplate(cloud, opts.template);
      const secret = opts.secret ?? randomBytes(32).toString("hex");
      const agent = {
        name: opts.agentName ?? agentNameFor(tpl.name ?? tpl.label),
        secret,
        controllerUrl: opts.controllerUrl ?? cloud.jenkinsUrl ?? DEFAULT_CONTROLLER_URL,
      };
      const rendered = renderPod({ cloud, template: tpl, agent, explain: opts.explain ?? false });
      for (const w of rendered.resolved.warnings) process.stderr.write(`warning: ${w}\n`);
      assertValid(rendered, tpl);
      const mask = (_path: string, value: unknown) => (opts.showSecret ? value : maskSecret(value, secret));
      if (opts.explain) process.stdout.write(explain(rendered, mask));
      else {
        const pod = mask("", rendered.built.pod);
        process.stdout.write(opts.output === "json" ? JSON.stringify(pod, null, 2) + "\n" : stringify(pod, { lineWidth: 0, aliasDuplicateObjects: false }));
      }
    });

  template
    .command("list")
    .description("List clouds and their templates with the parents each one resolves to.")
    .option("--config <file>", "configuration file", "berth.yaml")
    .action((opts: { config: string }) => {
      const config = loadConfigFile(opts.config);
      printWarnings(config);
      process.stdout.write(listTemplates(config));
    });
}

function printWarnings(config: BerthConfig): void {
  for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
}

function pickCloud(config: BerthConfig, template: string, name: string | undefined): Cloud {
  if (name !== undefined) {
    const cloud = config.clouds.find((c) => c.name === name);
    if (!cloud) throw new TemplateError(`no cloud '${name}' in ${config.file} (clouds: ${config.clouds.map((c) => c.name).join(", ") || "none"})`);
    return cloud;
  }
  const withTemplate = config.clouds.find((c) => c.templates.some((t) => t.name === template || t.label === template));
  const first = withTemplate ?? config.clouds[0];
  if (!first) throw new TemplateError(`${config.file} defines no cloud`);
  return first;
}

// A secret shorter than this is only masked where it is a whole value: masking every occurrence of a
// one-letter `--secret` would mangle the whole manifest.
const MASK_SUBSTRINGS_FROM = 8;

/** Replaces the agent secret wherever it appears, so manifests can be pasted into tickets safely. */
export function maskSecret(value: unknown, secret: string): unknown {
  if (typeof value === "string") {
    if (value === secret) return SECRET_MASK;
    return secret.length >= MASK_SUBSTRINGS_FROM && value.includes(secret) ? value.replaceAll(secret, SECRET_MASK) : value;
  }
  if (Array.isArray(value)) return value.map((v) => maskSecret(v, secret));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecret(v, secret)]));
  return value;
}

export function listTemplates(config: BerthConfig): string {
  const lines: string[] = [];
  for (const cloud of config.clouds) {
    const where = [cloud.serverUrl ?? "server from kubeconfig or service account", cloud.namespace ? `namespace ${cloud.namespace}` : undefined].filter(Boolean).join(", ");
    lines.push(`cloud ${cloud.name} (${where})`);
    if (cloud.defaultsProviderTemplate) lines.push(`  defaults template: ${cloud.defaultsProviderTemplate}`);
    if (cloud.templates.length === 0) lines.push("  (no templates)");
    for (const t of cloud.templates) {
      let chain: string;
      try {
        const resolved = resolveTemplate(t, cloud);
        chain = resolved.chain.slice(0, -1).join(" -> ") || "-";
        for (const w of resolved.warnings) lines.push(`  warning: ${w}`);
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        chain = `error: ${e.message}`;
      }
      const containers = (t.containers ?? []).map((c) => c.name).join(", ") || "-";
      const declared = parentNames(t).join(" ");
      lines.push(`  ${templateDisplayName(t)}`);
      lines.push(`    label: ${t.label ?? "-"}   containers: ${containers}${t.yaml ? "   yaml: yes" : ""}`);
      lines.push(`    inherits: ${declared || "-"}   resolved parents: ${chain}`);
    }
  }
  return lines.join("\n") + "\n";
}
