// Building the pod: reference §4 and §5 (the agent container, workspace, defaults), fields over YAML.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { PodTemplate } from "../../src/templates/model.ts";
import { parseFileMode } from "../../src/templates/build.ts";
import { TemplateError } from "../../src/templates/errors.ts";
import { AGENT, cloudOf, container, containers, envOf, podOf, render, spec } from "./helpers.ts";
import { renderPod } from "../../src/templates/render.ts";

const JENKINS_VARS = ["JENKINS_SECRET", "JENKINS_AGENT_NAME", "JENKINS_NAME", "JENKINS_AGENT_WORKDIR", "JENKINS_URL"];

test("a template without containers gets the agent container jnlp with the seed's variables", () => {
  const pod = podOf([{ name: "t", label: "t" }], "t");
  assert.deepEqual(containers(pod).map((c) => c.name), ["jnlp"]);
  const env = envOf(pod, "jnlp");
  assert.deepEqual(Object.keys(env), [...JENKINS_VARS, "NODE_USE_ENV_PROXY"]);
  assert.equal(env["JENKINS_SECRET"], AGENT.secret);
  assert.equal(env["JENKINS_AGENT_NAME"], "agent-1");
  assert.equal(env["JENKINS_NAME"], "agent-1");
  assert.equal(env["JENKINS_AGENT_WORKDIR"], "/home/jenkins/agent");
  assert.equal(env["JENKINS_URL"], "http://controller:8080/");
  const jnlp = container(pod, "jnlp");
  assert.match(String(jnlp.image), /node/);
  assert.deepEqual(jnlp["resources"], { requests: { cpu: "100m", memory: "256Mi" } });
  assert.deepEqual((pod["metadata"] as { name: string }).name, "agent-1");
});

test("other containers never get the JENKINS_* variables; the agent container goes last", () => {
  const pod = podOf([{ name: "t", containers: [{ name: "maven", image: "maven", command: "cat", ttyEnabled: true }] }], "t");
  assert.deepEqual(containers(pod).map((c) => c.name), ["maven", "jnlp"]);
  assert.equal(container(pod, "maven").env, undefined);
});

test("a user-supplied jnlp container replaces the default one, keeps its image and gets the variables", () => {
  const pod = podOf([{ name: "t", containers: [{ name: "jnlp", image: "example.com/ci/agent:2", args: "${computer.jnlpmac} ${computer.name}" }] }], "t");
  assert.equal(containers(pod).length, 1);
  const jnlp = container(pod, "jnlp");
  assert.equal(jnlp.image, "example.com/ci/agent:2");
  assert.deepEqual(jnlp["args"], [AGENT.secret, "agent-1"]);
  assert.equal(jnlp["command"], undefined);
  assert.deepEqual(Object.keys(envOf(pod, "jnlp")), JENKINS_VARS);
});

test("Berth difference: a Jenkins remoting agent image in the agent container gives way to Berth's agent, with a note", () => {
  for (const image of ["jenkins/inbound-agent", "jenkins/jnlp-slave:3.10-1-alpine", "docker.io/jenkins/inbound-agent:3283.v92c105e0f819-4", "jenkinsci/jnlp-slave"]) {
    const { built } = render([{ name: "t", containers: [{ name: "jnlp", image, args: "${computer.jnlpmac} ${computer.name}" }] }], "t");
    const jnlp = container(built.pod, "jnlp");
    assert.equal(jnlp["image"], "docker.io/library/node:24-alpine", image);
    assert.equal(jnlp["args"], undefined);
    assert.ok(Array.isArray(jnlp["command"]));
    assert.match(built.notes.join("\n"), /runs a Jenkins remoting agent, which Berth does not speak/);
  }
});

