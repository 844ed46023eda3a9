// Whole builds on the embedded cluster: the interpreter, the build's step runtime, the controller and
// real agent pods.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runBuild, type BuildRequest } from "../../src/build/run-build.ts";
import { BuildOutput } from "../../src/build/output.ts";
import { credentialStore } from "../../src/build/credentials.ts";
import { startEmbeddedController } from "../controller/helpers.ts";
import type { Controller } from "../../src/controller/provisioner.ts";
import { tempDir, type TempDirOwner } from "../support/temp-dir.ts";

async function build(t: TempDirOwner, controller: Controller, text: string, extra: Partial<BuildRequest> = {}) {
  const dir = tempDir(t, "berth-build-");
  const jenkinsfile = join(dir, "src", "Jenkinsfile");
  await mkdir(join(dir, "src"));
  await writeFile(jenkinsfile, text);
  const lines: string[] = [];
  const output = new BuildOutput((l) => lines.push(l));
  const outcome = await runBuild({ jenkinsfile, text, controller, jobName: "job", buildNumber: 7, buildDir: join(dir, "build"), output, credentials: credentialStore([]), ...extra });
  return { ...outcome, lines, log: lines.join("\n"), dir };
}

test("a scripted podTemplate build: sh in the agent and in another container, files, Finished: SUCCESS", async (t) => {
  const { controller } = await startEmbeddedController(t, []);
  const { result, log, lines } = await build(t, controller, `
podTemplate(containers: [containerTemplate(name: 'busy', image: 'busybox', command: 'cat', ttyEnabled: true)]) {
  node(POD_LABEL) {
    stage('one') {
      sh 'echo "hello from $POD_LABEL in $(pwd)"'
      container('busy') {
        sh 'echo "in $POD_CONTAINER"'
      }
      writeFile file: 'a.txt', text: 'written'
      echo "read: \${readFile('a.txt')}"
      dir('sub') { sh 'pwd' }
    }
  }
}
`);
  assert.equal(result, "SUCCESS", log);
  assert.match(log, /hello from job_7-\w{5} in \/home\/jenkins\/agent\/workspace\/job/);
  assert.match(log, /^in busy$/m);
  assert.match(log, /^read: written$/m);
  assert.match(log, /^\/home\/jenkins\/agent\/workspace\/job\/sub$/m);
  assert.equal(lines.at(-1), "Finished: SUCCESS");
});

test("workspace steps through a Jenkinsfile: stash in one pod and unstash in another, archive, junit, file credentials, PATH+X", async (t) => {
  const { controller } = await startEmbeddedController(t, []);
  const credentials = credentialStore([
    { kind: "file", id: "f", fileName: "config.txt", content: Buffer.from("file-content\n") },
    { kind: "usernamePassword", id: "up", username: "deployer", password: "pa55-w0rd" },
  ]);
  const { result, log, dir } = await build(t, controller, `
podTemplate {
  node(POD_LABEL) {
    writeFile file: 'out/a.txt', text: 'A'
    writeFile file: 'report.xml', text: '<testsuite><testcase classname="c" name="ok"/><testcase classname="c" name="bad"><failure/></testcase></testsuite>'
    stash name: 'out', includes: 'out/**'
    archiveArtifacts artifacts: 'out/*.txt', fingerprint: true
    def r = junit 'report.xml'
    echo "tests \${r.totalCount} failed \${r.failCount}"
    withCredentials([file(credentialsId: 'f', variable: 'F'), usernamePassword(credentialsId: 'up', usernameVariable: 'U', passwordVariable: 'P')]) {
      sh 'cat "$F"; echo "$U:$P"'
    }
  }
}
podTemplate {
  node(POD_LABEL) {
    unstash 'out'
    sh 'cat out/a.txt'
    withEnv(['PATH+EXTRA=/opt/extra/bin']) { sh 'echo "path: $PATH"' }
  }
}
`, { credentials });
  assert.equal(result, "UNSTABLE", log);
  assert.match(log, /^tests 2 failed 1$/m);
  assert.match(log, /^file-content$/m);
  assert.match(log, /^\*\*\*\*$/m); // user:password is itself masked (it is what usernameColonPassword binds)
  assert.ok(!log.includes("pa55-w0rd"));
  assert.match(log, /^A$/m);
  assert.match(log, /^path: \/opt\/extra\/bin:\/\S+$/m);
  assert.equal(readFileSync(join(dir, "build", "archive", "out", "a.txt"), "utf8"), "A");
});

test("credentials from a Kubernetes secret labelled as the Kubernetes Credentials Provider plugin labels it", async (t) => {
  const { controller, client } = await startEmbeddedController(t, []);
  await client.core.createNamespacedSecret({
    namespace: "default",
    body: { metadata: { name: "api-token", labels: { "jenkins.io/credentials-type": "secretText" } }, stringData: { text: "s3cr3t-t0ken" } },
  });
  const credentials = credentialStore([], async () => ({ client, namespace: "default" }));
  const { result, log } = await build(t, controller, `
podTemplate {
  node(POD_LABEL) {
    withCredentials([string(credentialsId: 'api-token', variable: 'TOKEN')]) {
      sh 'echo "token is $TOKEN, \${#TOKEN} characters"'
    }
  }
}
`, { credentials });
  assert.equal(result, "SUCCESS", log);
  assert.match(log, /^token is \*\*\*\*, 12 characters$/m);
  assert.ok(!log.includes("s3cr3t-t0ken"));
});

test("declarative `retries`: the pipeline agent's pod deleted during a stage, the stages run again on a new pod and the build succeeds", async (t) => {
  const { controller, client } = await startEmbeddedController(t, []);
  const pods: string[] = [];
  const lines: string[] = [];
  const output = new BuildOutput((line) => {
    lines.push(line);
    const started = /^started on (\S+) attempt 1$/.exec(line);
    if (started) void client.core.deleteNamespacedPod({ namespace: "default", name: started[1]! });
  });
  const { result } = await build(t, controller, `
def attempts = 0
pipeline {
  agent { kubernetes { retries 2 } }
  stages {
    stage('one') {
      steps {
        script { attempts++ }
        sh "echo started on \\$(hostname) attempt \${attempts}; if [ \${attempts} = 1 ]; then sleep 60; fi"
      }
    }
    stage('two') { steps { echo 'after one' } }
  }
}
`, { output });
  const log = lines.join("\n");
  for (const line of lines) { const m = /^started on (\S+) attempt \d$/.exec(line); if (m) pods.push(m[1]!); }
  assert.equal(result, "SUCCESS", log);
  assert.equal(pods.length, 2, log);
  assert.notEqual(pods[0], pods[1]);
  assert.match(log, /Retrying/);
  assert.ok(lines.includes("after one"), log);
});
