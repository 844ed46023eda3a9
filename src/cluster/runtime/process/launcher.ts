// The compiled launcher (launcher.c, spawn-server.c): a fork of its spawn server per pod and per container
// start instead of the five or six programs of the shell chains in launch-scripts.ts, which stay as the
// fallback. It is built on first use with the host's C compiler and cached by the hash of its sources, so
// a new version is built once and an unchanged one never again.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Mount } from "../cri.ts";
import { findExecutable } from "./host-capabilities.ts";
import type { ProcessUser, SpawnPlan } from "./launch-scripts.ts";

/** Every source file of the program (launcher.c has main; spawn-server.c is its "serve" mode). */
const SOURCES = ["./launcher.c", "./spawn-server.c"].map((file) => fileURLToPath(new URL(file, import.meta.url)));
/** Part of the build too, so part of the hash. */
const HEADERS = ["./launcher.h"].map((file) => fileURLToPath(new URL(file, import.meta.url)));

export type LauncherBuild = { path: string } | { unavailableBecause: string };

/** Where built launchers are kept: the user's cache directory (not /tmp, where another user could plant one). */
export function defaultCacheDirectory(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "berth");
}

function compile(cc: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cc, args, { timeout: 120_000 }, (error, _stdout, stderr) => {
      // One line: it goes into a log line and an event.
      resolve(error ? (stderr.trim().split("\n")[0] || error.message.trim().split("\n")[0]) : undefined);
    });
  });
}

/** A cached launcher is used only if this user made it and nobody else can change it. */
async function usable(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    return info.isFile() && info.uid === process.getuid?.() && (info.mode & 0o022) === 0 && (info.mode & 0o100) !== 0;
  } catch {
    return false;
  }
}

/** The launcher binary for the current source: cached, or compiled now with $CC or cc (statically when the C library allows). */
export async function buildLauncher(cacheDirectory = defaultCacheDirectory()): Promise<LauncherBuild> {
  const hash = createHash("sha256");
  try {
    for (const source of await Promise.all([...SOURCES, ...HEADERS].map((file) => readFile(file)))) hash.update(source).update("\0");
  } catch (error) {
    return { unavailableBecause: `its source is missing (${(error as Error).message})` };
  }
  const path = join(cacheDirectory, `berth-launcher-${hash.digest("hex").slice(0, 16)}`);
  if (await usable(path)) return { path };
  // $CC as make(1) would use it; else cc.
  const wanted = process.env.CC || "cc";
  const cc = wanted.includes("/") ? wanted : (findExecutable(wanted) ?? (process.env.CC ? undefined : findExecutable("gcc")));
  if (!cc) return { unavailableBecause: `no C compiler (${wanted}) is on the PATH (Debian packages gcc and libc6-dev)` };
  try {
    await mkdir(cacheDirectory, { recursive: true, mode: 0o700 });
  } catch (error) {
    return { unavailableBecause: `its cache directory ${cacheDirectory} cannot be made (${(error as Error).message})` };
  }
  // Built under a name of its own and renamed into place: runtimes starting together never run a half-written file.
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString("hex")}`;
  const common = ["-O2", "-Wall", "-o", temporary, ...SOURCES];
  // Static: no dynamic loader at every exec (about a third of the launcher's start-up CPU).
  const failure = (await compile(cc, ["-static", ...common])) === undefined ? undefined : await compile(cc, common);
  if (failure !== undefined) {
    await rm(temporary, { force: true });
    return { unavailableBecause: `${cc} could not build it: ${failure}` };
  }
  await chmod(temporary, 0o755);
  await rename(temporary, path);
  // Builds of other source versions are not needed any more (one running keeps its file open; one that
  // starts later builds again).
  const others = (await readdir(cacheDirectory).catch(() => [] as string[])).filter((name) => /^berth-launcher-[0-9a-f]{16}$/.test(name) && join(cacheDirectory, name) !== path);
  await Promise.all(others.map((name) => rm(join(cacheDirectory, name), { force: true })));
  return { path };
}

function userArgs(user: ProcessUser | undefined): string[] {
  if (!user) return [];
  return [...(user.uid !== undefined ? ["--uid", String(user.uid)] : []), "--gid", String(user.gid), "--groups", user.groups.join(",")];
}

function cgroupArgs(cgroupDirectories: string[]): string[] {
  return cgroupDirectories.flatMap((dir) => ["--cgroup", dir]);
}

/** The pod's pause process (see launcher.c, mode pause). */
export function launcherPausePlan(launcher: string, hostname: string): SpawnPlan {
  // PID 1 of the pod straight from the spawn server: no forking parent left waiting.
  return { file: launcher, args: ["pause", hostname], pidNamespace: "new" };
}

export interface LauncherContainerLaunch {
  cgroupDirectories: string[];
  pausePid: number;
  /** Where the root is mounted: one existing directory for all containers (the mount is private to each). */
  rootMountPoint: string;
  /** The writable layer: directories the launcher makes (on disk), or a tmpfs it mounts on an existing directory. */
  layer: { upper: string; work: string } | { tmpfsMountPoint: string };
  mounts: Mount[];
  workingDir: string;
  command: string[];
  user?: ProcessUser;
}

/** A container in its pod (see launcher.c, mode container): the same result as isolatedContainerPlan. */
export function launcherContainerPlan(launcher: string, launch: LauncherContainerLaunch): SpawnPlan {
  return {
    file: launcher,
    // Forked into the pod's pid namespace by the spawn server, so the launcher becomes the command itself.
    pidNamespace: launch.pausePid,
    args: [
      "container",
      "--pod", String(launch.pausePid),
      "--root", launch.rootMountPoint,
      ...("tmpfsMountPoint" in launch.layer ? ["--layer-tmpfs", launch.layer.tmpfsMountPoint] : ["--upper", launch.layer.upper, "--work", launch.layer.work]),
      ...cgroupArgs(launch.cgroupDirectories),
      ...launch.mounts.flatMap((m) => [m.readonly ? "--bind-ro" : "--bind", m.hostPath, m.containerPath]),
      "--wd", launch.workingDir,
      ...userArgs(launch.user),
      "--", ...launch.command,
    ],
  };
}

export interface LauncherExecLaunch {
  cgroupDirectories: string[];
  /** Host pid of the container's main process: its namespaces, root and working directory. */
  targetPid: number;
  command: string[];
  user?: ProcessUser;
}

/** A process next to a container's main process (see launcher.c, mode exec): the same result as execPlan. */
export function launcherExecPlan(launcher: string, launch: LauncherExecLaunch): SpawnPlan {
  return {
    file: launcher,
    pidNamespace: launch.targetPid,
    args: ["exec", "--target", String(launch.targetPid), ...cgroupArgs(launch.cgroupDirectories), ...userArgs(launch.user), "--", ...launch.command],
  };
}
