// berth.yaml: the JCasC schema of the Kubernetes plugin, and errors that point into the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/yaml-reader.ts";

// The shape of the plugin's own configuration-as-code test file (jenkins: clouds: - kubernetes: ...).
const JCASC = `jenkins:
  clouds:
    - kubernetes:
        containerCapStr: "10"
        jenkinsUrl: "http://jenkinshost:8080/jenkins/"
        maxRequestsPerHostStr: "32"
        name: "kubernetes"
        templates:
          - hostNetwork: false
            label: "java"
            name: "default-java"
            yamlMergeStrategy: "override"
          - containers:
              - args: "cat"
                command: "/bin/sh -c"
                image: "maven:3.6.3-jdk-8"
                livenessProbe:
                  failureThreshold: 1
                  initialDelaySeconds: 2
                  periodSeconds: 3
                  successThreshold: 4
                  timeoutSeconds: 5
                name: "maven"
                ttyEnabled: true
                workingDir: "/src"
            hostNetwork: false
            label: "test"
            name: "test"
            yamlMergeStrategy: "merge"
            workspaceVolume:
              dynamicPVC:
                accessModes: "ReadWriteOnce"
                requestsSize: "1"
                storageClassName: "hostpath"
`;

test("a pasted JCasC clouds section loads", () => {
  const config = parseConfig(JCASC, "casc.yaml");
  const cloud = config.clouds[0]!;
  assert.equal(cloud.name, "kubernetes");
  assert.equal(cloud.containerCap, 10);
  assert.equal(cloud.maxRequestsPerHost, 32);
  assert.equal(cloud.jenkinsUrl, "http://jenkinshost:8080/jenkins/");
  assert.deepEqual(cloud.podLabels, { jenkins: "slave" });
  assert.equal(cloud.podRetention, "never");
  const [java, test_] = cloud.templates;
  assert.equal(java!.name, "default-java");
  assert.equal(java!.hostNetwork, false);
  assert.equal(java!.yamlMergeStrategy, "override");
  assert.deepEqual(test_!.containers![0], {
    name: "maven",
    image: "maven:3.6.3-jdk-8",
    command: "/bin/sh -c",
    args: "cat",
    workingDir: "/src",
    ttyEnabled: true,
    livenessProbe: { execArgs: "", failureThreshold: 1, initialDelaySeconds: 2, periodSeconds: 3, successThreshold: 4, timeoutSeconds: 5 },
  });
  assert.deepEqual(test_!.workspaceVolume, { kind: "dynamicPVC", accessModes: "ReadWriteOnce", requestsSize: "1", storageClassName: "hostpath" });
  assert.deepEqual(test_!.at, { file: "casc.yaml", line: 13, column: 13 });
});

test("env vars, volumes, annotations, pull secrets, retention in their JCasC spellings", () => {
  const config = parseConfig(
    `clouds:
- kubernetes:
    name: k8s
    podRetention: onFailure
    podLabels: [{key: team, value: ci}]
    templates:
    - name: t
      podRetention: {always: {}}
      nodeUsageMode: NORMAL
      instanceCapStr: ""
      idleMinutesStr: "5"
      envVars:
      - envVar: {key: A, value: "1"}
      - secretEnvVar: {key: B, secretName: s, secretKey: k, optional: true}
      volumes:
      - emptyDirVolume: {mountPath: /a, memory: true}
      - configMapVolume: {mountPath: /b, configMapName: cm}
      - secretVolume: {mountPath: /c, secretName: s, defaultMode: "0644"}
      - hostPathVolume: {mountPath: /d, hostPath: /h}
      - nfsVolume: {mountPath: /e, serverAddress: 1.2.3.4, serverPath: /}
      - persistentVolumeClaim: {mountPath: /f, claimName: c, readOnly: true}
      - genericEphemeralVolume: {mountPath: /g, requestsSize: 1Gi}
      annotations:
      - {key: k, value: v}
      imagePullSecrets:
      - name: one
      - two
`,
    "berth.yaml",
  );
  const cloud = config.clouds[0]!;
  assert.equal(cloud.podRetention, "onFailure");
  assert.deepEqual(cloud.podLabels, { team: "ci" });
  const t = cloud.templates[0]!;
  assert.equal(t.podRetention, "always");
  assert.equal(t.nodeUsageMode, "NORMAL");
  assert.equal(t.instanceCap, undefined);
  assert.equal(t.idleMinutes, 5);
  assert.deepEqual(t.envVars, [
    { kind: "envVar", key: "A", value: "1" },
    { kind: "secretEnvVar", key: "B", secretName: "s", secretKey: "k", optional: true },
  ]);
  assert.deepEqual(t.volumes?.map((v) => v.kind), ["emptyDirVolume", "configMapVolume", "secretVolume", "hostPathVolume", "nfsVolume", "persistentVolumeClaim", "genericEphemeralVolume"]);
  assert.deepEqual(t.annotations, [{ key: "k", value: "v" }]);
  assert.deepEqual(t.imagePullSecrets, ["one", "two"]);
});

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, "berth.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no error");
}