test("a jnlp container from YAML is used as the agent container", () => {
  const pod = podOf([{ name: "t", yaml: "spec:\n  containers:\n  - name: jnlp\n    image: custom\n    args: ['$(JENKINS_SECRET)']\n" }], "t");
  assert.deepEqual(containers(pod).map((c) => [c.name, c.image]), [["jnlp", "custom"]]);
  assert.deepEqual(container(pod, "jnlp")["args"], ["$(JENKINS_SECRET)"]);
  assert.equal(envOf(pod, "jnlp")["JENKINS_SECRET"], AGENT.secret);
});

test("agentContainer names another container as the agent", () => {
  const pod = podOf([{ name: "t", agentContainer: "agent", containers: [{ name: "agent", image: "my-agent", workingDir: "/work" }] }], "t");
  assert.deepEqual(containers(pod).map((c) => c.name), ["agent"]);
  assert.equal(envOf(pod, "agent")["JENKINS_AGENT_WORKDIR"], "/work");
});

test("the container's own env beats pod env vars, which beat the agent variables", () => {
  const pod = podOf(
    [
      {
        name: "t",
        envVars: [{ kind: "envVar", key: "JENKINS_URL", value: "http://pod-level/" }, { kind: "envVar", key: "A", value: "pod" }],
        containers: [{ name: "jnlp", image: "i", envVars: [{ kind: "envVar", key: "A", value: "container" }] }],
      },
    ],
    "t",
  );
  const env = envOf(pod, "jnlp");
  assert.equal(env["JENKINS_URL"], "http://pod-level/");
  assert.equal(env["A"], "container");
});

test("pod-level env vars and volumes reach every container, also the generated agent and YAML-only ones", () => {
  const pod = podOf(
    [
      {
        name: "t",
        envVars: [{ kind: "envVar", key: "ORG", value: "acme" }, { kind: "secretEnvVar", key: "TOKEN", secretName: "s", secretKey: "k" }],
        volumes: [{ kind: "emptyDirVolume", mountPath: "/cache" }],
        containers: [{ name: "maven", image: "maven" }],
        yaml: "spec:\n  containers:\n  - name: side\n    image: side\n    env:\n    - name: ORG\n      value: own\n",
      },
    ],
    "t",
  );
  for (const name of ["maven", "side", "jnlp"]) {
    assert.ok(container(pod, name).volumeMounts?.some((m) => m.mountPath === "/cache" && m.name === "volume-0"), name);
  }
  assert.equal(envOf(pod, "maven")["ORG"], "acme");
  assert.equal(envOf(pod, "jnlp")["ORG"], "acme");
  assert.equal(envOf(pod, "side")["ORG"], "own");
  assert.deepEqual(
    container(pod, "maven").env?.find((e) => e.name === "TOKEN"),
    { name: "TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
  );
});

test("volumes: every kind, named volume-N in order, duplicates by mount path skipped, then the workspace", () => {
  const pod = podOf(
    [
      {
        name: "t",
        volumes: [
          { kind: "emptyDirVolume", mountPath: "/a", memory: true },
          { kind: "configMapVolume", mountPath: "/b", configMapName: "cm", subPath: "x/./y" },
          { kind: "secretVolume", mountPath: "/c", secretName: "s", defaultMode: "0644" },
          { kind: "hostPathVolume", mountPath: "/d", hostPath: "/host", readOnly: true },
          { kind: "nfsVolume", mountPath: "/e", serverAddress: "127.0.0.1", serverPath: "/", readOnly: true },
          { kind: "persistentVolumeClaim", mountPath: "/f", claimName: "claim" },
          { kind: "genericEphemeralVolume", mountPath: "/g" },
          { kind: "emptyDirVolume", mountPath: "/a/" },
        ],
      },
    ],
    "t",
  );
  assert.deepEqual(spec(pod)["volumes"], [
    { name: "volume-0", emptyDir: { medium: "Memory" } },
    { name: "volume-1", configMap: { name: "cm" } },
    { name: "volume-2", secret: { secretName: "s", defaultMode: 420 } },
    { name: "volume-3", hostPath: { path: "/host" } },
    { name: "volume-4", nfs: { server: "127.0.0.1", path: "/", readOnly: true } },
    { name: "volume-5", persistentVolumeClaim: { claimName: "claim", readOnly: false } },
    { name: "volume-6", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } } } } },
    { name: "workspace-volume", emptyDir: {} },
  ]);
  const mounts = container(pod, "jnlp").volumeMounts!;
  assert.deepEqual(mounts.find((m) => m.mountPath === "/d"), { name: "volume-3", mountPath: "/d", readOnly: true });
  assert.deepEqual(mounts.find((m) => m.mountPath === "/b"), { name: "volume-1", mountPath: "/b", readOnly: false, subPath: "x/y" });
});

