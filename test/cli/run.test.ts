// `berth run` as a user runs it: a real process, the build log on stdout, `Finished: X` last, exit codes
// 0/1/2/130, the embedded cluster started for the run or reused from `berth cluster start`, and no pod
// left behind after Ctrl-C.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { tempDir, type TempDirOwner } from "../support/temp-dir.ts";

const BERTH = new URL("../../bin/berth.js", import.meta.url).pathname;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs berth; `onOutput` sees stdout as it grows and may act on the process (send it a signal). */
function berth(args: string[], home: string, onOutput?: (out: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const child = spawn(process.execPath, [BERTH, ...args], { env: { ...process.env, BERTH_HOME: home } });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    onOutput?.(out, child);
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
}

function jenkinsfile(t: TempDirOwner, text: string): string {
  const dir = tempDir(t, "berth-run-");
  mkdirSync(join(dir, "demo"));
  const file = join(dir, "demo", "Jenkinsfile");
  writeFileSync(file, text);
  return file;
}

test("berth run: a seed example on a cluster started for the run, exit 0, the log kept with the build", async (t) => {
  const home = tempDir(t, "berth-home-");
  const r = await berth(["run", "examples/seed-001/jnlp-container/Jenkinsfile"], home);
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.at(-1), "Finished: SUCCESS");
  assert.ok(lines.includes("hello world"));
  assert.match(r.out, /^Running on an embedded cluster started for this run/m);
  const log = readFileSync(join(home, "jobs", "jnlp-container", "builds", "1", "log"), "utf8");
  assert.equal(log.trimEnd().split("\n").at(-1), "Finished: SUCCESS");
  assert.equal(readFileSync(join(home, "jobs", "jnlp-container", "nextBuildNumber"), "utf8").trim(), "2");
});

test("berth run: a failing build exits 1; parameters reach params and env; bad input exits 2 before anything starts", async (t) => {
  const home = tempDir(t, "berth-home-");
  const failing = jenkinsfile(t, "pipeline {\n  agent none\n  parameters { string(name: 'WHO', defaultValue: 'nobody') }\n  stages { stage('s') { steps { echo \"who: ${params.WHO} ${env.WHO}\"; error 'boom' } } }\n}\n");
  const r = await berth(["run", failing, "--param", "WHO=me"], home);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /^who: me me$/m);
  assert.match(r.out, /^ERROR: boom/m);
  assert.equal(r.out.trimEnd().split("\n").at(-1), "Finished: FAILURE");

  const broken = jenkinsfile(t, "node {\n  sh 'make'\n  slackSend channel: '#ci'\n}\n");
  const b = await berth(["run", broken], home);
  assert.equal(b.code, 2);
  assert.equal(b.out, "");
  assert.match(b.err, new RegExp(`^${broken.replaceAll("/", "\\/")}:3:3: unsupported step 'slackSend'`, "m"));

  const missing = await berth(["run", join(home, "no-such-Jenkinsfile")], home);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*no-such-Jenkinsfile: no such file/);
  const badParam = await berth(["run", failing, "--param", "novalue"], home);
  assert.equal(badParam.code, 2);
  assert.match(badParam.err, /--param wants NAME=value/);
});

test("berth run: reuses a running `berth cluster start`; Ctrl-C stops the build, removes its pod and exits 130", async (t) => {
  const home = tempDir(t, "berth-home-");
  const cluster = spawn(process.execPath, [BERTH, "cluster", "start", "--port", "0"], { env: { ...process.env, BERTH_HOME: home } });
  const clusterExited = new Promise((resolve) => cluster.on("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    cluster.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    cluster.on("exit", () => reject(new Error("the cluster did not start")));
  });
  try {
    assert.ok(existsSync(join(home, "cluster", "cluster.json")));
    const file = jenkinsfile(t, "podTemplate {\n  node(POD_LABEL) {\n    sh 'echo started; sleep 300'\n  }\n}\n");
    let sent = false;
    const r = await berth(["run", file], home, (out, child) => {
      if (!sent && /^started$/m.test(out)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    assert.equal(r.code, 130, r.out + r.err);
    assert.match(r.out, /^Running on the embedded cluster at https:\/\/127\.0\.0\.1:\d+ \(pid \d+\)$/m);
    assert.match(r.out, /^Aborted by user$/m);
    assert.equal(r.out.trimEnd().split("\n").at(-1), "Finished: ABORTED");
    const kc = new KubeConfig();
    kc.loadFromFile(join(home, "cluster", "kubeconfig"));
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default" });
    assert.deepEqual(pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name), []);
  } finally {
    cluster.kill("SIGTERM");
    await clusterExited;
  }
});
