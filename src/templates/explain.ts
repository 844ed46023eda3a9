// `berth template render --explain`: every field of the final pod with the template (fields or YAML)
// that supplied it, and every value that lost to another one and to whom.
import type { Rendered } from "./render.ts";
import { isObject, listItemKey, listKeyField } from "./pod-merge.ts";
import { childPath, describeOrigin, type Shadow } from "./trace.ts";

export function explain(rendered: Rendered, mask: (path: string, value: unknown) => unknown): string {
  const provenance = rendered.built.provenance;
  if (!provenance) throw new Error("explain needs a traced resolution");
  const out: string[] = [];
  const { resolved, built } = rendered;
  out.push(`# template chain (applied in this order): ${resolved.chain.join(" -> ")}`);
  for (const note of [...resolved.warnings.map((w) => `warning: ${w}`), ...built.notes]) out.push(`# ${note}`);
  out.push("");

  const leaves: [string, unknown][] = [];
  collectLeaves("", built.pod, leaves);
  const shadowsByPath = new Map<string, Shadow[]>();
  for (const s of provenance.shadows) shadowsByPath.set(s.path, [...(shadowsByPath.get(s.path) ?? []), s]);
  const width = Math.min(60, Math.max(...leaves.map(([p, v]) => p.length + show(v).length + 2)));
  for (const [path, value] of leaves) {
    const shown = `${path}: ${show(mask(path, value))}`;
    out.push(`${shown.padEnd(width)}  <- ${describeOrigin(provenance.origins.originOf(path))}`);
    for (const s of shadowsByPath.get(path) ?? []) out.push(shadowLine(s, mask));
    shadowsByPath.delete(path);
  }
  const settings = [...provenance.origins.entries].filter(([p]) => p.startsWith("template."));
  if (settings.length) {
    out.push("", "# template settings (not pod fields)");
    for (const [path, origin] of settings) out.push(`${path}  <- ${describeOrigin(origin)}`);
  }
  const rest = [...shadowsByPath.values()].flat();
  if (rest.length) {
    out.push("", "# other values that were overridden");
    for (const s of rest) out.push(`${s.path}:`, shadowLine(s, mask));
  }
  return out.join("\n") + "\n";
}

function shadowLine(s: Shadow, mask: (path: string, value: unknown) => unknown): string {
  return `    shadows ${show(mask(s.path, s.value))} from ${describeOrigin(s.from)}`;
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? "null";
}

/** Leaves of the pod: scalars, lists of scalars, and empty objects, with keyed list items by key. */
function collectLeaves(path: string, value: unknown, out: [string, unknown][]): void {
  if (Array.isArray(value)) {
    if (value.every((v) => !isObject(v)) || value.length === 0) {
      out.push([path, value]);
      return;
    }
    const keyField = listKeyField(path);
    value.forEach((item, i) => {
      const itemPath = `${path}[${listItemKey(path, item) ?? i}]`;
      // The key is already in the path; printing it again as a field is noise.
      const rest = isObject(item) && keyField ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== keyField)) : item;
      if (isObject(rest) && Object.keys(rest).length === 0) out.push([itemPath, item]);
      else collectLeaves(itemPath, rest, out);
    });
    return;
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) out.push([path, value]);
    for (const [k, v] of entries) collectLeaves(childPath(path, k), v, out);
    return;
  }
  out.push([path, value]);
}
