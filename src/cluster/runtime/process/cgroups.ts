// Per-container control groups: resource limits, OOM-kill detection, and a reliable handle on every process
// a container started (so stopping it leaves nothing behind, even processes that left its process group).
//
// Two layouts exist in the wild and both are handled:
//  - cgroup v2 only ("unified", /sys/fs/cgroup/cgroup.controllers exists): memory.max, cpu.max,
//    memory.events oom_kill, cgroup.kill;
//  - cgroup v1 or hybrid: memory.limit_in_bytes and memory.oom_control in the memory hierarchy,
//    cpu.cfs_quota_us in the cpu hierarchy, and (hybrid) the v2 hierarchy at /sys/fs/cgroup/unified used
//    only to track and kill processes.
// Anything that cannot be set up is reported, never fatal: the runtime then runs without that guarantee.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFile as writeFileCallback, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerResources, RuntimeWarning } from "../cri.ts";

const CGROUP_ROOT = "/sys/fs/cgroup";
/** All of Berth's cgroups live under this name in each hierarchy. */
const PARENT = "berth";
const CFS_PERIOD_US = 100_000;

export interface CgroupLayout {
  /** Directory (in some hierarchy) whose cgroup.procs lists every process of a container. */
  trackingRoot?: string;
  /** True when the tracking hierarchy is v2 and offers cgroup.kill. */
  trackingHasKill: boolean;
  memoryRoot?: string;
  memoryVersion?: 1 | 2;
  cpuRoot?: string;
  cpuVersion?: 1 | 2;
  /** This runtime's own directory in each hierarchy used, removed on close. */
  instanceDirectories: string[];
}

function tryMkdir(path: string): boolean {
  try {
    mkdirSync(path, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

/** Each runtime process has its own directory below PARENT, so leftovers of a dead one can be told apart. */
const INSTANCE_PREFIX = "runtime-";

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function tryMkdirAsync(path: string): Promise<boolean> {
  return mkdir(path, { recursive: true }).then(() => true, () => false);
}

async function tryWriteAsync(path: string, value: string): Promise<boolean> {
  return writeFile(path, value).then(() => true, () => false);
}

/** Kills what is left in a cgroup directory and removes it; a cgroup can only be removed once empty. */
function killAndRemove(dir: string): void {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    }
    if (!tryWrite(join(dir, "cgroup.kill"), "1")) {
      const pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
    sleepSync(10);
  }
}

/**
 * Removes the cgroups of runtime processes that died without cleaning up (killed, crashed). Their
 * containers' processes, if any survived, are killed first.
 */
function removeStaleInstances(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = new RegExp(`^${INSTANCE_PREFIX}(\\d+)-`).exec(entry);
    if (!match || processExists(Number(match[1]))) continue;
    const instance = join(parent, entry);
    try {
      for (const child of readdirSync(instance, { withFileTypes: true })) {
        if (child.isDirectory()) killAndRemove(join(instance, child.name));
      }
      killAndRemove(instance);
    } catch {
      // Best effort: another runtime may be cleaning up the same leftovers.
    }
  }
}

/**
 * Makes <hierarchy>/berth/runtime-<pid>, after clearing leftovers of dead runtimes. On cgroup v2 the
 * controllers are enabled on the way down, since a controller is only available where every ancestor's
 * cgroup.subtree_control enables it.
 */
function prepareInstance(hierarchy: string, instanceName: string, v2Controllers: string[] = []): string | undefined {
  const parent = join(hierarchy, PARENT);
  if (!tryMkdir(parent)) return undefined;
  removeStaleInstances(parent);
  const instance = join(parent, instanceName);
  if (!tryMkdir(instance)) return undefined;
  for (const controller of v2Controllers) {
    for (const dir of [hierarchy, parent, instance]) {
      if (!tryWrite(join(dir, "cgroup.subtree_control"), `+${controller}`)) break;
    }
  }
  return instance;
}

/** Finds which hierarchies this process may create cgroups in. Empty when not root or nothing is writable. */
export function detectCgroupLayout(isRoot: boolean): CgroupLayout {
  const layout: CgroupLayout = { trackingHasKill: false, instanceDirectories: [] };
  if (!isRoot) return layout;
  // One directory per runtime object (a process may run several), named after the process for clean-up.
  const instanceName = `${INSTANCE_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`;
  if (existsSync(join(CGROUP_ROOT, "cgroup.controllers"))) {
    const available = readFileSync(join(CGROUP_ROOT, "cgroup.controllers"), "utf8").split(/\s+/);
    const instance = prepareInstance(CGROUP_ROOT, instanceName, ["memory", "cpu"].filter((c) => available.includes(c)));
    if (!instance) return layout;
    const enabled = readFileSync(join(instance, "cgroup.subtree_control"), "utf8").split(/\s+/);
    layout.instanceDirectories.push(instance);
    layout.trackingRoot = instance;
    layout.trackingHasKill = existsSync(join(instance, "cgroup.kill"));
    if (enabled.includes("memory")) Object.assign(layout, { memoryRoot: instance, memoryVersion: 2 });
    if (enabled.includes("cpu")) Object.assign(layout, { cpuRoot: instance, cpuVersion: 2 });
    return layout;
  }
  const unified = join(CGROUP_ROOT, "unified");
  const tracking = existsSync(join(unified, "cgroup.procs")) ? prepareInstance(unified, instanceName) : undefined;
  if (tracking) {
    layout.instanceDirectories.push(tracking);
    layout.trackingRoot = tracking;
    layout.trackingHasKill = existsSync(join(tracking, "cgroup.kill"));
  }
  const memory = existsSync(join(CGROUP_ROOT, "memory", "memory.limit_in_bytes")) ? prepareInstance(join(CGROUP_ROOT, "memory"), instanceName) : undefined;
  if (memory) {
    layout.instanceDirectories.push(memory);
    Object.assign(layout, { memoryRoot: memory, memoryVersion: 1 });
    layout.trackingRoot ??= memory;
  }
  const cpu = existsSync(join(CGROUP_ROOT, "cpu", "cpu.cfs_quota_us")) ? prepareInstance(join(CGROUP_ROOT, "cpu"), instanceName) : undefined;
  if (cpu) {
    layout.instanceDirectories.push(cpu);
    Object.assign(layout, { cpuRoot: cpu, cpuVersion: 1 });
  }
  return layout;
}

/** Removes this runtime's own cgroup directories (on close, after every container is gone). */
export function removeInstanceCgroups(layout: CgroupLayout): void {
  for (const dir of layout.instanceDirectories) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty (a container still being removed) or already gone: the next runtime cleans it up.
    }
  }
}

