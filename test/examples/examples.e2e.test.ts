// Every example pipeline of examples/ runs on the embedded cluster with the result it is documented to
// have (examples/README.md): the seed's verbatim Jenkinsfile, and its local twin where there is one.
// One cluster serves them all; each example's config is the berth.yaml of its seed, as `berth run`
// finds it.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Controller } from "../../src/controller/provisioner.ts";
import { startAgentEndpoint } from "../../src/controller/agent-hub.ts";
import { createKubeClient } from "../../src/kube/client.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { runBuild } from "../../src/build/run-build.ts";
import { BuildOutput } from "../../src/build/output.ts";
import { credentialStore } from "../../src/build/credentials.ts";
import { startTestCluster } from "../cluster/kubelet/helpers.ts";
import { tempDir } from "../support/temp-dir.ts";

interface Example {
  file: string;
  result: "SUCCESS" | "FAILURE";
  log: RegExp[];
  params?: Record<string, string>;
}

const scratch = tempDir({ after }, "berth-examples-");
// A local repository for the twin of the example that clones public ones.
const repo = join(scratch, "repo");
execFileSync("sh", ["-c", `git init -q -b main "${repo}" && cd "${repo}" && echo '<project/>' > pom.xml && git add . && git -c user.email=t@e -c user.name=t commit -qm init`]);

const EXAMPLES: Example[] = [
  { file: "seed-001/jnlp-container/Jenkinsfile", result: "SUCCESS", log: [/^hello world$/m] },
  { file: "seed-001/container-specific/Jenkinsfile", result: "FAILURE", log: [/^ERROR: container mycontainer not found in pod/m] },
  { file: "seed-001/container-specific/Jenkinsfile.local", result: "SUCCESS", log: [/^hello world$/m] },
  { file: "seed-001/multiple-containers/Jenkinsfile.local", result: "SUCCESS", log: [/^Cloning repository /m, /Apache Maven/, /^pom\.xml$/m, /^go version go/m], params: { REPO: repo } },
  { file: "seed-001/nesting/Jenkinsfile", result: "SUCCESS", log: [] },
  { file: "seed-001/container-log/Jenkinsfile", result: "FAILURE", log: [/Required context class hudson.FilePath is missing/] },
  { file: "seed-001/container-log/Jenkinsfile.local", result: "SUCCESS", log: [/^> start log of container 'mongodb'/m, /^waiting for connections on port 27017$/m] },
  { file: "seed-001/container-options/Jenkinsfile.local", result: "SUCCESS", log: [/^allow empty: true, password: \*\*\*\*$/m, /^my-file$/m, /^my-key$/m] },
  { file: "seed-001/declarative-container-template/Jenkinsfile.local", result: "SUCCESS", log: [/Apache Maven/] },
  // A declarative agent checks out the Jenkinsfile's directory first (checkout scm).
  { file: "seed-001/declarative-yamlfile/Jenkinsfile.local", result: "SUCCESS", log: [/^Checking out \S+ at revision [0-9a-f]{40} /m, /Apache Maven/] },
  { file: "seed-001/inherit-from/Jenkinsfile.local", result: "SUCCESS", log: [/Apache Maven/, /^go version go/m] },
  { file: "seed-001/jnlp-image-line/Jenkinsfile.local", result: "SUCCESS", log: [/^running on the agent$/m] },
  { file: "seed-001/liveness-probe/Jenkinsfile", result: "SUCCESS", log: [] },
  { file: "seed-001/shell/Jenkinsfile", result: "FAILURE", log: [/No such property: my/] },
  { file: "seed-001/shell/Jenkinsfile.local", result: "SUCCESS", log: [/^hello world$/m] },
  { file: "seed-001/yaml/Jenkinsfile", result: "FAILURE", log: [/^ERROR: /m] },
  { file: "seed-001/yaml/Jenkinsfile.local", result: "SUCCESS", log: [/^\+ hostname$/m] },
  { file: "seed-001/declarative-yaml/Jenkinsfile", result: "FAILURE", log: [/^ERROR: .*yaml/im] },
  { file: "seed-001/declarative-yaml/Jenkinsfile.local", result: "SUCCESS", log: [/Apache Maven/, /BusyBox/] },
  { file: "seed-001/shared-library/Jenkinsfile", result: "FAILURE", log: [/^ERROR: /m] },
  { file: "seed-001/shared-library/Jenkinsfile.local", result: "SUCCESS", log: [/^hello from docker$/m, /^hello from maven$/m] },
  { file: "seed-002/pod-template-yaml/Jenkinsfile", result: "SUCCESS", log: [/^\+ hostname$/m] },
];