test("secret volume modes: a leading 0 is octal, otherwise decimal", () => {
  assert.equal(parseFileMode("0644"), 0o644);
  assert.equal(parseFileMode("420"), 420);
  assert.equal(parseFileMode("0400"), 256);
  assert.throws(() => parseFileMode("rw-r--r--"), TemplateError);
});

test("workspace: a container's workingDir gets the workspace mounted; others at /home/jenkins/agent", () => {
  const pod = podOf([{ name: "t", containers: [{ name: "a", image: "a", workingDir: "/src" }, { name: "b", image: "b" }] }], "t");
  assert.deepEqual(container(pod, "a").volumeMounts, [{ name: "workspace-volume", mountPath: "/src", readOnly: false }]);
  assert.deepEqual(container(pod, "b").volumeMounts, [{ name: "workspace-volume", mountPath: "/home/jenkins/agent", readOnly: false }]);
});

test("containers without workingDir take the agent container's", () => {
  const pod = podOf([{ name: "t", containers: [{ name: "jnlp", image: "j", workingDir: "/ws" }, { name: "b", image: "b" }] }], "t");
  assert.equal(container(pod, "b")["workingDir"], "/ws");
  assert.deepEqual(container(pod, "b").volumeMounts, [{ name: "workspace-volume", mountPath: "/ws", readOnly: false }]);
});

test("workspace volume kinds", () => {
  const ws = (w: PodTemplate["workspaceVolume"]) => (spec(podOf([{ name: "t", workspaceVolume: w }], "t"))["volumes"] as object[]).at(-1);
  assert.deepEqual(ws({ kind: "emptyDirWorkspaceVolume", memory: true, sizeLimit: "1Gi" }), { name: "workspace-volume", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } });
  assert.deepEqual(ws({ kind: "hostPathWorkspaceVolume", hostPath: "/h" }), { name: "workspace-volume", hostPath: { path: "/h" } });
  assert.deepEqual(ws({ kind: "persistentVolumeClaimWorkspaceVolume", claimName: "c", readOnly: false }), { name: "workspace-volume", persistentVolumeClaim: { claimName: "c", readOnly: false } });
  assert.deepEqual(ws({ kind: "dynamicPVC" }), { name: "workspace-volume", persistentVolumeClaim: { claimName: "pvc-workspace-agent-1", readOnly: false } });
  assert.deepEqual(ws({ kind: "nfsWorkspaceVolume", serverAddress: "s", serverPath: "/p", readOnly: true }), { name: "workspace-volume", nfs: { server: "s", path: "/p", readOnly: true } });
});