test("an unknown field is reported at its line and column, with a suggestion", () => {
  const e = errorOf("clouds:\n- kubernetes:\n    name: k\n    templates:\n    - name: t\n      serviceAcount: x\n");
  assert.equal(e.format(), "berth.yaml:6:7: templates[0]: unknown field 'serviceAcount' (did you mean 'serviceAccount'?)");
});

test("wrong types and missing required values point at the value", () => {
  assert.equal(errorOf("clouds:\n- kubernetes:\n    containerCapStr: ten\n").format(), 'berth.yaml:3:22: containerCapStr: expected a whole number, got "ten"');
  assert.equal(errorOf("clouds:\n- kubernetes:\n    templates:\n    - containers:\n      - image: x\n").format(), "berth.yaml:5:9: containers[0]: a container needs a name");
  assert.match(errorOf("clouds:\n- kubernetes:\n    templates:\n    - podRetention: sometimes\n").format(), /^berth\.yaml:4:21: podRetention: unknown podRetention 'sometimes'/);
  assert.match(errorOf("clouds:\n- kubernetes:\n    templates:\n    - volumes:\n      - tmpfs: {}\n").format(), /^berth\.yaml:5:9: .*expected one of emptyDirVolume/);
  assert.match(errorOf("clouds:\n- kubernetes:\n    templates:\n    - containers:\n      - {name: a, image: 'two words'}\n").format(), /^berth\.yaml:5:26: image: malformed image 'two words'/);
});

test("YAML syntax errors, empty files, duplicates", () => {
  assert.match(errorOf("clouds:\n  - kubernetes: [\n").format(), /^berth\.yaml:\d+:\d+: invalid YAML/);
  assert.match(errorOf("").format(), /^berth\.yaml:1:1: .*empty/);
  assert.match(errorOf("clouds:\n- kubernetes:\n    templates:\n    - name: a\n    - name: a\n").format(), /^berth\.yaml:5:7: cloud 'kubernetes' has two templates named 'a'/);
  assert.match(errorOf("clouds:\n- kubernetes: {name: a}\n- kubernetes: {name: a}\n").format(), /two clouds are named 'a'/);
  assert.match(errorOf("clouds:\n- docker: {}\n").format(), /^berth\.yaml:2:3: .*unknown field 'docker'/);
});

test("the position of a template's yaml block points at its first line, so YAML errors inside map into the file", () => {
  const config = parseConfig("clouds:\n- kubernetes:\n    templates:\n    - name: t\n      yaml: |\n        spec:\n          containers: [\n", "berth.yaml");
  assert.deepEqual(config.clouds[0]!.templates[0]!.yamlAt, { file: "berth.yaml", line: 6, column: 9 });
});

test("settings Berth does not use are accepted with a warning", () => {
  const config = parseConfig("clouds:\n- kubernetes:\n    name: k\n    credentialsId: my-creds\n    templates:\n    - name: t\n      id: 1234\n", "berth.yaml");
  assert.deepEqual(config.warnings, ["cloud 'k': 'credentialsId' is accepted for compatibility but has no effect in Berth"]);
});

test("Berth's own cloud settings: kubeconfig, context, rate limit", () => {
  const config = parseConfig("clouds:\n- kubernetes:\n    kubeconfig: /etc/berth/kubeconfig\n    context: ci\n    qps: 20\n    burst: 40\n", "berth.yaml");
  const cloud = config.clouds[0]!;
  assert.deepEqual([cloud.kubeconfig, cloud.context, cloud.qps, cloud.burst], ["/etc/berth/kubeconfig", "ci", 20, 40]);
  assert.match(errorOf("clouds:\n- kubernetes:\n    qps: 0\n").format(), /^berth\.yaml:3:10: qps: qps must be at least 1/);
});
