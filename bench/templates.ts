// npm run bench:templates — template resolutions per second for a 5-level inheritance chain where every
// level has fields and YAML, merged with yamlMergeStrategy: merge. Goal: over 20,000 per second on one
// core. Baseline in the same run: parsing the resulting manifest from YAML text, i.e. what merely reading
// the finished pod would cost.
import { parse, stringify } from "yaml";
import { agent, cloud, leaf } from "./templates-fixture.ts";
import { renderPod } from "../src/templates/render.ts";
import { resolveTemplate } from "../src/templates/inherit.ts";
import { buildPod } from "../src/templates/build.ts";

// Rates are per second of this process's CPU time, so other work on the machine does not skew them.
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function rate(label: string, fn: () => void, seconds = 2): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT and the YAML cache
  let n = 0;
  const start = cpuSeconds();
  while (cpuSeconds() - start < seconds) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  const perSecond = n / (cpuSeconds() - start);
  console.log(`${label.padEnd(48)} ${Math.round(perSecond).toLocaleString("en-US").padStart(10)} /s`);
  return perSecond;
}

const rendered = renderPod({ cloud, template: leaf, agent });
if (rendered.problems.length) throw new Error(`benchmark pod is invalid: ${JSON.stringify(rendered.problems)}`);
const manifest = stringify(rendered.built.pod, { aliasDuplicateObjects: false });

console.log(`5-level chain (fields + YAML at every level, merge strategy); final pod: ${(rendered.built.pod["spec"] as { containers: unknown[] }).containers.length} containers, ${manifest.split("\n").length} lines of YAML`);
const resolveAndBuild = rate("resolve + build", () => buildPod(resolveTemplate(leaf, cloud), cloud, agent));
// As if the configuration were reloaded before every pod: new template objects, nothing remembered.
const cold = rate("resolve + build, config reloaded each time", () => {
  const fresh = { ...cloud, templates: cloud.templates.map((t) => ({ ...t })) };
  buildPod(resolveTemplate(fresh.templates.at(-1)!, fresh), fresh, agent);
});
const full = rate("resolve + build + validate (renderPod)", () => renderPod({ cloud, template: leaf, agent }));
rate("resolve + build, traced (--explain)", () => buildPod(resolveTemplate(leaf, cloud, { trace: true }), cloud, agent), 1);
const baseline = rate("baseline: parse the final manifest from YAML", () => parse(manifest));
console.log("");
console.log(`resolutions per second (resolve + build): ${Math.round(resolveAndBuild).toLocaleString("en-US")} (goal > 20,000: ${resolveAndBuild > 20000 ? "met" : "NOT met"})`);
console.log(`with validation: ${Math.round(full).toLocaleString("en-US")} /s; with the config reloaded before every pod: ${Math.round(cold).toLocaleString("en-US")} /s`);
console.log(`ratio to baseline (how many resolutions per YAML parse of the result): ${(resolveAndBuild / baseline).toFixed(2)}x`);
