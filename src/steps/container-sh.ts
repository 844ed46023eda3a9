// `sh` inside another container of the pod (`container('maven') { sh 'mvn -B verify' }`), built so
// that the plugin's best-known failures cannot happen:
//  - No exec stream stays open for a step's duration, so none can hang, drop and turn into exit code -1,
//    or exhaust the API server's connections. The agent saves the step's files on the shared workspace
//    volume and hands the step to the container's dispatcher: a small shell loop, detached in the
//    container, that reads step directories from a FIFO on the volume and starts each step's supervisor.
//    Only when the container has no live dispatcher (its first step, or the dispatcher died) does one
//    short pods/exec start a dispatcher and the step; the supervisor claims its step first, so a step
//    handed over twice still runs once.
//  - The step writes its output and, last, its exit code to files on that volume; the agent (which mounts
//    the same volume) follows them and streams them with byte offsets. A dropped connection (agent or
//    API server) loses nothing, and the exit code is always the process's own.
//  - Files are created with umask 0000, so containers running as different users can all read and write
//    them, and the workspace.
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import { FOLLOW, START } from "../agent/agent.ts";
import { LogLines } from "./output.ts";
import { missingShell, StepError, stepResult, stoppable, type ShOptions, type StepContext } from "./sh.ts";

const WORKSPACE_VOLUME = "workspace-volume";

// The dispatcher: $1 its directory (holding the FIFO), $2 the steps' directory. It reads one step
// directory per line and runs that step's supervisor in a subshell of its own, orphaned (sourced: no
// new program to start; the supervisor gives the step a session of its own), without the FIFO open, so
// that only the dispatcher ever listens on it. Its pid file says it is listening.
const DISPATCHER = [
  "umask 0000",
  'exec 3<> "$1/fifo" || exit 1', // read-write: never at end of file when a writer goes
  'echo $$ > "$1/pid"',
  'while read -r step <&3; do case "$step" in "$2"/*) ( (set -- "$step"; . "$step/supervise.sh") 3<&- </dev/null >/dev/null 2>&1 & ) ;; esac; done',
].join("\n");

// Through pods/exec when the agent found no dispatcher: $1 the step's directory (its files are there),
// $2 the dispatcher's directory, $3 the steps' directory, $4 the dispatcher script. Starts a dispatcher
// unless a live one exists, then the step itself, and returns once the step has its own session.
const LAUNCHER = [
  "umask 0000",
  'd="$1"; D="$2"',
  "S=; command -v setsid >/dev/null 2>&1 && S=setsid",
  'if ! { [ -s "$D/pid" ] && kill -0 "$(cat "$D/pid")" 2>/dev/null; }; then',
  '  [ -s "$D/pid" ] && rm -rf "$D"', // a dead one's leftovers (one still starting has no pid yet)
  '  if mkdir -p "${D%/*}" && mkdir "$D" 2>/dev/null && mkfifo -m 0622 "$D/fifo" && printf "%s\\n" "$4" > "$D/dispatch.sh"; then',
  '    $S sh "$D/dispatch.sh" "$D" "$3" </dev/null >/dev/null 2>&1 &',
  '    i=0; while [ ! -s "$D/pid" ] && [ $i -lt 300 ]; do sleep 0.01 2>/dev/null || sleep 1; i=$((i+1)); done',
  "  fi",
  "fi",
  '[ -f "$d/supervise.sh" ] || exit 125',
  '$S sh "$d/supervise.sh" "$d" </dev/null >/dev/null 2>&1 &',
  // Some runtimes kill what an exec leaves in its process group when it ends (Berth's process runtime
  // did): return only once the supervisor has its own session.
  'i=0; while [ ! -s "$d/pid" ] && [ $i -lt 500 ]; do sleep 0.01 2>/dev/null || sleep 1; i=$((i+1)); done',
  '[ -s "$d/pid" ] || { echo "the step did not start" >&2; exit 124; }',
].join("\n");