test("container fields become the container: command split, resources, ports, probe, security", () => {
  const pod = podOf(
    [
      {
        name: "t",
        containers: [
          {
            name: "db",
            image: "mariadb:10.1",
            command: "/bin/sh -c",
            args: "'sleep 1000'",
            ttyEnabled: true,
            privileged: true,
            alwaysPullImage: true,
            runAsUser: "1000",
            resourceRequestCpu: "50m",
            resourceLimitMemory: "200Mi",
            resourceRequestEphemeralStorage: "1Gi",
            ports: [{ name: "mysql", containerPort: 3306, hostPort: 3306 }],
            livenessProbe: { execArgs: "some --command", initialDelaySeconds: 30, timeoutSeconds: 1, failureThreshold: 3, periodSeconds: 10, successThreshold: 1 },
          },
        ],
      },
    ],
    "t",
  );
  const db = container(pod, "db");
  assert.deepEqual(db["command"], ["/bin/sh", "-c"]);
  assert.deepEqual(db["args"], ["sleep 1000"]);
  assert.equal(db["tty"], true);
  assert.equal(db["imagePullPolicy"], "Always");
  assert.deepEqual(db["securityContext"], { privileged: true, runAsUser: 1000 });
  assert.deepEqual(db["resources"], { requests: { cpu: "50m", "ephemeral-storage": "1Gi" }, limits: { memory: "200Mi" } });
  assert.deepEqual(db["ports"], [{ name: "mysql", containerPort: 3306, hostPort: 3306 }]);
  assert.deepEqual(db["livenessProbe"], {
    exec: { command: ["some", "--command"] },
    initialDelaySeconds: 30,
    timeoutSeconds: 1,
    failureThreshold: 3,
    periodSeconds: 10,
    successThreshold: 1,
  });
});

test("pod fields: service account, node selector, pull secrets, deadline, security context, host network", () => {
  const pod = podOf(
    [
      {
        name: "t",
        serviceAccount: "builder",
        schedulerName: "custom",
        nodeSelector: "disk=ssd, zone=a",
        imagePullSecrets: ["pull"],
        activeDeadlineSeconds: 600,
        runAsUser: "1000",
        runAsGroup: "1000",
        supplementalGroups: "5001,5002",
        hostNetwork: false,
        terminationGracePeriodSeconds: 10,
        annotations: [{ key: "my-key", value: "my-value" }],
        namespace: "builds",
      },
    ],
    "t",
  );
  const s = spec(pod);
  assert.equal(s["serviceAccountName"], "builder");
  assert.equal(s["schedulerName"], "custom");
  assert.deepEqual(s["nodeSelector"], { disk: "ssd", zone: "a" });
  assert.deepEqual(s["imagePullSecrets"], [{ name: "pull" }]);
  assert.equal(s["activeDeadlineSeconds"], 600);
  assert.deepEqual(s["securityContext"], { runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [5001, 5002] });
  assert.equal(s["hostNetwork"], false);
  assert.equal(s["terminationGracePeriodSeconds"], 10);
  assert.deepEqual((pod["metadata"] as { annotations: object }).annotations, { "my-key": "my-value" });
  assert.equal((pod["metadata"] as { namespace: string }).namespace, "builds");
});

test("bad numbers and node selectors are errors naming the template, not silently dropped", () => {
  assert.throws(() => podOf([{ name: "t", runAsUser: "root" }], "t"), /template 't': runAsUser 'root' is not a number/);
  assert.throws(() => podOf([{ name: "t", nodeSelector: "disk" }], "t"), /nodeSelector entry 'disk' is not key=value/);
});

test("labels: the cloud's pod labels, the template label and digest, and the controller", () => {
  const pod = podOf([{ name: "t", label: "maven java" }], "t", { podLabels: { team: "ci" } });
  assert.deepEqual((pod["metadata"] as { labels: object }).labels, {
    team: "ci",
    "jenkins/label": "maven_java",
    "jenkins/label-digest": createHash("sha1").update("maven java").digest("hex"),
    "kubernetes.jenkins.io/controller": "http___controller_8080x",
  });
});