// The Kubernetes plugin's own examples that run offline (test/pipeline/fixtures/plugin-examples/README.md).
// The one that reads a YAML file by its path in the plugin's repository runs from a copy laid out like it.
const PLUGIN = "test/pipeline/fixtures/plugin-examples";
const pluginRepo = join(scratch, "kubernetes-plugin");
mkdirSync(join(pluginRepo, "examples"), { recursive: true });
cpSync(join(PLUGIN, "declarative_from_yaml_file"), join(pluginRepo, "examples", "declarative_from_yaml_file"), { recursive: true });
execFileSync("git", ["init", "-q", pluginRepo]);
const PLUGIN_EXAMPLES: Example[] = [
  { file: join(PLUGIN, "declarative.groovy"), result: "SUCCESS", log: [/Apache Maven/] },
  { file: join(PLUGIN, "declarative-multiple-containers.groovy"), result: "SUCCESS", log: [/Apache Maven/, /BusyBox/] },
  { file: join(pluginRepo, "examples", "declarative_from_yaml_file", "Jenkinsfile"), result: "SUCCESS", log: [/^OUTSIDE_CONTAINER_ENV_VAR = jnlp$/m, /^MAVEN_CONTAINER_ENV_VAR = maven$/m, /Apache Maven/, /BusyBox/] },
  { file: join(PLUGIN, "currentPodLabel.groovy"), result: "FAILURE", log: [/No such property: current_pod_label/] },
];

test("examples run on the embedded cluster with their documented results", async (t) => {
  const cluster = await startTestCluster();
  const endpoint = await startAgentEndpoint({ log: () => {} });
  const controllers = new Map<string, Controller>();
  // The cluster (and its directory) goes even when stopping the others fails.
  t.after(async () => {
    try {
      for (const c of controllers.values()) await c.stop();
      await endpoint.close();
    } finally {
      await cluster.dispose();
    }
  });
  // What the examples expect to find in the namespace.
  const client = createKubeClient({ kubeconfig: cluster.kubeconfigPath });
  const secret = (name: string, data: Record<string, string>) =>
    client.core.createNamespacedSecret({ namespace: "default", body: { metadata: { name }, stringData: data } });
  await secret("mysql-secret", { password: "s3cret-pw" });
  await secret("my-secret", { "my-file": "x" });
  await secret("maven-settings", { "settings.xml": "<settings/>" });
  await client.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "my-config" }, data: { "my-key": "v" } } });
  for (const name of ["my-claim", "maven-local-repo"]) {
    await client.core.createNamespacedPersistentVolumeClaim({ namespace: "default", body: { metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } });
  }

  const controllerFor = async (configFile: string): Promise<Controller> => {
    let controller = controllers.get(configFile);
    if (!controller) {
      const config = loadConfigFile(configFile);
      controller = await Controller.start({ clouds: config.clouds, hub: endpoint.hub, controllerUrl: endpoint.url, connectionFor: () => ({ kubeconfig: cluster.kubeconfigPath }), log: () => {} });
      controllers.set(configFile, controller);
    }
    return controller;
  };

  for (const example of [...EXAMPLES.map((e) => ({ ...e, file: join("examples", e.file) })), ...PLUGIN_EXAMPLES]) {
    await t.test(example.file, async () => {
      const jenkinsfile = example.file;
      const lines: string[] = [];
      const outcome = await runBuild({
        jenkinsfile,
        text: readFileSync(jenkinsfile, "utf8"),
        controller: await controllerFor(example.file.startsWith("examples/") ? join(dirname(dirname(jenkinsfile)), "berth.yaml") : "examples/seed-002/berth.yaml"),
        jobName: basename(dirname(jenkinsfile)),
        buildNumber: 1,
        buildDir: join(scratch, example.file),
        output: new BuildOutput((l) => lines.push(l)),
        credentials: credentialStore([]),
        ...(example.params ? { params: example.params } : {}),
      });
      const log = lines.join("\n");
      assert.equal(outcome.result, example.result, log);
      assert.equal(lines.at(-1), `Finished: ${example.result}`);
      for (const expected of example.log) assert.match(log, expected, log);
      writeFileSync(join(scratch, `${example.file.replaceAll("/", "_")}.log`), log);
    });
  }
});
