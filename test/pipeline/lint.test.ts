// Lint resolves every step, method and class a script calls against the catalogue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { lintSource } from "../../src/pipeline/lint.ts";
import { formatDiagnostic } from "../../src/pipeline/diagnostics.ts";
import { STEPS } from "../../src/pipeline/catalogue.ts";

const lint = (src: string) => lintSource("Jenkinsfile", src).diagnostics.map(formatDiagnostic);

test("the core and Kubernetes steps of issue 7 are all in the catalogue", () => {
  const issue7 = [
    "echo", "error", "unstable", "sh", "dir", "withEnv", "timeout", "retry", "sleep", "parallel", "catchError", "warnError",
    "waitUntil", "readFile", "writeFile", "fileExists", "stash", "unstash", "archiveArtifacts", "withCredentials", "checkout", "git",
    "isUnix", "input", "podTemplate", "containerTemplate", "container", "containerLog", "node", "load",
    "hostPathVolume", "secretVolume", "configMapVolume", "emptyDirVolume", "nfsVolume", "persistentVolumeClaim", "envVar", "secretEnvVar",
    "portMapping", "containerLivenessProbe", "podAnnotation",
  ];
  assert.deepEqual(issue7.filter((s) => !STEPS[s]), []);
});

test("an unknown step is reported where it is called", () => {
  assert.deepEqual(lint("node {\n  stage('x') {\n    slackSend channel: '#ci'\n  }\n}"), ["Jenkinsfile:3:5: unsupported step 'slackSend'"]);
});

test("unknown parameters, too many positional arguments and blocks a step does not take", () => {
  assert.deepEqual(lint("sh script: 'x', retrunStdout: true\necho 'a', 'b'\nsh('x') { }\nisUnix('x')"), [
    "Jenkinsfile:1:17: unknown parameter 'retrunStdout' for step 'sh' — expected one of script, returnStdout, returnStatus, encoding, label",
    "Jenkinsfile:2:1: 'echo' takes named arguments (message), not 2 positional ones",
    "Jenkinsfile:3:9: 'sh' does not take a block { … }",
    "Jenkinsfile:4:1: 'isUnix' takes named arguments (none), not a positional one",
  ]);
  assert.deepEqual(lint("podTemplate(label: 'x', containers: [containerTemplate(name: 'a', image: 'b', tty: true)]) { }"),
    [`Jenkinsfile:1:79: unknown parameter 'tty' for 'containerTemplate' — expected one of ${STEPS.containerTemplate!.params.join(", ")}`]);
});

test("script methods (defined before or after use), closure variables and parameters resolve", () => {
  assert.deepEqual(lint("build()\ndef build(body) { body() }\ndef c = { echo 'x' }\nc()\nrunner = { -> }\nrunner()"), []);
});

test("methods on values resolve against the GDK subset; unknown ones are reported", () => {
  assert.deepEqual(lint("def out = sh(script: 'x', returnStdout: true).trim().split('\\n').collect { it.toUpperCase() }"), []);
  assert.deepEqual(lint("def x = 'a'.frobnicate()"), ["Jenkinsfile:1:13: unsupported method 'frobnicate'"]);
});

test("globals: env and params take any property; currentBuild and classes have a known surface", () => {
  assert.deepEqual(lint("echo env.BRANCH_NAME\necho params.WHO\ncurrentBuild.result = 'UNSTABLE'\necho currentBuild.getNumber().toString()\ndef u = UUID.randomUUID().toString()"), []);
  assert.deepEqual(lint("currentBuild.getRawBuild()\nJenkins.instance.getItem('x')\nUUID.nameUUIDFromBytes(b)"), [
    "Jenkinsfile:1:14: unsupported method 'currentBuild.getRawBuild'",
    "Jenkinsfile:2:1: unsupported class 'Jenkins' — not available to Berth pipelines",
    "Jenkinsfile:3:6: unsupported method 'UUID.nameUUIDFromBytes'",
  ]);
});

test("unknown bare names are env fallbacks (POD_LABEL, BRANCH_NAME), not errors", () => {
  assert.deepEqual(lint("podTemplate { node(POD_LABEL) { echo \"${BRANCH_NAME} $BUILD_NUMBER\" } }"), []);
});

