// The flow steps of a build without pods (agent none): results, timeout, retry, parallel and failFast,
// catchError/warnError, withEnv, input, credentials and masking. The controller is never asked for a pod.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { runBuild, type BuildRequest } from "../../src/build/run-build.ts";
import { BuildOutput } from "../../src/build/output.ts";
import { credentialStore } from "../../src/build/credentials.ts";
import type { Controller } from "../../src/controller/provisioner.ts";
import { interruption } from "../../src/build/frame.ts";
import { tempDir } from "../support/temp-dir.ts";

// Every build gets its own directory in this one, removed once the file's tests have run.
const scratch = tempDir({ after }, "berth-flow-");

async function build(text: string, extra: Partial<BuildRequest> = {}) {
  const lines: string[] = [];
  const dir = mkdtempSync(join(scratch, "build-"));
  const outcome = await runBuild({
    jenkinsfile: join(dir, "Jenkinsfile"), text, controller: {} as Controller, jobName: "job", buildNumber: 1, buildDir: join(dir, "build"),
    output: new BuildOutput((l) => lines.push(l)), credentials: credentialStore([{ kind: "usernamePassword", id: "reg", username: "ci", password: "p4ss-word" }, { kind: "string", id: "tok", secret: "t0ken-value" }]),
    ...extra,
  });
  return { ...outcome, lines, log: lines.join("\n") };
}

test("results: error fails, unstable marks UNSTABLE, catchError and warnError carry on, Finished is last", async () => {
  const failed = await build("echo 'a'\nerror 'boom'\necho 'never'");
  assert.equal(failed.result, "FAILURE");
  assert.deepEqual(failed.lines.slice(1), ["a", "ERROR: boom (Jenkinsfile:2:1)", "Finished: FAILURE"]);
  const unstable = await build("unstable 'flaky'\ncatchError(buildResult: 'SUCCESS') { error 'ignored' }\nwarnError('careful') { error 'x' }\necho 'on'");
  assert.equal(unstable.result, "UNSTABLE");
  assert.match(unstable.log, /WARNING: flaky\nERROR: ignored\nWARNING: careful\nERROR: x\non\nFinished: UNSTABLE/);
});

test("timeout aborts its body and fails with the timeout's cause; retry retries it; sleep and waitUntil", async () => {
  const timedOut = await build("timeout(time: 200, unit: 'MILLISECONDS') { sleep 5 }");
  assert.equal(timedOut.result, "ABORTED");
  assert.match(timedOut.log, /Cancelling nested steps due to timeout\nTimeout has been exceeded\nFinished: ABORTED/);
  const retried = await build("def n = 0\nretry(3) { n++; timeout(time: 500, unit: 'MILLISECONDS') { if (n < 3) sleep 5 } }\necho \"attempts: ${n}\"");
  assert.equal(retried.result, "SUCCESS", retried.log);
  assert.match(retried.log, /attempts: 3/);
  assert.equal(retried.lines.filter((l) => l === "Retrying").length, 2);
  const waited = await build("def n = 0\nwaitUntil(initialRecurrencePeriod: 10, quiet: true) { n++; return n == 3 }\necho \"tries: ${n}\"");
  assert.match(waited.log, /tries: 3/);
});

test("parallel: branches tagged in the log; failFast stops the others and the build FAILS (not ABORTED)", async () => {
  const both = await build("parallel a: { echo 'in a' }, b: { echo 'in b' }");
  assert.equal(both.result, "SUCCESS");
  assert.ok(both.lines.includes("[a] in a") && both.lines.includes("[b] in b"));
  const fast = await build("parallel failFast: true, bad: { error 'broken' }, slow: { sleep 5; echo 'not reached' }");
  assert.equal(fast.result, "FAILURE", fast.log);
  assert.ok(!fast.log.includes("not reached"));
  assert.match(fast.log, /\[bad\] Failed in branch bad/);
  const declarative = await build(`pipeline {
  agent none
  stages {
    stage('p') {
      failFast true
      parallel {
        stage('bad') { steps { error 'broken' } }
        stage('slow') { steps { sleep 5; echo 'not reached' } }
      }
    }
  }
}`);
  assert.equal(declarative.result, "FAILURE", declarative.log);
  assert.ok(!declarative.log.includes("not reached"));
});

test("an aborted build stops at once and ends ABORTED", async () => {
  const stop = new AbortController();
  // Aborted once the sleep has begun, whatever the machine's speed.
  const lines: string[] = [];
  const output = new BuildOutput((l) => {
    lines.push(l);
    if (l.startsWith("Sleeping")) setImmediate(() => stop.abort(interruption("Aborted by user")));
  });
  const r = { ...(await build("echo 'start'\nsleep 30\necho 'never'", { signal: stop.signal, output })), lines };
  assert.equal(r.result, "ABORTED");
  assert.deepEqual(r.lines.slice(-3), ["Sleeping for 30 seconds", "Aborted by user", "Finished: ABORTED"]);
});

