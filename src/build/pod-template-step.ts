// The podTemplate step's arguments as a pod template (reference: plugin §2.1). Pure: values in, a
// PodTemplate out. The step's parameters are the fields of the Configuration-as-Code schema that
// berth.yaml reads, so the arguments are turned into that shape and read by the same reader: one set of
// rules and messages for a template wherever it is written.
import { readTemplate } from "../config/load.ts";
import { ConfigError, YamlValue } from "../config/yaml-reader.ts";
import type { PodTemplate } from "../templates/model.ts";
import { randomSuffix, sanitizeLabel, type RandomSource } from "../templates/naming.ts";
import { PipelineError, isMap, toStr, type Value } from "../pipeline/runtime/values.ts";

/** What an enclosing podTemplate step passes to the ones nested in it. */
export interface EnclosingTemplate {
  name: string;
  namespace?: string;
}

export interface PodTemplateStep {
  template: PodTemplate;
  /** Set when the step generated the label: the body gets it as POD_LABEL. */
  generatedLabel?: string;
  cloud?: string;
  /** Accepted for compatibility, without effect (listed so the build log can say so). */
  ignored: string[];
}

export interface PodTemplateContext {
  /** `<job>#<build>`, the base of generated labels. */
  buildId: string;
  enclosing?: EnclosingTemplate;
  /** Reads `yamlFile` (relative to the Jenkinsfile, as readTrusted does); returns the text and its path. */
  readYamlFile(path: string): { text: string; file: string };
  at: { file: string; line: number; column: number };
  /** Where the `yaml` argument's text starts in the file, when known. */
  yamlAt?: { line: number; column: number };
  random?: RandomSource;
}

// Step parameters that are not template fields.
const STEP_ONLY = new Set(["cloud", "yamlFile", "workingDir", "retries", "label", "name", "inheritFrom", "namespace"]);
const IGNORED = new Set(["workingDir"]);

/** Groovy values to the JSON the config reader takes: `containerTemplate(...)` becomes `{containerTemplate: {...}}`. */
export function toConfigShape(value: Value): unknown {
  if (Array.isArray(value)) return value.map(toConfigShape);
  if (isMap(value)) {
    const fields: Record<string, unknown> = {};
    let symbol: string | undefined;
    for (const [k, v] of value) {
      if (k === "$symbol") symbol = toStr(v);
      else fields[toStr(k)] = toConfigShape(v);
    }
    return symbol ? { [symbol]: fields } : fields;
  }
  if (value instanceof Object && !(typeof value === "string" || typeof value === "number" || typeof value === "boolean")) return toStr(value);
  return value;
}

export function podTemplateFromStep(args: ReadonlyMap<string, Value>, ctx: PodTemplateContext): PodTemplateStep {
  const random = ctx.random ?? Math.random;
  const given = (k: string): Value | undefined => (args.has(k) && args.get(k) !== null ? args.get(k) : undefined);
  const fields: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [k, v] of args) {
    if (IGNORED.has(k)) ignored.push(k);
    if (!STEP_ONLY.has(k) && v !== null) fields[k] = toConfigShape(v);
  }
  const yamlFile = given("yamlFile");
  let yamlAt: PodTemplate["yamlAt"];
  if (yamlFile !== undefined) {
    if (fields["yaml"] !== undefined) throw new PipelineError("podTemplate: give either yaml or yamlFile, not both", "hudson.AbortException");
    const read = ctx.readYamlFile(toStr(yamlFile));
    fields["yaml"] = read.text;
    yamlAt = { file: read.file, line: 1, column: 1 };
  } else if (typeof fields["yaml"] === "string") {
    // A Groovy string's lines are the file's lines from the one it starts on (exact for the usual
    // triple-quoted text, whose first line is the empty rest of the line with the quotes).
    const at = ctx.yamlAt;
    yamlAt = at ? { file: ctx.at.file, line: at.line, column: 1 } : { file: `${ctx.at.file} (yaml of the podTemplate at line ${ctx.at.line})`, line: 1, column: 1 };
  }

  let template: PodTemplate;
  try {
    template = readTemplate(YamlValue.parse(JSON.stringify(fields), "podTemplate"));
  } catch (e) {
    if (e instanceof ConfigError) throw new PipelineError(`podTemplate: ${e.message.replace(/^podTemplate:\d+:\d+: /, "").replace(/^the document: /, "")}`, "hudson.AbortException");
    throw e;
  }
  template.at = ctx.at;
  if (yamlAt) template.yamlAt = yamlAt;

  // Label, name and inheritance as the plugin's PodTemplateStepExecution makes them.
  const label = given("label") !== undefined ? toStr(given("label")!).trim() : "";
  const generatedLabel = label ? undefined : `${sanitizeLabel(ctx.buildId)}-${randomSuffix(random)}`;
  template.label = label || generatedLabel!;
  template.name = `${given("name") !== undefined ? toStr(given("name")!) : template.label}-${randomSuffix(random)}`;
  const namespace = given("namespace") !== undefined ? toStr(given("namespace")!).trim() : "";
  if (namespace || ctx.enclosing?.namespace) template.namespace = namespace || ctx.enclosing!.namespace!;
  const inheritFrom = given("inheritFrom");
  if (inheritFrom === undefined) {
    if (ctx.enclosing) template.inheritFrom = ctx.enclosing.name;
  } else if (toStr(inheritFrom).trim()) {
    template.inheritFrom = toStr(inheritFrom).trim();
  }
  const cloud = given("cloud");
  return { template, ...(generatedLabel ? { generatedLabel } : {}), ...(cloud !== undefined ? { cloud: toStr(cloud) } : {}), ignored };
}
