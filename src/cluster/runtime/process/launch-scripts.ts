// The small shell programs that put a process where it belongs before it runs a container's command:
// into its cgroups, into its pod's namespaces, under its own root with the volumes mounted, into its
// working directory. Shell (with util-linux's unshare/nsenter, mount and chroot) because Node cannot
// setns(2), mount(2) or chroot(2) without a native addon, and each step is one standard command.
//
// Protocol with the runtime: file descriptor 3 is a pipe. A launch that fails writes one line "error <why>"
// to it and exits with 128; a launch that succeeds writes "started" and closes it just before exec'ing the
// command. (End of file cannot be the signal: nsenter's parent process keeps its copy open.)

import type { Mount } from "../cri.ts";
import type { HostTools } from "./host-capabilities.ts";

export interface SpawnPlan {
  file: string;
  args: string[];
}

/** Quotes a string for a POSIX shell. Hand-written: single quotes make it a one-liner. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The user a command runs as, resolved to numbers (ContainerUser with the primary group filled in). */
export interface ProcessUser {
  /** Absent: the user stays root (only the groups change). */
  uid?: number;
  gid: number;
  groups: number[];
}

/**
 * The words that make the rest of a command line run as `user` (setpriv(1) from util-linux: setresuid,
 * setresgid, setgroups, then exec; leaving uid 0 drops every capability, as the kernel does), or nothing.
 */
export function asUser(tools: HostTools, user: ProcessUser | undefined): string {
  if (!user) return "";
  const words = [shellQuote(tools.setpriv ?? "setpriv")];
  if (user.uid !== undefined) words.push(`--reuid=${user.uid}`);
  words.push(`--regid=${user.gid}`, user.groups.length > 0 ? `--groups=${user.groups.join(",")}` : "--clear-groups", "--");
  return `${words.join(" ")} `;
}

const FAIL = `fail() { printf 'error %s\\n' "$1" >&3; exit 128; }`;

function joinCgroups(cgroupDirectories: string[]): string[] {
  return cgroupDirectories.map(
    (dir) => `echo 0 > ${shellQuote(`${dir}/cgroup.procs`)} || fail ${shellQuote(`cannot join cgroup ${dir}`)}`,
  );
}

/**
 * The last step, identical in every mode: enter the working directory, check that the command exists
 * (so a typo is reported as a start failure, as runc does, not as exit code 127), drop fd 3, exec.
 */
const EXEC_COMMAND = [
  FAIL,
  `cd "$1" 2>/dev/null || fail "cannot enter working directory \\"$1\\""`,
  `shift`,
  `command -v "$1" >/dev/null 2>&1 || fail "exec: \\"$1\\": executable file not found in \\$PATH"`,
  `echo started >&3`,
  `exec 3>&-`,
  `exec "$@"`,
].join("\n");

/** The pause process that holds a pod's namespaces open and reaps orphans (it is PID 1 there). */
export function pausePlan(tools: HostTools, hostname: string): SpawnPlan {
  const pause = [
    // Best effort: a hostname the kernel rejects (too long) leaves the host's name in place.
    `printf '%s' "$1" > /proc/sys/kernel/hostname 2>/dev/null`,
    // A /proc of the pod's own pid namespace, inherited by every container's mount namespace.
    `mount -t proc proc /proc || exit 1`,
    `trap 'exit 0' TERM`,
    // The pod dies with the runtime: stdin is a pipe from the runtime that nobody writes to, so it reaches
    // end of file exactly when the runtime process is gone (even killed), and then PID 1 leaves, which
    // makes the kernel kill everything in the pod. (Asynchronous lists get /dev/null as stdin, hence fd 4.)
    `exec 4<&0`,
    `(while read -r _ <&4; do :; done; kill -TERM 1) &`,
    `echo ready`,
    // "wait" blocks on the watcher above and meanwhile reaps every other child too, including orphans
    // re-parented to us as PID 1. It returns only when the watcher ended, i.e. the runtime is gone.
    `wait`,
    `exit 0`,
  ].join("\n");
  return {
    file: tools.unshare ?? "unshare",
    args: ["--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child", "--propagation", "private", "--", tools.sh, "-c", pause, "berth-pause", hostname],
  };
}

