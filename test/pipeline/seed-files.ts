// Where each Jenkinsfile snippet of seeds 001 and 002 lives (verbatim, in examples/), by the snippet's
// name: the seed and the section it comes from. The five documentation fragments also have a twin
// (Jenkinsfile.local) that is Groovy and runs.
export const SEED_FILES: Readonly<Record<string, string>> = {
  "seed-001-container-log.groovy": "examples/seed-001/container-log/Jenkinsfile",
  "seed-001-container-options.groovy": "examples/seed-001/container-options/Jenkinsfile",
  "seed-001-container-specific.groovy": "examples/seed-001/container-specific/Jenkinsfile",
  "seed-001-declarative-container-template.groovy": "examples/seed-001/declarative-container-template/Jenkinsfile",
  "seed-001-declarative-yaml.groovy": "examples/seed-001/declarative-yaml/Jenkinsfile",
  "seed-001-declarative-yamlfile.groovy": "examples/seed-001/declarative-yamlfile/Jenkinsfile",
  "seed-001-inherit-from.groovy": "examples/seed-001/inherit-from/Jenkinsfile",
  "seed-001-jnlp-container.groovy": "examples/seed-001/jnlp-container/Jenkinsfile",
  "seed-001-jnlp-image-line.groovy": "examples/seed-001/jnlp-image-line/Jenkinsfile",
  "seed-001-library-consumer.groovy": "examples/seed-001/shared-library/Jenkinsfile",
  "seed-001-library-pod-templates.groovy": "examples/seed-001/shared-library/src/com/foo/utils/PodTemplates.groovy",
  "seed-001-liveness-probe.groovy": "examples/seed-001/liveness-probe/Jenkinsfile",
  "seed-001-multiple-containers.groovy": "examples/seed-001/multiple-containers/Jenkinsfile",
  "seed-001-nesting.groovy": "examples/seed-001/nesting/Jenkinsfile",
  "seed-001-shell.groovy": "examples/seed-001/shell/Jenkinsfile",
  "seed-001-yaml.groovy": "examples/seed-001/yaml/Jenkinsfile",
  "seed-002-pod-template-yaml.groovy": "examples/seed-002/pod-template-yaml/Jenkinsfile",
};

/** The twin beside a snippet's verbatim file. */
export function twinOf(snippet: string): string {
  return SEED_FILES[snippet]!.replace(/Jenkinsfile$/, "Jenkinsfile.local");
}
