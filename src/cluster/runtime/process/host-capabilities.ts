// What this host lets the process runtime do, found out once when the runtime starts: are we root, are the
// util-linux tools there (unshare, nsenter, script), can we mount an overlay of the root filesystem inside a
// private mount namespace, which cgroups are writable. Everything else in the runtime asks this object
// instead of probing again.

import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { detectCgroupLayout, type CgroupLayout } from "./cgroups.ts";

const run = promisify(execFile);

export interface HostTools {
  sh: string;
  unshare?: string;
  nsenter?: string;
  script?: string;
  stty?: string;
  mount?: string;
  chroot?: string;
  setpriv?: string;
}

export interface HostCapabilities {
  isRoot: boolean;
  tools: HostTools;
  /** Pods get private mount/pid/uts/ipc namespaces and containers a copy-on-write view of the host root. */
  podIsolation: boolean;
  /** A container's writable layer can be a directory of the state directory (else: a tmpfs per container). */
  overlayUpperOnDisk: boolean;
  /** Why podIsolation is false, for the warning the kubelet turns into an event. */
  isolationUnavailableBecause?: string;
  cgroups: CgroupLayout;
}

/** Resolves a program on the PATH to an absolute path, the way a shell would. */
export function findExecutable(name: string, path = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"): string | undefined {
  for (const dir of path.split(":").filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Keep looking.
    }
  }
  return undefined;
}

/** Top-level mount points of this mount namespace that a container's overlay root would otherwise hide. */
export function listHostSubmounts(mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  const points = mountinfo
    .split("\n")
    .filter(Boolean)
    // Field 5 is the mount point; octal escapes (\040 for space) are how the kernel writes odd characters.
    .map((line) => (line.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point !== "/" && !/^\/(proc|sys|dev)(\/|$)/.test(point));
  // Nested mounts come along with their parent's recursive bind.
  return [...new Set(points)].filter((point, _i, all) => !all.some((other) => other !== point && point.startsWith(`${other}/`))).sort();
}

/**
 * Whether an overlay of the root can be mounted in a private mount namespace, and whether its writable
 * layer may live on the runtime's state directory (not possible when that is itself an overlay, as in
 * many containers; the layer then lives in a tmpfs per container, which costs two more programs per start).
 */
async function overlayOfRoot(tools: HostTools, scratchDir: string): Promise<{ unavailableBecause?: string; upperOnDisk: boolean }> {
  if (!tools.unshare || !tools.mount) return { unavailableBecause: "unshare(1) or mount(8) is missing (Debian packages util-linux and mount)", upperOnDisk: false };
  const probe = [
    `disk=no`,
    `if mkdir "$1/disk" "$1/disk/upper" "$1/disk/work" "$1/disk/root" && mount -t overlay -o "lowerdir=/,upperdir=$1/disk/upper,workdir=$1/disk/work" berth-probe "$1/disk/root" 2>/dev/null && test -x "$1/disk/root/bin/sh"; then disk=yes; umount "$1/disk/root"; fi`,
    `rm -rf "$1/disk"`,
    `mount -t tmpfs berth-probe "$1" || exit 1`,
    `mkdir "$1/upper" "$1/work" "$1/root" || exit 1`,
    `mount -t overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" berth-probe "$1/root" || exit 1`,
    `test -x "$1/root/bin/sh" || exit 1`,
    `echo "disk=$disk"`,
  ].join("\n");
  try {
    const { stdout } = await run(tools.unshare, ["--mount", "--propagation", "private", "--", tools.sh, "-c", probe, "berth-probe", scratchDir]);
    return { upperOnDisk: stdout.includes("disk=yes") };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return { unavailableBecause: `an overlay of the root filesystem cannot be mounted in a private mount namespace${stderr ? ` (${stderr})` : ""}`, upperOnDisk: false };
  }
}

export async function detectHostCapabilities(scratchDir: string): Promise<HostCapabilities> {
  const isRoot = process.getuid?.() === 0;
  const tools: HostTools = {
    sh: findExecutable("sh") ?? "/bin/sh",
    unshare: findExecutable("unshare"),
    nsenter: findExecutable("nsenter"),
    script: findExecutable("script"),
    stty: findExecutable("stty"),
    mount: findExecutable("mount"),
    chroot: findExecutable("chroot"),
    setpriv: findExecutable("setpriv"),
  };
  let isolationUnavailableBecause: string | undefined;
  if (process.platform !== "linux") isolationUnavailableBecause = "namespaces need Linux";
  else if (!isRoot) isolationUnavailableBecause = "Berth is not running as root";
  else if (!tools.nsenter) isolationUnavailableBecause = "nsenter(1) is missing (Debian package util-linux)";
  let overlayUpperOnDisk = false;
  if (isolationUnavailableBecause === undefined) {
    const overlay = await overlayOfRoot(tools, scratchDir);
    isolationUnavailableBecause = overlay.unavailableBecause;
    overlayUpperOnDisk = overlay.upperOnDisk;
  }
  return {
    isRoot,
    tools,
    podIsolation: isolationUnavailableBecause === undefined,
    overlayUpperOnDisk,
    ...(isolationUnavailableBecause ? { isolationUnavailableBecause } : {}),
    cgroups: detectCgroupLayout(isRoot && process.platform === "linux"),
  };
}