test("input: fails with a clear message when nobody can answer; --input proceed takes defaults", async () => {
  const failed = await build("input message: 'Deploy?'");
  assert.equal(failed.result, "FAILURE");
  assert.match(failed.log, /input 'Deploy\?' needs an answer, and this run is not interactive/);
  const proceeded = await build("def v = input message: 'Version?', parameters: [string(name: 'V', defaultValue: '1.0')]\necho \"v=${v}\"", { input: "proceed" });
  assert.match(proceeded.log, /v=1\.0/);
  const aborted = await build("input message: 'Deploy?'", { input: "abort" });
  assert.equal(aborted.result, "ABORTED");
});

test("credentials: declarative credentials() binds NAME, NAME_USR, NAME_PSW; values are masked wherever they appear", async () => {
  const r = await build(`pipeline {
  agent none
  environment { REG = credentials('reg'); TOKEN = credentials('tok') }
  stages { stage('s') { steps { echo "user \${env.REG_USR} pass \${env.REG_PSW} both \${env.REG} token \${env.TOKEN}" } } }
}`);
  assert.equal(r.result, "SUCCESS", r.log);
  assert.match(r.log, /^user ci pass \*\*\*\* both \*\*\*\* token \*\*\*\*$/m);
  const missing = await build("withCredentials([string(credentialsId: 'nope', variable: 'X')]) { echo 'x' }");
  assert.match(missing.log, /ERROR: Could not find credentials entry with ID 'nope'/);
});

test("steps that need a node say so", async () => {
  const r = await build("sh 'true'");
  assert.equal(r.result, "FAILURE");
  assert.match(r.log, /Required context class hudson.FilePath is missing\nPerhaps you forgot to surround the sh step with a step that provides this, such as: node/);
});

test("stage results: a summary before Finished, with the stage that made the build worse", async () => {
  const r = await build(`pipeline {
  agent none
  stages {
    stage('Build') { steps { echo 'ok' } }
    stage('Test') { steps { unstable 'one test failed' } }
    stage('Deploy') { when { expression { false } }; steps { echo 'no' } }
  }
}`);
  assert.equal(r.result, "UNSTABLE");
  const at = r.lines.indexOf("Stages:");
  assert.ok(at > 0, r.log);
  assert.match(r.lines[at + 1]!, /^ {2}Build +SUCCESS \(\d+\.\ds\)$/);
  assert.match(r.lines[at + 2]!, /^ {2}Test +UNSTABLE \(\d+\.\ds\)$/);
  assert.equal(r.lines.at(-1), "Finished: UNSTABLE");
});

test("stage results: a parallel sibling's failure or warning is its own; a failed nested stage fails its parent; catchError's stageResult", async () => {
  const r = await build(`pipeline {
  agent none
  stages {
    stage('outer') {
      parallel {
        stage('bad') { steps { sleep time: 100, unit: 'MILLISECONDS'; error 'broken' } }
        stage('warned') { steps { unstable 'meh' } }
        stage('fine') { steps { sleep time: 300, unit: 'MILLISECONDS'; echo 'ok' } }
        stage('caught') { steps { catchError(buildResult: 'SUCCESS', stageResult: 'UNSTABLE') { error 'x' } } }
        stage('nested') { stages { stage('inner') { steps { error 'deep' } } } }
      }
    }
  }
}`);
  assert.equal(r.result, "FAILURE", r.log);
  const summary = new Map(r.lines.slice(r.lines.indexOf("Stages:") + 1, -1).map((l) => l.trim().split(/ +/).slice(0, 2) as [string, string]));
  assert.deepEqual(Object.fromEntries(summary), { bad: "FAILURE", warned: "UNSTABLE", fine: "SUCCESS", caught: "UNSTABLE", inner: "FAILURE", nested: "FAILURE", outer: "FAILURE" }, r.log);
});

test("declarative: a stage's retry option runs the failed stage again, its post seeing each failure; success leaves the build SUCCESS", async () => {
  const r = await build(`def attempts = 0
pipeline {
  agent none
  stages {
    stage('flaky') {
      options { retry(3) }
      steps { script { attempts++; if (attempts < 3) error "attempt \${attempts} failed" }; echo "attempt \${attempts} passed" }
      post { failure { echo 'post: failure' }; success { echo 'post: success' } }
    }
  }
}`);
  assert.equal(r.result, "SUCCESS", r.log);
  assert.equal(r.lines.filter((l) => l === "post: failure").length, 2, r.log);
  assert.ok(r.lines.includes("attempt 3 passed") && r.lines.includes("post: success"), r.log);
  const exhausted = await build(`pipeline {
  agent none
  stages {
    stage('broken') { options { retry(2) }; steps { error 'always' } }
    stage('after') { steps { echo 'never' } }
  }
}`);
  assert.equal(exhausted.result, "FAILURE", exhausted.log);
  assert.equal(exhausted.lines.filter((l) => l === "Retrying").length, 1, exhausted.log);
  assert.match(exhausted.log, /Stage "after" skipped due to earlier failure\(s\)/);
});
