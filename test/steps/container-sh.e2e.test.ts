// sh in the other containers of a real agent pod on the embedded cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sh, StepError, type StepContext } from "../../src/steps/sh.ts";
import { mapPath } from "../../src/steps/container-sh.ts";
import { SecretMasker } from "../../src/steps/masker.ts";
import type { AgentHub } from "../../src/controller/agent-hub.ts";
import { Log, startEmbeddedController } from "../controller/helpers.ts";
import { WORKSPACE, stepContext } from "./helpers.ts";

async function podContext(t: { after(fn: () => unknown): void }): Promise<StepContext & { log: Log; hub: AgentHub }> {
  const { controller, hub } = await startEmbeddedController(t, [
    {
      name: "build",
      label: "build",
      containers: [
        { name: "maven", image: "maven:3", command: "sleep 3600" },
        { name: "golang", image: "golang:1", command: "sleep 3600", workingDir: "/go/src" },
      ],
    },
  ]);
  return { ...(await stepContext(controller, { env: { WORKSPACE, GREETING: "hi" } })), hub };
}

test("paths under the agent's workspace mount map onto another container's", () => {
  assert.equal(mapPath("/home/jenkins/agent/workspace/job", "/home/jenkins/agent", "/go/src"), "/go/src/workspace/job");
  assert.equal(mapPath("/home/jenkins/agent", "/home/jenkins/agent", "/w"), "/w");
  assert.equal(mapPath("/elsewhere", "/home/jenkins/agent", "/w"), "/elsewhere");
});

test("container('x') sh: runs there with POD_CONTAINER, traces, exit codes, returnStdout, mapped working directory", async (t) => {
  const ctx = await podContext(t);
  const maven = { ...ctx, container: "maven" };
  await sh(maven, { script: 'echo "$GREETING from $POD_CONTAINER in $(pwd)"' });
  assert.deepEqual(ctx.log.lines, ["+ pwd", `+ echo hi from maven in ${WORKSPACE}`, `hi from maven in ${WORKSPACE}`]);
  await assert.rejects(sh(maven, { script: "exit 3" }), (e: unknown) => e instanceof StepError && e.message === "script returned exit code 3");
  assert.equal(await sh(maven, { script: "kill -9 $$", returnStatus: true }), 137);
  assert.equal(await sh(maven, { script: "printf 'out\\n'; echo err >&2", returnStdout: true }), "out\n");
  assert.equal(await sh({ ...ctx, container: "golang" }, { script: "#!/bin/sh\necho $(pwd) $WORKSPACE", returnStdout: true }), "/go/src/workspace/job /go/src/workspace/job\n");
  await assert.rejects(sh({ ...ctx, container: "nope" }, { script: "true" }), /container nope not found in pod/);
});

test("files written in one container are read and changed in another, through the shared workspace", async (t) => {
  const ctx = await podContext(t);
  await sh({ ...ctx, container: "maven" }, { script: "echo from-maven > shared.txt" });
  await sh({ ...ctx, container: "golang" }, { script: "cat shared.txt; echo from-golang >> shared.txt" });
  assert.equal(await sh(ctx, { script: "cat shared.txt", returnStdout: true }), "from-maven\nfrom-golang\n");
});

test("a step survives its agent's dropped connection with its output intact", async (t) => {
  const ctx = await podContext(t);
  const step = sh({ ...ctx, container: "maven" }, { script: "#!/bin/sh\ni=1; while [ $i -le 30 ]; do echo line-$i; i=$((i+1)); sleep 0.03; done" });
  await new Promise((r) => setTimeout(r, 300));
  ctx.hub.dropConnections();
  await step;
  assert.deepEqual(ctx.log.lines, Array.from({ length: 30 }, (_, i) => `line-${i + 1}`));
});

test("an aborted step in another container is stopped with everything it started", async (t) => {
  const ctx = await podContext(t);
  const controller = new AbortController();
  const step = sh({ ...ctx, container: "maven", signal: controller.signal }, { script: "sleep 300 &\nsleep 300" });
  await new Promise((r) => setTimeout(r, 700));
  controller.abort();
  await assert.rejects(step, /script was aborted/);
  const left = await sh({ ...ctx, container: "maven" }, { script: "#!/bin/sh\npgrep -f 'sleep 300' | wc -l", returnStdout: true });
  assert.equal(String(left).trim(), "0");
});

/** The context with its pods/exec calls counted. */
function countingExecs(ctx: StepContext): { ctx: StepContext; execs: () => number } {
  let execs = 0;
  const agent = { ...ctx.agent, exec: (...args: Parameters<StepContext["agent"]["exec"]>) => (execs++, ctx.agent.exec(...args)) };
  return { ctx: { ...ctx, agent }, execs: () => execs };
}

test("only a container's first step uses pods/exec; later ones go through its dispatcher, also when started together", async (t) => {
  const base = await podContext(t);
  const { ctx, execs } = countingExecs(base);
  const maven = { ...ctx, container: "maven" };
  // Five steps at once in a container that has no dispatcher yet: each runs, once.
  const outputs = await Promise.all([1, 2, 3, 4, 5].map((i) => sh(maven, { script: `echo step-${i} >> ran.txt; echo step-${i}`, returnStdout: true })));
  assert.deepEqual(outputs, ["step-1\n", "step-2\n", "step-3\n", "step-4\n", "step-5\n"]);
  assert.equal(String(await sh(maven, { script: "sort ran.txt", returnStdout: true })), "step-1\nstep-2\nstep-3\nstep-4\nstep-5\n");
  const before = execs();
  for (let i = 0; i < 5; i++) await sh(maven, { script: "true" });
  assert.equal(execs(), before, "steps after the first used pods/exec");
  // Steps do not hold the dispatcher's FIFO open (else one left running would keep a dead one "listening").
  assert.equal(await sh(maven, { script: "#!/bin/sh\nls -l /proc/$$/fd | grep -c fifo || true", returnStdout: true }), "0\n");
});