/** A counter of a flat-keyed cgroup file; asynchronous, as it is read after every container's exit. */
async function readCounter(path: string, key: string): Promise<number> {
  try {
    const line = (await readFile(path, "utf8")).split("\n").find((l) => l.startsWith(`${key} `));
    return line ? Number(line.split(" ")[1]) : 0;
  } catch {
    return 0;
  }
}

/** The cgroups of one container (one directory per hierarchy used). */
export class ContainerCgroup {
  /** Every cgroup directory to join, i.e. whose cgroup.procs a new process writes itself into. */
  readonly directories: string[];
  private readonly layout: CgroupLayout;
  private readonly name: string;

  private constructor(layout: CgroupLayout, name: string, directories: string[]) {
    this.layout = layout;
    this.name = name;
    this.directories = directories;
  }

  /**
   * Creates the container's cgroups and applies its limits. Returns the cgroup (absent when no hierarchy is
   * usable) and a warning for each limit that is not enforced.
   */
  static async create(layout: CgroupLayout, name: string, resources: ContainerResources = {}): Promise<{ cgroup?: ContainerCgroup; warnings: RuntimeWarning[] }> {
    const warnings: RuntimeWarning[] = [];
    const directories = new Set<string>();
    // Asynchronous: creating a cgroup takes the kernel a millisecond or two, on the thread the whole
    // cluster shares otherwise.
    const make = async (root: string | undefined): Promise<string | undefined> => {
      if (!root) return undefined;
      const dir = join(root, name);
      return (await tryMkdirAsync(dir)) ? (directories.add(dir), dir) : undefined;
    };
    await make(layout.trackingRoot);

    if (resources.memoryLimitBytes !== undefined) {
      const dir = await make(layout.memoryRoot);
      const file = layout.memoryVersion === 2 ? "memory.max" : "memory.limit_in_bytes";
      if (!dir || !(await tryWriteAsync(join(dir, file), String(resources.memoryLimitBytes)))) {
        warnings.push({
          reason: "LimitNotEnforced",
          message: `memory limit of ${resources.memoryLimitBytes} bytes is not enforced: no writable memory cgroup on this host (needs root and the memory controller)`,
        });
      } else if (layout.memoryVersion === 2) {
        // Without this, swap would let a container exceed its limit instead of being OOM-killed.
        await tryWriteAsync(join(dir, "memory.swap.max"), "0");
      }
    }
    if (resources.cpuLimitMillis !== undefined) {
      const dir = await make(layout.cpuRoot);
      const quota = Math.max(1000, Math.round((resources.cpuLimitMillis * CFS_PERIOD_US) / 1000));
      const applied =
        dir !== undefined &&
        (layout.cpuVersion === 2
          ? await tryWriteAsync(join(dir, "cpu.max"), `${quota} ${CFS_PERIOD_US}`)
          : (await tryWriteAsync(join(dir, "cpu.cfs_period_us"), String(CFS_PERIOD_US))) && (await tryWriteAsync(join(dir, "cpu.cfs_quota_us"), String(quota))));
      if (!applied) {
        warnings.push({
          reason: "LimitNotEnforced",
          message: `cpu limit of ${resources.cpuLimitMillis}m is not enforced: no writable cpu cgroup on this host (needs root and the cpu controller)`,
        });
      }
    }
    if (directories.size === 0) return { warnings };
    return { cgroup: new ContainerCgroup(layout, name, [...directories]), warnings };
  }

  /** How many times the kernel's OOM killer killed a process of this container. */
  async oomKillCount(): Promise<number> {
    if (!this.layout.memoryRoot) return 0;
    const dir = join(this.layout.memoryRoot, this.name);
    return this.layout.memoryVersion === 2 ? readCounter(join(dir, "memory.events"), "oom_kill") : readCounter(join(dir, "memory.oom_control"), "oom_kill");
  }

  pids(): number[] {
    const dir = this.directories[0];
    if (!dir) return [];
    try {
      return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Sends SIGKILL to every process in the container, from the thread pool when cgroup.kill does it: the
   * kernel signals every process inside that write, a good part of a millisecond this thread (which the
   * whole cluster shares) need not wait for. Callers wait for the exits anyway.
   */
  killAll(): void {
    const tracking = this.layout.trackingRoot ? join(this.layout.trackingRoot, this.name) : undefined;
    if (tracking && this.layout.trackingHasKill) {
      writeFileCallback(join(tracking, "cgroup.kill"), "1", (error) => {
        if (error) this.killPids();
      });
      return;
    }
    this.killPids();
  }

  private killPids(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }

  /** Removes the directories; they must be empty of processes, so callers kill and wait first. */
  async remove(): Promise<boolean> {
    let removed = true;
    for (const dir of this.directories) {
      try {
        await rmdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") removed = false;
      }
    }
    return removed;
  }
}