test("objects of imported classes and loaded scripts are not second-guessed; unknown classes are", () => {
  assert.deepEqual(lint("import com.foo.Lib\ndef l = new Lib()\nl.anything()\ndef s = load 'x.groovy'\ns.deploy()"), []);
  assert.deepEqual(lint("def x = new Frobnicator()"), ["Jenkinsfile:1:9: unsupported class 'Frobnicator' — import it from a shared library or use maps and closures"]);
  assert.deepEqual(lint("def j = new groovy.json.JsonSlurperClassic().parseText('{}')"), []);
});

test("declarative: steps, post, when expressions and script blocks are resolved; docker agents and tools are not supported", () => {
  assert.deepEqual(lint(`pipeline {
  agent { docker 'maven' }
  tools { maven 'm3' }
  stages {
    stage('a') {
      when { expression { return isReady() } }
      steps {
        junit 'x.xml'
        script { def r = readFile('f'); echo r.trim() }
      }
      post { failure { mail to: 'a@b' } }
    }
  }
}`), [
    "Jenkinsfile:2:11: unsupported agent type 'docker' — Berth runs agents as Kubernetes pods; use agent { kubernetes { yaml '…' } }",
    "Jenkinsfile:3:11: unsupported: tools { maven … } — Berth has no tool installers; run the step in a container whose image has the tool",
    "Jenkinsfile:6:34: unsupported step 'isReady'",
    "Jenkinsfile:11:24: unsupported step 'mail'",
  ]);
});

test("syntax errors come alone: nothing is resolved in a file that does not parse", () => {
  assert.deepEqual(lint("slackSend 'x'\nsh 'a' 'b'"), ["Jenkinsfile:2:8: unexpected string 'b' — expected end of statement (a new line or ';')"]);
});

test("a file of common scripted idioms (properties, parallel map, switch, credentials, methods) lints clean", () => {
  const file = "test/pipeline/fixtures/scripted-idioms.groovy";
  assert.deepEqual(lintSource(file, readFileSync(file, "utf8")).diagnostics.map(formatDiagnostic), []);
});

test("a block on the line after a call: attached after node(…) and stage(…) as Groovy 2.4 does, not after a command call", () => {
  assert.deepEqual(lint("node('linux')\n{\n  sh 'make'\n}"), []);
  assert.deepEqual(lint("pipeline\n{\n  agent any\n  stages\n  {\n    stage('a')\n    {\n      steps\n      {\n        echo 'x'\n      }\n    }\n  }\n}"), []);
  assert.deepEqual(lint("node 'linux'\n{\n  sh 'make'\n}"), ["Jenkinsfile:2:1: this '{' is not attached to 'node' on the line before — put '{' on the same line as node(…)"]);
  assert.deepEqual(lint("pipeline {\n  agent any\n  stages {\n    stage 'a'\n    {\n      steps { echo 'x' }\n    }\n  }\n}"),
    ["Jenkinsfile:5:5: this '{' is not attached to 'stage' on the line before — put '{' on the same line as stage(…)"]);
});

test("Allman-style braces on their own lines (methods, control flow, try/catch, steps) lint clean", () => {
  const file = "test/pipeline/fixtures/allman-braces.groovy";
  assert.deepEqual(lintSource(file, readFileSync(file, "utf8")).diagnostics.map(formatDiagnostic), []);
});