test("a dead dispatcher is replaced, and a step handed over twice runs once", async (t) => {
  const base = await podContext(t);
  const { ctx, execs } = countingExecs(base);
  const maven = { ...ctx, container: "maven" };
  const dispatcherPid = `/home/jenkins/agent/.berth/dispatch/${ctx.agent.podName}-maven/pid`;
  await sh(maven, { script: "true" });
  await sh(maven, { script: `kill $(cat ${dispatcherPid})` });
  let before = execs();
  assert.equal(await sh(maven, { script: "echo after-kill", returnStdout: true }), "after-kill\n");
  assert.equal(execs(), before + 1); // it found no dispatcher and started one
  before = execs();
  await sh(maven, { script: "true" });
  assert.equal(execs(), before);

  // A dispatcher that does not answer: the step is started through pods/exec; when the dispatcher wakes
  // up and starts it too, the step's claim stops the second run.
  await sh(maven, { script: `kill -STOP $(cat ${dispatcherPid})` });
  assert.equal(await sh(maven, { script: "echo once >> once.txt; cat once.txt", returnStdout: true }), "once\n");
  await ctx.agent.exec("maven", ["sh", "-c", `kill -CONT $(cat ${dispatcherPid})`]);
  await sh(maven, { script: "true" }); // the woken dispatcher read the old hand-over before this one
  assert.equal(await sh(maven, { script: "cat once.txt", returnStdout: true }), "once\n");
});

test("containers running as different users share the workspace: each reads, changes and removes the others' files", async (t) => {
  const { controller } = await startEmbeddedController(t, [
    {
      name: "users",
      label: "users",
      containers: [
        { name: "alice", image: "maven:3", command: "sleep 3600", runAsUser: "1000" },
        { name: "bob", image: "golang:1", command: "sleep 3600", runAsUser: "2000", runAsGroup: "2000" },
      ],
    },
  ]);
  const agent = await controller.requestAgent({ label: "users", log: new Log() });
  await agent.run(["mkdir", "-p", WORKSPACE]).result;
  const ctx: StepContext = { agent, log: new Log(), cwd: WORKSPACE, env: {}, masker: new SecretMasker([]) };
  await sh(ctx, { script: "mkdir -p shared && echo from-agent > shared/agent.txt" });
  const alice = { ...ctx, container: "alice" };
  const bob = { ...ctx, container: "bob" };
  assert.equal(await sh(alice, { script: "id -u", returnStdout: true }), "1000\n");
  assert.equal(await sh(bob, { script: "id -u", returnStdout: true }), "2000\n");
  await sh(alice, { script: "echo from-alice >> shared/agent.txt; mkdir -p shared/alice && echo a > shared/alice/a.txt" });
  await sh(bob, { script: "echo from-bob >> shared/alice/a.txt; echo b > shared/bob.txt; cat shared/agent.txt" });
  await sh(alice, { script: "cat shared/bob.txt; echo more >> shared/bob.txt; rm shared/bob.txt" });
  assert.equal(await sh(ctx, { script: "cat shared/agent.txt shared/alice/a.txt; ls shared", returnStdout: true }), "from-agent\nfrom-alice\na\nfrom-bob\nagent.txt\nalice\n");
  await sh(ctx, { script: "rm -rf shared" });
});

test("shell choice: scripts run with the container's shell; a missing shell fails the step and says which", async (t) => {
  const ctx = await podContext(t);
  const bash = { ...ctx, container: "maven", shell: "/bin/bash" };
  assert.match(String(await sh(bash, { script: 'echo "bash $BASH_VERSION"', returnStdout: true })), /^bash \d/);
  assert.match(String(await sh({ ...ctx, shell: "/bin/bash" }, { script: 'echo "bash $BASH_VERSION"', returnStdout: true })), /^bash \d/);
  assert.equal(await sh({ ...ctx, container: "maven" }, { script: 'echo "bash ${BASH_VERSION:-none}"', returnStdout: true }), "bash none\n");
  await assert.rejects(sh({ ...ctx, container: "maven", shell: "/bin/nope" }, { script: "true" }), (e: unknown) => e instanceof StepError && e.message === "the shell /bin/nope was not found in container maven");
  await assert.rejects(sh({ ...ctx, shell: "/bin/nope" }, { script: "true" }), (e: unknown) => e instanceof StepError && e.message === `the shell /bin/nope was not found in container ${ctx.agent.agentContainer}`);
  // A script that exits 127 itself is not mistaken for a missing shell.
  await assert.rejects(sh(bash, { script: "exit 127" }), /script returned exit code 127/);
});

test("once a container has its dispatcher, steps there need no pods/exec at all: they run with exec streams failing", async (t) => {
  const ctx = await podContext(t);
  await sh({ ...ctx, container: "maven" }, { script: "true" });
  const broken: StepContext = { ...ctx, container: "maven", agent: { ...ctx.agent, exec: () => Promise.reject(new Error("exec stream dropped")) } };
  const long = sh(broken, { script: "#!/bin/sh\nfor i in 1 2 3 4 5; do echo tick-$i; sleep 0.1; done", returnStdout: true });
  assert.equal(await sh(broken, { script: "echo quick; exit 4", returnStatus: true }), 4);
  assert.equal(await long, "tick-1\ntick-2\ntick-3\ntick-4\ntick-5\n");
});
