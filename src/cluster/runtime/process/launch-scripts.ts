// The small shell programs that put a process where it belongs before it runs a container's command:
// into its cgroups, into its pod's namespaces, under its own root with the volumes mounted, into its
// working directory, as its user. Shell (with util-linux's unshare, nsenter, setpriv and mount) because
// Node cannot setns(2), mount(2) or chroot(2) without a native addon, and each step is one standard
// command. Every program started costs a fork and an exec (about a millisecond and a half of CPU each), so
// the chains are as short as the steps allow.
//
// Protocol with the runtime: file descriptor 3 is a pipe. A launch that fails writes one line "error <why>"
// to it and exits with 128; a launch that succeeds writes "started" and closes it just before exec'ing the
// command. (End of file cannot be the signal: nsenter's parent process keeps its copy open.)

import type { Mount } from "../cri.ts";
import type { HostTools } from "./host-capabilities.ts";

export interface SpawnPlan {
  file: string;
  args: string[];
  /**
   * Compiled launcher only (the C spawn server does it): fork the process as PID 1 of a new pid namespace
   * ("new") or into the pid namespace of that host pid, instead of the launcher forking once more.
   */
  pidNamespace?: "new" | number;
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
 * The last step of a plain launch: enter the working directory, check that the command exists (so a typo
 * is reported as a start failure, as runc does, not as exit code 127), drop fd 3, exec (as the user).
 */
function execCommand(tools: HostTools, user: ProcessUser | undefined): string {
  return [
    `cd "$1" 2>/dev/null || fail "cannot enter working directory \\"$1\\""`,
    `shift`,
    `command -v "$1" >/dev/null 2>&1 || fail "exec: \\"$1\\": executable file not found in \\$PATH"`,
    `echo started >&3`,
    `exec 3>&-`,
    `exec ${asUser(tools, user)}"$@"`,
  ].join("\n");
}

/** The pause process that holds a pod's namespaces open and reaps orphans (it is PID 1 there). */
export function pausePlan(tools: HostTools, hostname: string): SpawnPlan {
  const pause = [
    // Best effort: a hostname the kernel rejects (too long) leaves the host's name in place.
    `printf '%s' "$1" > /proc/sys/kernel/hostname 2>/dev/null`,
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
    // --mount-proc: a /proc of the pod's own pid namespace.
    args: ["--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child", "--propagation", "private", "--mount-proc", "--", tools.sh, "-c", pause, "berth-pause", hostname],
  };
}

/** One line of an fstab(5) file: spaces, tabs, newlines and backslashes in paths are octal escapes. */
function fstabField(value: string): string {
  return value.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

export interface IsolatedLaunch {
  tools: HostTools;
  cgroupDirectories: string[];
  /** Host pid of the pod's pause process, whose namespaces the container joins. */
  pausePid: number;
  /**
   * Host directory of the container's layer: `upper`, `work` and `root` in it (made by the runtime when
   * `layerInMemory` is false; otherwise a tmpfs is mounted on it first, inside the container's namespace).
   */
  layerDirectory: string;
  layerInMemory: boolean;
  /** Where the runtime writes the plan's `fstab` before spawning (outside the layer, which a tmpfs may cover). */
  fstabPath: string;
  hostSubmounts: string[];
  /** Volumes whose host path is a directory (mounted through the fstab) or not (a file, bound by the script). */
  mounts: (Mount & { directory: boolean })[];
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

export interface IsolatedPlan extends SpawnPlan {
  /** Content of the fstab file to write at `fstabPath` before spawning. */
  fstab: string;
}

/**
 * A container in its pod's pid, uts and ipc namespaces, with a mount namespace of its own whose root is a
 * copy-on-write overlay of the host's root (so creating mount points never touches the host), the host's
 * /dev, /sys and other mounts bound in, a /proc of the pod's pid namespace, each volume bound at its
 * mountPath, then the command under that root.
 *
 * Few programs, since each costs a fork and an exec: nsenter (into the pod) → unshare (a mount namespace)
 * → sh (cgroups, one `mount -a` of a generated fstab for the root and every directory volume) → nsenter
 * --root/--wd (the chroot and working directory) → sh (the command check, the start signal) → the command.
 */
export function isolatedContainerPlan(launch: IsolatedLaunch): IsolatedPlan {
  const { tools } = launch;
  const layer = launch.layerDirectory;
  const root = `${layer}/root`;
  const inRoot = (path: string): string => `${root}${path.startsWith("/") ? path : `/${path}`}`;
  const entries: string[][] = [
    ["berth-rootfs", root, "overlay", `lowerdir=/,upperdir=${layer}/upper,workdir=${layer}/work`],
    ["/dev", inRoot("/dev"), "none", "rbind"],
    ["/sys", inRoot("/sys"), "none", "rbind"],
    ["proc", inRoot("/proc"), "proc", "defaults"],
    ...launch.hostSubmounts.map((point) => [point, inRoot(point), "none", "rbind,X-mount.mkdir"]),
    ...launch.mounts.filter((m) => m.directory).map((m) => [m.hostPath, inRoot(m.containerPath), "none", `${m.readonly ? "bind,ro" : "bind"},X-mount.mkdir`]),
  ];
  const fstab = entries.map((fields) => `${fields.map(fstabField).join(" ")} 0 0\n`).join("");
  // When the layer directory lies on one of the host's other mounts (a tmpfs /tmp), the recursive bind
  // copied the container's own root into itself: detach that copy.
  const layerInSubmount = launch.hostSubmounts.some((point) => layer.startsWith(`${point}/`));
  const stage2 = [
    FAIL,
    ...joinCgroups(launch.cgroupDirectories),
    ...(launch.layerInMemory
      ? [
          `mount -t tmpfs -o mode=0755 berth-layer ${shellQuote(layer)} || fail "cannot mount the container's writable layer"`,
          `mkdir ${shellQuote(`${layer}/upper`)} ${shellQuote(`${layer}/work`)} ${shellQuote(root)} || fail "cannot prepare the container's root"`,
        ]
      : []),
    `mount -a -T ${shellQuote(launch.fstabPath)} || fail "cannot mount the container's root and volumes"`,
    ...(layerInSubmount ? [`umount -R -l ${shellQuote(inRoot(layer))} 2>/dev/null`] : []),
    ...launch.mounts
      .filter((m) => !m.directory)
      .flatMap((mount) => {
        // A file (a single configMap key, a socket) needs a file to be bound onto.
        const target = shellQuote(inRoot(mount.containerPath));
        const why = shellQuote(`cannot mount volume at ${mount.containerPath} from ${mount.hostPath}`);
        return [
          `mkdir -p "$(dirname ${target})" && touch ${target} || fail ${why}`,
          `mount --bind ${shellQuote(mount.hostPath)} ${target} || fail ${why}`,
          ...(mount.readonly ? [`mount -o remount,bind,ro ${target} || fail ${why}`] : []),
        ];
      }),
    `root=${shellQuote(root)}`,
    `wd="$1"`,
    `shift`,
    `[ -d "$root$wd" ] || mkdir -p "$root$wd" 2>/dev/null || fail "cannot enter working directory \\"$wd\\""`,
    // The last shell runs under the container's root and in its working directory, so that the start is
    // signalled only once the main process is where an exec looks for it (nsenter --root/--wd copy them).
    `exec ${shellQuote(tools.nsenter ?? "nsenter")} --root="$root" --wd="$root$wd" -- /bin/sh -c ${shellQuote([FAIL, execCommand(tools, launch.user)].join("\n"))} berth-exec . "$@"`,
  ].join("\n");
  return {
    // Not the pod's mount namespace: the container's own is copied from the host's as it is now, so
    // volumes the kubelet mounted after the sandbox started (tmpfs emptyDirs, claims) are visible.
    file: tools.nsenter ?? "nsenter",
    args: [
      "--target", String(launch.pausePid), "--pid", "--uts", "--ipc", "--",
      tools.unshare ?? "unshare", "--mount", "--propagation", "private", "--",
      tools.sh, "-c", stage2, "berth-launch", launch.workingDir, ...launch.command,
    ],
    fstab,
  };
}

export interface PlainLaunch {
  tools: HostTools;
  cgroupDirectories: string[];
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

/** A container as a plain host process: no namespaces, volumes not mounted, only cgroups (if any) and cwd. */
export function plainContainerPlan(launch: PlainLaunch): SpawnPlan {
  const script = [FAIL, ...joinCgroups(launch.cgroupDirectories), execCommand(launch.tools, launch.user)].join("\n");
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
  const script = [FAIL, ...joinCgroups(launch.cgroupDirectories), execCommand(tools, launch.user)].join("\n");
  if (launch.isolatedTargetPid !== undefined) {
    // Straight into the container: nsenter --root/--wd take its chroot and working directory from its main
    // process, and the container's /sys (a bind of the host's) has the same cgroup paths.
    return {
      file: tools.nsenter ?? "nsenter",
      args: ["--target", String(launch.isolatedTargetPid), "--mount", "--pid", "--uts", "--ipc", "--root", "--wd", "--", "/bin/sh", "-c", script, "berth-exec", ".", ...command],
    };
  }
  return { file: tools.sh, args: ["-c", script, "berth-exec", launch.workingDir, ...command] };
}
