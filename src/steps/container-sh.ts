// `sh` inside another container of the pod (`container('maven') { sh 'mvn -B verify' }`), built so
// that the plugin's best-known failures cannot happen:
//  - The API server's exec is used only to *start* the step: a launcher saves the script on the shared
//    workspace volume, starts it detached in its own session, and returns at once. No exec stream stays
//    open for the step's duration, so none can hang, drop and turn into exit code -1, or exhaust the
//    API server's connections.
//  - The step writes its output and, last, its exit code to files on that volume; the agent (which mounts
//    the same volume) follows them and streams them with byte offsets. A dropped connection (agent or
//    API server) loses nothing, and the exit code is always the process's own.
//  - Files are created with umask 0000, so containers running as different users can all read and write
//    them, and the workspace.
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import { FOLLOW } from "../agent/agent.ts";
import { LogLines } from "./output.ts";
import { StepError, stepResult, type ShOptions, type StepContext } from "./sh.ts";

const WORKSPACE_VOLUME = "workspace-volume";
const KILL_AFTER_MS = 3000;

// $1: the step's directory (in the target container); $2: run.sh, which runs the script; $3: supervise.sh.
// The script comes on stdin. The supervisor, detached from the exec, starts run.sh in a session of its
// own (so that one signal to that session reaches everything the step starts, and not the supervisor),
// waits for it and writes the exit code last.
const LAUNCHER = [
  "umask 0000",
  'd="$1"',
  'mkdir -p "$d" && cat > "$d/script.sh" && printf "%s\\n" "$2" > "$d/run.sh" && printf "%s\\n" "$3" > "$d/supervise.sh" && chmod 0777 "$d/script.sh" || exit 125',
  'if command -v setsid >/dev/null 2>&1; then setsid sh "$d/supervise.sh" "$d" </dev/null >/dev/null 2>&1 & else sh "$d/supervise.sh" "$d" </dev/null >/dev/null 2>&1 & fi',
  // Some runtimes kill what an exec leaves in its process group when it ends (Berth's process runtime
  // does, as runc does for containers): return only once the supervisor has its own session.
  'i=0; while [ ! -s "$d/pid" ] && [ $i -lt 500 ]; do sleep 0.01 2>/dev/null || sleep 1; i=$((i+1)); done',
  '[ -s "$d/pid" ] || { echo "the step did not start" >&2; exit 124; }',
].join("\n");

/** The supervisor: `$1` is the step's directory. */
function supervisor(splitStderr: boolean): string {
  const redirect = splitStderr ? '2> "$1/err"' : "2>&1";
  return [
    `if command -v setsid >/dev/null 2>&1; then setsid sh "$1/run.sh" > "$1/out" ${redirect} & else sh "$1/run.sh" > "$1/out" ${redirect} & fi`,
    'echo $! > "$1/pid"',
    'wait $!',
    'echo $? > "$1/code.tmp"',
    'mv "$1/code.tmp" "$1/code"',
  ].join("\n");
}

/** Where a container mounts the workspace volume. */
export function workspaceMount(pod: V1Pod | undefined, container: string): string | undefined {
  const spec = pod?.spec?.containers.find((c) => c.name === container);
  return spec?.volumeMounts?.find((m) => m.name === WORKSPACE_VOLUME)?.mountPath;
}

/** A path under one container's workspace mount, as another container sees it (reference §7.3). */
export function mapPath(path: string, fromMount: string, toMount: string): string {
  if (path === fromMount) return toMount;
  if (path.startsWith(`${fromMount}/`)) return `${toMount}${path.slice(fromMount.length)}`;
  return path;
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export async function shInContainer(ctx: StepContext, container: string, options: ShOptions): Promise<string | number | undefined> {
  const pod = ctx.agent.pod();
  if (!pod?.spec?.containers.some((c) => c.name === container)) {
    throw new StepError(`container ${container} not found in pod ${ctx.agent.podName} (containers: ${(pod?.spec?.containers ?? []).map((c) => c.name).join(", ")})`);
  }
  const agentMount = workspaceMount(pod, ctx.agent.agentContainer);
  const targetMount = workspaceMount(pod, container);
  if (!agentMount || !targetMount) throw new StepError(`container ${container} does not mount the workspace volume, so steps cannot run in it`);
  const id = randomBytes(6).toString("hex");
  const agentDir = `${agentMount}/.berth/steps/${id}`;
  const targetDir = `${targetMount}/.berth/steps/${id}`;
  const cwd = mapPath(ctx.cwd, agentMount, targetMount);
  const env = { ...Object.fromEntries(Object.entries(ctx.env).map(([k, v]) => [k, mapPath(v, agentMount, targetMount)])), POD_CONTAINER: container };
  const exports = Object.entries(env)
    .filter(([k]) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${quote(v)}`);
  const direct = options.script.startsWith("#!");
  const runScript = [`cd ${quote(cwd)} || exit 1`, ...exports, direct ? `exec ${quote(`${targetDir}/script.sh`)}` : `exec sh -xe ${quote(`${targetDir}/script.sh`)}`].join("\n");

  const launched = await ctx.agent.exec(container, ["sh", "-c", LAUNCHER, "sh", targetDir, runScript, supervisor(options.returnStdout ?? false)], options.script);
  if (launched.code !== 0) {
    const why = launched.code === 125 ? `could not save the script in ${targetDir}` : launched.stderr.trim() || `exit code ${launched.code}`;
    throw new StepError(`could not start the script in container ${container}: ${why}`);
  }

  const combined = new LogLines(ctx.log, ctx.masker, options.encoding);
  const errors = new LogLines(ctx.log, ctx.masker, options.encoding);
  const captured: Buffer[] = [];
  const files = options.returnStdout ? [`${agentDir}/out`, `${agentDir}/err`] : [`${agentDir}/out`];
  const following = ctx.agent.run([FOLLOW, `${agentDir}/code`, ...files], {
    onOutput: (stream, data) => {
      if (!options.returnStdout) combined.write(data);
      else if (stream === "stdout") captured.push(data);
      else errors.write(data);
    },
  });
  const signal = (name: string) => ctx.agent.exec(container, ["sh", "-c", `kill -${name} -"$(cat "$1/pid")" 2>/dev/null || kill -${name} "$(cat "$1/pid")"`, "sh", targetDir]).catch(() => undefined);
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    ctx.log.line("Sending interrupt signal to process");
    void signal("TERM");
    killTimer = setTimeout(() => {
      ctx.log.line("After 3s the process is still running: killing it and everything it started");
      void signal("KILL");
    }, KILL_AFTER_MS);
  };
  ctx.signal?.addEventListener("abort", onAbort, { once: true });
  const result = await following.result.finally(() => {
    clearTimeout(killTimer);
    ctx.signal?.removeEventListener("abort", onAbort);
  });
  combined.end();
  errors.end();
  void ctx.agent.run(["rm", "-rf", agentDir]).result;
  if (result.error || result.code === null) throw new StepError(`lost track of the script in container ${container}: ${result.error ?? "no exit code"}`);
  return stepResult(ctx, options, result.code, captured);
}