/**
 * The supervisor: `$1` is the step's directory. It claims the step (so it runs once however often it
 * was handed over), goes to the working directory, exports the step's environment, starts the script in
 * a session of its own (one signal to that session reaches everything the step starts, and not the
 * supervisor), waits for it and writes the exit code last, in one write. A step that cannot start (no
 * such directory, no such shell) still gets a pid and an exit code.
 */
function supervisor(splitStderr: boolean, cwd: string, exports: string[], launch: string, shell: string | undefined): string {
  const errors = splitStderr ? '"$1/err"' : '"$1/out"';
  const redirect = splitStderr ? '2> "$1/err"' : "2>&1";
  const failed = (code: number, marker = "") => `{ ${marker}echo $$ > "$1/pid"; echo ${code} > "$1/code"; exit 0; }`;
  return [
    'set -C; { : > "$1/claim"; } 2>/dev/null || exit 0; set +C',
    `cd ${quote(cwd)} 2>> ${errors} || ${failed(1)}`,
    ...exports,
    ...(shell ? [`command -v ${quote(shell)} >/dev/null 2>&1 || ${failed(127, ': > "$1/no-shell"; ')}`] : []),
    `if command -v setsid >/dev/null 2>&1; then setsid ${launch} > "$1/out" ${redirect} & else ${launch} > "$1/out" ${redirect} & fi`,
    'echo $! > "$1/pid"',
    "wait $!",
    'echo $? > "$1/code"',
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
  // Per pod and container: a workspace on a shared claim may be seen by other pods.
  const dispatcher = `.berth/dispatch/${ctx.agent.podName}-${container}`;
  const cwd = mapPath(ctx.cwd, agentMount, targetMount);
  const env = { ...Object.fromEntries(Object.entries(ctx.env).map(([k, v]) => [k, mapPath(v, agentMount, targetMount)])), POD_CONTAINER: container };
  const exports = Object.entries(env)
    .filter(([k]) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${quote(v)}`);
  const direct = options.script.startsWith("#!");
  const shell = ctx.shell ?? "sh";
  const script = quote(`${targetDir}/script.sh`);
  const supervise = supervisor(options.returnStdout ?? false, cwd, exports, direct ? script : `${quote(shell)} -xe ${script}`, direct ? undefined : shell);

  const started = await ctx.agent.run([START, `${agentMount}/${dispatcher}/fifo`, agentDir, targetDir, supervise], { stdin: options.script }).result;
  if (started.code === 125) throw new StepError(`could not save the script in ${agentDir}: ${started.error ?? "exit code 125"}`);
  if (started.error) throw new StepError(`could not start the script in container ${container}: ${started.error}`);
  if (started.code !== 0) {
    // No dispatcher listens (the container's first step, or it died), or it did not take the step.
    const launch = () => ctx.agent.exec(container, ["sh", "-c", LAUNCHER, "sh", targetDir, `${targetMount}/${dispatcher}`, `${targetMount}/.berth/steps`, DISPATCHER]);
    let launched = await launch();
    // 126 without a word: the exec itself failed (the container still starting, say). Launching again
    // is safe: the dispatcher starts once, and the step's claim lets it run once.
    for (let delay = 200; launched.code === 126 && !launched.stderr.trim() && delay <= 1600; delay *= 2) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      launched = await launch();
    }
    if (launched.code !== 0) {
      const why = launched.code === 125 ? `${targetDir} is not on the workspace volume it shares with the agent` : launched.stderr.trim() || `exit code ${launched.code}`;
      throw new StepError(`could not start the script in container ${container}: ${why}`);
    }
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
  const result = await stoppable(ctx, following.result, signal);
  combined.end();
  errors.end();
  const noShell = result.code === 127 && !direct && (await ctx.agent.run(["test", "-e", `${agentDir}/no-shell`]).result).code === 0;
  void ctx.agent.run(["rm", "-rf", agentDir]).result;
  if (noShell) throw new StepError(missingShell(shell, container));
  if (result.error || result.code === null) throw new StepError(`lost track of the script in container ${container}: ${result.error ?? "no exit code"}`);
  return stepResult(ctx, options, result.code, captured);
}