test("the Kubernetes plugin's helpers and options resolve with the parameters the plugin gives them", () => {
  assert.deepEqual(lint(`podTemplate(
  label: 'x', name: 'n', namespace: 'ci', cloud: 'kubernetes', inheritFrom: 'base', yaml: 'spec: {}', showRawYaml: false,
  yamlMergeStrategy: merge(), inheritYamlMergeStrategy: true, podRetention: onFailure(), idleMinutes: 5, activeDeadlineSeconds: 600,
  instanceCap: 3, slaveConnectTimeout: 100, nodeUsageMode: 'EXCLUSIVE', serviceAccount: 'ci', schedulerName: 's', nodeSelector: 'disk=ssd',
  runAsUser: '1000', runAsGroup: '1000', supplementalGroups: '5001', hostNetwork: false, imagePullSecrets: ['regcred'], workingDir: '/w',
  agentContainer: 'jnlp', agentInjection: false,
  annotations: [podAnnotation(key: 'a', value: 'b')],
  envVars: [envVar(key: 'A', value: '1'), podEnvVar(key: 'B', value: '2'), secretEnvVar(key: 'C', secretName: 's', secretKey: 'k', optional: true)],
  containers: [containerTemplate(name: 'maven', image: 'maven', command: 'sleep', args: '99d', ttyEnabled: true, workingDir: '/w',
    privileged: false, alwaysPullImage: true, runAsUser: '0', runAsGroup: '0', shell: '/bin/bash',
    resourceRequestCpu: '1', resourceLimitCpu: '2', resourceRequestMemory: '1Gi', resourceLimitMemory: '2Gi',
    resourceRequestEphemeralStorage: '1Gi', resourceLimitEphemeralStorage: '2Gi',
    envVars: [containerEnvVar(key: 'D', value: '3')], ports: [portMapping(name: 'http', containerPort: 80, hostPort: 8080)],
    livenessProbe: containerLivenessProbe(execArgs: 'true', timeoutSeconds: 1, initialDelaySeconds: 1, failureThreshold: 1, periodSeconds: 1, successThreshold: 1))],
  volumes: [secretVolume(secretName: 's', mountPath: '/s', defaultMode: '420', optional: true), persistentVolumeClaim(claimName: 'c', mountPath: '/c', readOnly: true),
    emptyDirVolume(mountPath: '/e', memory: true), hostPathVolume(hostPath: '/h', mountPath: '/h', readOnly: true),
    configMapVolume(configMapName: 'm', mountPath: '/m', subPath: 'x', optional: true), nfsVolume(serverAddress: 'n', serverPath: '/p', mountPath: '/n', readOnly: true),
    dynamicPVC(requestsSize: '1Gi', storageClassName: 'sc', accessModes: 'ReadWriteOnce', mountPath: '/d'), genericEphemeralVolume(requestsSize: '1Gi', mountPath: '/g')],
  workspaceVolume: dynamicPVC(requestsSize: '1Gi', storageClassName: 'sc', accessModes: 'ReadWriteOnce')) {
  podTemplate(workspaceVolume: emptyDirWorkspaceVolume(memory: true, sizeLimit: '1Gi'), podRetention: always(), yamlMergeStrategy: override()) {
    podTemplate(workspaceVolume: hostPathWorkspaceVolume(hostPath: '/ws'), podRetention: never()) {
      podTemplate(workspaceVolume: persistentVolumeClaimWorkspaceVolume(claimName: 'c', readOnly: false), podRetention: evicted()) {
        podTemplate(workspaceVolume: nfsWorkspaceVolume(serverAddress: 'n', serverPath: '/p', readOnly: false)) {
          podTemplate(workspaceVolume: genericEphemeralVolume(requestsSize: '1Gi')) {
            retry(count: 2, conditions: [kubernetesAgent(handleNonKubernetes: true), nonresumable()]) {
              node(POD_LABEL) { container(name: 'maven', shell: '/bin/bash') { containerLog(name: 'maven', returnLog: true, tailingLines: 5, sinceSeconds: 20, limitBytes: 100) } }
            }
          }
        }
      }
    }
  }
}`), []);
  assert.deepEqual(lint("podTemplate(workspaceVolume: dynamicPVCWorkspaceVolume(requestsSize: '1Gi')) { }\necho podLabel(key: 'team', value: 'ci').toString()"),
    ["Jenkinsfile:1:30: unsupported step 'dynamicPVCWorkspaceVolume'"]);
});

test("other shells and test reports: powershell, pwsh and junit resolve; bat says what to use; other plugins' steps stay unsupported", () => {
  assert.deepEqual(lint("node {\n  powershell 'Get-ChildItem'\n  pwsh script: 'ls', returnStdout: true\n  junit testResults: '**/TEST-*.xml', allowEmptyResults: true, skipMarkingBuildUnstable: false\n  junit 'a.xml'\n}"), []);
  assert.deepEqual(lint("node {\n  bat 'dir'\n  slackSend channel: '#ci'\n}"), [
    "Jenkinsfile:2:3: unsupported step 'bat' — Berth runs steps in Linux containers: use sh, or pwsh for PowerShell",
    "Jenkinsfile:3:3: unsupported step 'slackSend'",
  ]);
});

test("podRetention: default() is not Groovy (default is a keyword); the message says to leave podRetention out", () => {
  assert.deepEqual(lint("podTemplate(podRetention: default()) {\n  node(POD_LABEL) { sh 'x' }\n}"),
    ["Jenkinsfile:1:27: 'default' is a Groovy keyword and cannot be called — for podRetention: default() leave podRetention out, it is the default"]);
});