test("defaults: linux node selector unless the pod chooses nodes; restartPolicy Never unless set", () => {
  assert.deepEqual(spec(podOf([{ name: "t" }], "t"))["nodeSelector"], { "kubernetes.io/os": "linux" });
  assert.equal(spec(podOf([{ name: "t" }], "t"))["restartPolicy"], "Never");
  assert.deepEqual(spec(podOf([{ name: "t", nodeSelector: "a=b" }], "t"))["nodeSelector"], { a: "b" });
  const withAffinity = podOf([{ name: "t", yaml: "spec:\n  runtimeClassName: gvisor\n  restartPolicy: OnFailure\n" }], "t");
  assert.equal(spec(withAffinity)["nodeSelector"], undefined);
  assert.equal(spec(withAffinity)["restartPolicy"], "OnFailure");
});

test("fields win over YAML for the same container; YAML fills what the fields leave empty", () => {
  const pod = podOf(
    [
      {
        name: "t",
        containers: [{ name: "maven", image: "maven:fields" }],
        yaml: "spec:\n  containers:\n  - name: maven\n    image: maven:yaml\n    command: [cat]\n    tty: true\n",
      },
    ],
    "t",
  );
  const maven = container(pod, "maven");
  assert.equal(maven.image, "maven:fields");
  assert.deepEqual(maven["command"], ["cat"]);
  assert.equal(maven["tty"], true);
});

test("seed 002: a parent's containerTemplate field beats the child's YAML for the same container", () => {
  const pod = podOf(
    [
      { name: "parent", containers: [{ name: "maven", image: "maven:parent-field" }] },
      { name: "child", inheritFrom: "parent", yaml: "spec:\n  containers:\n  - name: maven\n    image: maven:child-yaml\n" },
    ],
    "child",
  );
  assert.equal(container(pod, "maven").image, "maven:parent-field");
});

test("yamlMergeStrategy override: the child's YAML replaces the parent's; merge: both are combined", () => {
  const templates = (strategy?: "merge" | "override"): PodTemplate[] => [
    { name: "p", yaml: "metadata:\n  labels:\n    from-parent: 'yes'\nspec:\n  containers:\n  - name: a\n    image: a\n" },
    { name: "c", inheritFrom: "p", ...(strategy ? { yamlMergeStrategy: strategy } : {}), yaml: "spec:\n  containers:\n  - name: b\n    image: b\n" },
  ];
  const overridden = render(templates(), "c");
  assert.deepEqual(containers(overridden.built.pod).map((c) => c.name), ["b", "jnlp"]);
  assert.match(overridden.built.notes[0]!, /override/);
  const merged = podOf(templates("merge"), "c");
  assert.deepEqual(containers(merged).map((c) => c.name), ["a", "b", "jnlp"]);
  assert.equal((merged["metadata"] as { labels: Record<string, string> }).labels["from-parent"], "yes");
});

test("a child without YAML uses the parent's YAML", () => {
  const pod = podOf([{ name: "p", yaml: "spec:\n  containers:\n  - name: a\n    image: a\n" }, { name: "c", inheritFrom: "p" }], "c");
  assert.deepEqual(containers(pod).map((c) => c.name), ["a", "jnlp"]);
});

test("namespace: the template's, else the YAML's, else the cloud's", () => {
  const ns = (templates: PodTemplate[], cloudNs?: string) => (podOf(templates, "t", cloudNs ? { namespace: cloudNs } : {})["metadata"] as { namespace?: string }).namespace;
  assert.equal(ns([{ name: "t" }], "cloud-ns"), "cloud-ns");
  assert.equal(ns([{ name: "t", yaml: "metadata:\n  namespace: yaml-ns\n" }], "cloud-ns"), "yaml-ns");
  assert.equal(ns([{ name: "t", namespace: "tpl-ns", yaml: "metadata:\n  namespace: yaml-ns\n" }], "cloud-ns"), "tpl-ns");
  assert.equal(ns([{ name: "t" }]), undefined);
});

