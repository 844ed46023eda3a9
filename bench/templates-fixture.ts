// The benchmark's template chain, shared with profiling scripts.
import { stringify } from "yaml";
import type { Cloud, PodTemplate } from "../src/templates/model.ts";

const LEVELS = 5;
const templates: PodTemplate[] = Array.from({ length: LEVELS }, (_, i) => ({
  name: `level-${i}`,
  label: `level-${i}`,
  ...(i > 0 ? { inheritFrom: `level-${i - 1}` } : {}),
  yamlMergeStrategy: "merge",
  inheritYamlMergeStrategy: true,
  serviceAccount: `sa-${i}`,
  envVars: [{ kind: "envVar", key: `LEVEL_${i}`, value: String(i) }],
  volumes: [{ kind: "emptyDirVolume", mountPath: `/cache-${i}` }],
  containers: [
    { name: "build", image: `builder:${i}`, command: "cat", ttyEnabled: true, resourceRequestCpu: `${100 + i}m`, envVars: [{ kind: "envVar", key: "STEP", value: String(i) }] },
    { name: `tool-${i}`, image: `tool:${i}`, command: "sleep infinity" },
  ],
  yaml: stringify({
    metadata: { labels: { [`level-${i}`]: "yes" }, annotations: { [`note-${i}`]: "x" } },
    spec: {
      tolerations: [{ key: `dedicated-${i}`, operator: "Exists" }],
      containers: [{ name: "build", env: [{ name: `YAML_${i}`, value: "y" }], resources: { limits: { memory: `${i + 1}Gi` } } }],
    },
  }),
}));
export const cloud: Cloud = { name: "kubernetes", podLabels: { jenkins: "slave" }, podRetention: "never", templates, namespace: "ci" };
export const leaf = templates.at(-1)!;
export const agent = { name: "bench-agent-x1y2z", secret: "f".repeat(64), controllerUrl: "http://127.0.0.1:8080/" };

