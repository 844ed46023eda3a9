// Every template in examples/ (the seeds' pod templates) renders to a valid pod.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfigFile } from "../../src/config/load.ts";
import { renderPod } from "../../src/templates/render.ts";
import { AGENT } from "./helpers.ts";

const configs = readdirSync("examples")
  .map((dir) => join("examples", dir, "berth.yaml"))
  .filter((file) => existsSync(file));

test("there are example configs", () => assert.ok(configs.length >= 2));

for (const file of configs) {
  const config = loadConfigFile(file);
  for (const cloud of config.clouds) {
    for (const template of cloud.templates) {
      test(`${file}: ${template.name} renders to a valid pod`, () => {
        const rendered = renderPod({ cloud, template, agent: AGENT });
        assert.deepEqual(rendered.problems, []);
        assert.deepEqual(rendered.resolved.warnings, []);
        const containers = (rendered.built.pod["spec"] as { containers: { name: string }[] }).containers;
        assert.ok(containers.some((c) => c.name === (template.agentContainer ?? "jnlp")));
      });
    }
  }
}

test("seed 001 examples resolve as the README describes", () => {
  const cloud = loadConfigFile("examples/seed-001/berth.yaml").clouds[0]!;
  const render = (name: string) => renderPod({ cloud, template: cloud.templates.find((t) => t.name === name)!, agent: AGENT }).built.pod;
  const names = (name: string) => (render(name)["spec"] as { containers: { name: string; image: string }[] }).containers.map((c) => `${c.name}=${c.image}`);
  assert.deepEqual(names("anotherpod"), ["maven=maven:3.3.9-jdk-7-alpine", "golang=golang:1.8.0", "jnlp=docker.io/library/node:24-alpine"]);
  assert.deepEqual(names("maven"), ["docker=docker", "maven=maven", "jnlp=docker.io/library/node:24-alpine"]);
  // Jenkins' remoting image gives way to Berth's agent (docs/templates.md, differences).
  assert.deepEqual(names("custom-jnlp"), ["jnlp=docker.io/library/node:24-alpine"]);
  const library = render("library-maven");
  const volumes = (library["spec"] as { volumes: { name: string }[] }).volumes.map((v) => Object.keys(v).filter((k) => k !== "name")[0]);
  assert.deepEqual(volumes, ["hostPath", "secret", "persistentVolumeClaim", "emptyDir"]);
});
