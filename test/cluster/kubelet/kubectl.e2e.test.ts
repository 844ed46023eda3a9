// The whole cluster against real kubectl: seed 003's pod from apply to delete, logs with every flag,
// exec with and without a terminal, describe, wait, and a crash-looping container's previous logs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubectlBinary } from "../helpers/kubectl.ts";
import { createPod, getPod, run, startTestCluster, until, untilContainer, type Result, type TestCluster } from "./helpers.ts";

const POD_DEMO = new URL("./fixtures/pod-demo.yaml", import.meta.url).pathname;
const binary = kubectlBinary("35");
const binary31 = kubectlBinary("31");

let cluster: TestCluster;
let cacheDir: string;

before(async () => {
  cluster = await startTestCluster({ nodes: 2 });
  cacheDir = mkdtempSync(join(tmpdir(), "berth-kubectl-cache-"));
});

after(async () => {
  await cluster?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function kubectl(args: string[], input?: string, bin = binary as string): Promise<Result> {
  return run(bin, ["--kubeconfig", cluster.kubeconfigPath, "--cache-dir", cacheDir, ...args], input);
}

test("seed 003's pod: apply, Running, wait Ready, logs, exec, describe, delete", { skip: !binary && "kubectl 1.35 package not installed" }, async (t) => {
  const applied = await kubectl(["apply", "-f", POD_DEMO]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /pod\/pod-demo created/);

  await until("pod-demo Running in kubectl get", async () => {
    const got = await kubectl(["get", "pods"]);
    return /pod-demo\s+1\/1\s+Running\s+0/.test(got.stdout) ? got : undefined;
  });
  const wait = await kubectl(["wait", "--for=condition=Ready", "pod/pod-demo", "--timeout=60s"]);
  assert.equal(wait.code, 0, wait.stderr);
  const pod = await getPod(cluster, "default", "pod-demo");
  assert.ok(pod.status.podIP, "podIP set");
  assert.ok(pod.status.hostIP, "hostIP set");
  assert.ok(pod.status.startTime, "startTime set");

  await t.test("logs: plain, --tail, --since, -c, --timestamps, --limit-bytes, -f", async () => {
    await until("a few ticks", async () => ((await kubectl(["logs", "pod-demo"])).stdout.includes("tick 3") ? true : undefined));
    const all = await kubectl(["logs", "pod-demo"]);
    assert.match(all.stdout, /^serving\ntick 1\ntick 2\n/);
    const tail = await kubectl(["logs", "pod-demo", "--tail=1"]);
    assert.match(tail.stdout, /^tick \d+\n$/);
    const since = await kubectl(["logs", "pod-demo", "--since=1h", "-c", "webserver"]);
    assert.match(since.stdout, /^serving\n/);
    const timestamps = await kubectl(["logs", "pod-demo", "--timestamps", "--tail=1"]);
    assert.match(timestamps.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n$/);
    const limited = await kubectl(["logs", "pod-demo", "--limit-bytes=4"]);
    assert.equal(limited.stdout, "serv");
    const badContainer = await kubectl(["logs", "pod-demo", "-c", "nope"]);
    assert.notEqual(badContainer.code, 0);
    assert.match(badContainer.stderr, /container nope is not valid for pod pod-demo/);
    // -f keeps streaming new lines; limit-bytes ends the stream once enough arrived.
    const follow = await kubectl(["logs", "-f", "pod-demo", "--tail=0", "--limit-bytes=30"]);
    assert.equal(follow.code, 0, follow.stderr);
    assert.match(follow.stdout, /^tick \d+\ntick \d+\n/);
  });

  await t.test("exec without a terminal: output, stdin, exit code", async () => {
    const exec = await kubectl(["exec", "pod-demo", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(exec.code, 3);
    assert.equal(exec.stdout, "out\n");
    assert.match(exec.stderr, /err\n/);
    assert.match(exec.stderr, /command terminated with exit code 3/);
    const cat = await kubectl(["exec", "-i", "pod-demo", "--", "sh", "-c", "cat; echo done"], "from stdin\n");
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "from stdin\ndone\n");
    if (binary31) {
      const old = await kubectl(["exec", "pod-demo", "--", "echo", "v1.31"], undefined, binary31);
      assert.equal(old.stdout, "v1.31\n");
    }
  });

  await t.test("exec -it: a pseudo-terminal in the container", async () => {
    // script(1) gives kubectl a terminal of its own, as a user's shell would.
    const command = `${binary} --kubeconfig ${cluster.kubeconfigPath} --cache-dir ${cacheDir} exec -it pod-demo -- sh -c 'tty; test -t 0 && echo stdin-is-a-tty; exit 4'`;
    const result = await run("script", ["-qec", command, "/dev/null"], "");
    assert.match(result.stdout, /\/dev\/pts\/\d+/);
    assert.match(result.stdout, /stdin-is-a-tty/);
    assert.equal(result.code, 4);
  });

  await t.test("describe shows the pod's events", async () => {
    const described = await kubectl(["describe", "pod", "pod-demo"]);
    assert.equal(described.code, 0, described.stderr);
    for (const reason of ["Scheduled", "Pulling", "Pulled", "Created", "Started"]) assert.match(described.stdout, new RegExp(`Normal\\s+${reason}\\s`), reason);
    assert.match(described.stdout, /Successfully assigned default\/pod-demo to node-\d/);
    assert.match(described.stdout, /Status:\s+Running/);
  });

  const deleted = await kubectl(["delete", "pod", "pod-demo"]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(await getPod(cluster, "default", "pod-demo"), undefined, "gone once kubectl delete returns");
});

test("logs --previous of a crash-looping container, CrashLoopBackOff in get pods", { skip: !binary && "kubectl 1.35 package not installed" }, async () => {
  await createPod(cluster, "default", {
    metadata: { name: "crasher" },
    spec: { containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo attempt at $(date +%s%N); exit 2"] }] },
  });
  const status = await untilContainer(cluster, "default", "crasher", "main", (s) => s.restartCount >= 1 && s.state.waiting?.reason === "CrashLoopBackOff");
  assert.equal(status.lastState.terminated.exitCode, 2);
  assert.equal(status.lastState.terminated.reason, "Error");
  assert.match(status.state.waiting.message, /^back-off 10s restarting failed container=main pod=crasher_default\(/);
  const got = await kubectl(["get", "pod", "crasher"]);
  assert.match(got.stdout, /crasher\s+0\/1\s+CrashLoopBackOff\s+1 \(\d+s ago\)/);
  const current = await kubectl(["logs", "crasher"]);
  const previous = await kubectl(["logs", "crasher", "--previous"]);
  assert.match(current.stdout, /^attempt at \d+\n$/);
  assert.match(previous.stdout, /^attempt at \d+\n$/);
  assert.notEqual(current.stdout, previous.stdout);
  const described = await kubectl(["describe", "pod", "crasher"]);
  assert.match(described.stdout, /Warning\s+BackOff\s+.*Back-off restarting failed container main in pod crasher_default/);
  const noPrevious = await kubectl(["logs", "pod/crasher", "--previous", "-c", "main", "--tail=1"]);
  assert.equal(noPrevious.code, 0);
  // kubectl retries a refused WebSocket upgrade over SPDY; the answer it prints must be the real reason.
  const exec = await kubectl(["exec", "crasher", "--", "true"]);
  assert.notEqual(exec.code, 0);
  assert.match(exec.stderr, /container main is not running in pod crasher/);
  await kubectl(["delete", "pod", "crasher", "--wait=false"]);
});

test("attach -i: stdin reaches the container's main process, its output comes back", { skip: !binary && "kubectl 1.35 package not installed" }, async () => {
  await createPod(cluster, "default", {
    metadata: { name: "attachable" },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", stdin: true, command: ["sh", "-c", "while read line; do echo got $line; done"] }] },
  });
  await untilContainer(cluster, "default", "attachable", "main", (s) => s.state.running !== undefined);
  // The container keeps its stdin open for the next attach (stdinOnce is false), so kubectl stays attached
  // until it is stopped, as it would for a user pressing Ctrl-C.
  const child = spawn(binary as string, ["--kubeconfig", cluster.kubeconfigPath, "--cache-dir", cacheDir, "attach", "-i", "attachable"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stdin.write("hello\n");
  await until("attached output", () => (output.includes("got hello") ? true : undefined));
  child.kill();
  const logs = await kubectl(["logs", "attachable"]);
  assert.equal(logs.stdout, "got hello\n");
  await kubectl(["delete", "pod", "attachable", "--wait=false"]);
});

test("kubectl 1.29 exec (SPDY only) gets a clear error naming the minimum version", { skip: !kubectlBinary("29") && "kubectl 1.29 package not installed" }, async () => {
  await createPod(cluster, "default", { metadata: { name: "old-client" }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
  await untilContainer(cluster, "default", "old-client", "main", (s) => s.state.running !== undefined);
  const result = await kubectl(["exec", "old-client", "--", "true"], undefined, kubectlBinary("29"));
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /kubectl 1\.30 or newer/);
  await kubectl(["delete", "pod", "old-client", "--wait=false"]);
});