export interface IsolatedLaunch {
  tools: HostTools;
  cgroupDirectories: string[];
  /** Host pid of the pod's pause process, whose namespaces the container joins. */
  pausePid: number;
  /** Empty host directory on which the container's private root is assembled (only inside its namespace). */
  layerDirectory: string;
  hostSubmounts: string[];
  mounts: Mount[];
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

/**
 * A container in its pod's pid, uts and ipc namespaces, with a mount namespace of its own whose root is a copy-on-write overlay of
 * the host's root (so creating mount points never touches the host), the host's /dev, /sys and other mounts
 * bound in, a /proc of the pod's pid namespace, each volume bound at its mountPath, then chroot.
 */
export function isolatedContainerPlan(launch: IsolatedLaunch): SpawnPlan {
  const { tools } = launch;
  const layer = shellQuote(launch.layerDirectory);
  const root = shellQuote(`${launch.layerDirectory}/root`);
  const inRoot = (path: string): string => shellQuote(`${launch.layerDirectory}/root${path.startsWith("/") ? path : `/${path}`}`);
  const stage2 = [
    FAIL,
    `mount -t tmpfs -o mode=0755 berth-layer ${layer} || fail "cannot mount the container's writable layer"`,
    `mkdir ${layer}/upper ${layer}/work ${root} || fail "cannot prepare the container's root"`,
    `mount -t overlay -o lowerdir=/,upperdir=${layer}/upper,workdir=${layer}/work berth-rootfs ${root} || fail "cannot mount the container's root"`,
    `mount --rbind /dev ${inRoot("/dev")} && mount --rbind /sys ${inRoot("/sys")} && mount -t proc proc ${inRoot("/proc")} || fail "cannot mount /dev, /sys, /proc"`,
    ...launch.hostSubmounts.map((point) => `[ -d ${shellQuote(point)} ] && mount --rbind ${shellQuote(point)} ${inRoot(point)} 2>/dev/null`),
    // When the layer directory lies on one of those mounts (a tmpfs /tmp), the recursive bind copied the
    // container's own root into itself: detach that copy.
    `mountpoint -q ${inRoot(launch.layerDirectory)} 2>/dev/null && umount -R -l ${inRoot(launch.layerDirectory)}`,
    ...launch.mounts.flatMap((mount) => {
      const target = inRoot(mount.containerPath);
      const source = shellQuote(mount.hostPath);
      const why = shellQuote(`cannot mount volume at ${mount.containerPath} from ${mount.hostPath}`);
      return [
        // A file (a single configMap key, a socket) needs a file to be bound onto, a directory a directory.
        `if [ -d ${source} ]; then mkdir -p ${target}; else mkdir -p "$(dirname ${target})" && touch ${target}; fi || fail ${why}`,
        `mount --bind ${source} ${target} || fail ${why}`,
        ...(mount.readonly ? [`mount -o remount,bind,ro ${target} || fail ${why}`] : []),
      ];
    }),
    `mkdir -p ${inRoot(launch.workingDir)} 2>/dev/null`,
    `exec ${shellQuote(tools.chroot ?? "chroot")} ${root} ${asUser(tools, launch.user)}/bin/sh -c ${shellQuote(EXEC_COMMAND)} berth-exec "$@"`,
  ].join("\n");
  const stage1 = [
    FAIL,
    ...joinCgroups(launch.cgroupDirectories),
    // Not the pod's mount namespace: the container's own is copied from the host's as it is now, so
    // volumes the kubelet mounted after the sandbox started (tmpfs emptyDirs, claims) are visible.
    `exec ${shellQuote(tools.nsenter ?? "nsenter")} --target ${launch.pausePid} --pid --uts --ipc -- ` +
      `${shellQuote(tools.unshare ?? "unshare")} --mount --propagation private -- ${shellQuote(tools.sh)} -c ${shellQuote(stage2)} berth-stage2 "$@"`,
  ].join("\n");
  return { file: tools.sh, args: ["-c", stage1, "berth-launch", launch.workingDir, ...launch.command] };
}

export interface PlainLaunch {
  tools: HostTools;
  cgroupDirectories: string[];
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

/** Runs EXEC_COMMAND in a new shell as `user` (after the steps that need root), or in this shell. */
function execCommandAs(tools: HostTools, user: ProcessUser | undefined): string {
  if (!user) return EXEC_COMMAND.replace(FAIL, "");
  return `exec ${asUser(tools, user)}${shellQuote(tools.sh)} -c ${shellQuote(EXEC_COMMAND)} berth-exec "$@"`;
}

/** A container as a plain host process: no namespaces, volumes not mounted, only cgroups (if any) and cwd. */
export function plainContainerPlan(launch: PlainLaunch): SpawnPlan {
  const script = [FAIL, ...joinCgroups(launch.cgroupDirectories), execCommandAs(launch.tools, launch.user)].join("\n");
  return { file: launch.tools.sh, args: ["-c", script, "berth-launch", launch.workingDir, ...launch.command] };
}

export interface ExecLaunch {
  tools: HostTools;
  cgroupDirectories: string[];
  /** Host pid of the container's main process when the container runs isolated; namespaces and root come from it. */
  isolatedTargetPid?: number;
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

/** A process started next to a running container's main process, sharing its namespaces, root and cgroups. */
export function execPlan(launch: ExecLaunch): SpawnPlan {
  const { tools, command } = launch;
  const lines = [FAIL, ...joinCgroups(launch.cgroupDirectories)];
  if (launch.isolatedTargetPid !== undefined) {
    // nsenter --root/--wd take the container's chroot and cwd from its main process.
    lines.push(
      `exec ${shellQuote(tools.nsenter ?? "nsenter")} --target ${launch.isolatedTargetPid} --mount --pid --uts --ipc --root --wd -- ` +
        `${asUser(tools, launch.user)}/bin/sh -c ${shellQuote(EXEC_COMMAND)} berth-exec . "$@"`,
    );
  } else {
    lines.push(execCommandAs(tools, launch.user));
    return { file: tools.sh, args: ["-c", lines.join("\n"), "berth-exec", launch.workingDir, ...command] };
  }
  return { file: tools.sh, args: ["-c", lines.join("\n"), "berth-exec", ...command] };
}