test("cloud settings: agent image, registry mirror, web socket, tunnel, direct connection", () => {
  assert.equal(container(podOf([{ name: "t" }], "t", { agentImage: "mirror/agent:1" }), "jnlp").image, "mirror/agent:1");
  assert.equal(container(podOf([{ name: "t" }], "t", { jnlpregistry: "registry.local/" }), "jnlp").image, "registry.local/library/node:24-alpine");
  const env = envOf(podOf([{ name: "t" }], "t", { webSocket: true, jenkinsTunnel: "tunnel:50000" }), "jnlp");
  assert.equal(env["JENKINS_WEB_SOCKET"], "true");
  assert.equal(env["JENKINS_TUNNEL"], "tunnel:50000");
  assert.equal(envOf(podOf([{ name: "t" }], "t", { directConnection: true }), "jnlp")["JENKINS_URL"], undefined);
});

test("agent resources default only when the agent container sets none", () => {
  const own = podOf([{ name: "t", containers: [{ name: "jnlp", image: "j", resourceLimitMemory: "1Gi" }] }], "t");
  assert.deepEqual(container(own, "jnlp")["resources"], { limits: { memory: "1Gi" } });
});

test("agent injection: an init container delivers the agent into a shared volume", () => {
  const pod = podOf([{ name: "t", agentInjection: true, containers: [{ name: "jnlp", image: "eclipse-temurin" }] }], "t");
  const init = (spec(pod)["initContainers"] as { name: string; volumeMounts: object[] }[])[0]!;
  assert.equal(init.name, "set-up-jenkins-agent");
  assert.deepEqual(init.volumeMounts, [{ name: "jenkins-agent", mountPath: "/jenkins-agent" }]);
  const jnlp = container(pod, "jnlp");
  assert.equal(jnlp.image, "eclipse-temurin");
  assert.deepEqual(jnlp["command"], ["node", "/jenkins-agent/berth-agent.mjs"]);
  assert.ok(jnlp.volumeMounts?.some((m) => m.mountPath === "/jenkins-agent"));
  assert.equal(envOf(pod, "jnlp")["JENKINS_AGENT_FILE"], "/jenkins-agent/berth-agent.mjs");
});

test("restricted Pod Security Standard: missing fields filled, the user's kept", () => {
  const pod = podOf(
    [{ name: "t", yaml: "spec:\n  containers:\n  - name: a\n    image: a\n    securityContext:\n      allowPrivilegeEscalation: true\n" }],
    "t",
    { restrictedPssSecurityContext: true },
  );
  assert.deepEqual(container(pod, "a")["securityContext"], {
    allowPrivilegeEscalation: true,
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
    capabilities: { drop: ["ALL"] },
  });
  assert.equal((container(pod, "jnlp")["securityContext"] as { runAsNonRoot: boolean }).runAsNonRoot, true);
});

test("the same template renders the same pod (deterministic for a given identity)", () => {
  const t: PodTemplate[] = [{ name: "t", containers: [{ name: "a", image: "a" }], yaml: "spec:\n  containers:\n  - name: b\n    image: b\n" }];
  assert.deepEqual(podOf(t, "t"), podOf(t, "t"));
});

test("addMasterProxyEnvVars: the controller's proxy variables reach every container, below the template's own", () => {
  const cloud = cloudOf([{ name: "t", envVars: [{ kind: "envVar", key: "no_proxy", value: "template" }], containers: [{ name: "maven", image: "maven" }] }], { addMasterProxyEnvVars: true });
  const agent = { ...AGENT, proxyEnv: { http_proxy: "http://proxy:3128", no_proxy: "controller" } };
  const pod = renderPod({ cloud, template: cloud.templates[0]!, agent }).built.pod;
  for (const name of ["maven", "jnlp"]) {
    assert.equal(envOf(pod, name)["http_proxy"], "http://proxy:3128");
    assert.equal(envOf(pod, name)["no_proxy"], "template");
  }
  const without = cloudOf(cloud.templates);
  assert.equal(envOf(renderPod({ cloud: without, template: without.templates[0]!, agent }).built.pod, "jnlp")["http_proxy"], undefined);
});
