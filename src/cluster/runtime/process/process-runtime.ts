// The `process` runtime: every container is a group of host processes. See ../README.md for what it
// guarantees with and without root.

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { EventEmitter } from "node:events";
import type {
  ContainerConfig,
  ContainerEvent,
  ContainerEventListener,
  ContainerFilter,
  ContainerRuntime,
  ContainerState,
  ContainerStatus,
  ContainerUser,
  CreateContainerResult,
  ExecOptions,
  ExecSyncResult,
  Image,
  ImageSpec,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  RunPodSandboxResult,
  RuntimeInfo,
  RuntimeWarning,
  StreamingSession,
} from "../cri.ts";
import { RuntimeError } from "../cri.ts";
import { CriLogWriter } from "../cri-log.ts";
import { parseImageReference } from "../image-reference.ts";
import { ContainerCgroup, removeInstanceCgroups } from "./cgroups.ts";
import { detectHostCapabilities, listHostSubmounts, type HostCapabilities } from "./host-capabilities.ts";
import { LaunchedProcess } from "./launched-process.ts";
import { execPlan, isolatedContainerPlan, pausePlan, plainContainerPlan, type ProcessUser, type SpawnPlan } from "./launch-scripts.ts";
import { buildLauncher, launcherContainerPlan, launcherExecPlan, launcherPausePlan, type LauncherBuild } from "./launcher.ts";
import { PodSandbox } from "./pod-sandbox.ts";
import { Spawner } from "./spawner.ts";
import { groupExists, signalGroup } from "./process-tree.ts";
import { ProcessImageService, type ImagePolicy } from "./process-images.ts";
import { attachSession, collectExec, execSession } from "./streaming-sessions.ts";
import { DEFAULT_TERMINAL_SIZE, onPseudoTerminal } from "./terminal.ts";

/**
 * What containers get when their env has no PATH: an image would normally provide one. The directory of
 * the Node that runs Berth comes first, so that `node` in a container is a Node Berth supports (the
 * default agent image is a Node image, and the host's own node may be older).
 */
const DEFAULT_PATH = `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface ProcessRuntimeOptions {
  /** Where per-container scratch directories go; default: a fresh directory under the OS temp dir. */
  stateDirectory?: string;
  imagePolicy?: ImagePolicy;
  /** "off" runs plain host processes even as root (no namespaces); default "auto". */
  isolation?: "auto" | "off";
  /**
   * Where a container's writable layer lives: "auto" (default) in the state directory when the host allows
   * it, else in a tmpfs of its own; "memory" always in the tmpfs.
   */
  writableLayer?: "auto" | "memory";
  /**
   * How isolated pods and containers are started: "auto" (default) with the compiled launcher (launcher.c:
   * a fork of its spawn server per start, no program but the command exec'd) when the host can build it,
   * else with the Node spawner and the shell chains of launch-scripts.ts;
   * "shell" always with the shell chains. The environment variable BERTH_RUNTIME_LAUNCHER=shell does the same.
   */
  launcher?: "auto" | "shell";
  /** Where the compiled launcher is cached; default: ~/.cache/berth (or $XDG_CACHE_HOME/berth). */
  cacheDirectory?: string;
}

interface ContainerRecord {
  id: string;
  sandbox: PodSandbox;
  config: ContainerConfig;
  state: ContainerState;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  exitCode?: number;
  reason?: string;
  message?: string;
  imageRef: string;
  logPath: string;
  workingDir: string;
  env: Record<string, string>;
  /** Who the main process and every exec run as; undefined: the runtime's own user. */
  user?: ProcessUser;
  cgroup?: ContainerCgroup;
  process?: LaunchedProcess;
  /** Process groups of the execs run in this container: what they left running dies with the container. */
  execGroups: Set<number>;
  /** Live output for attach: "stdout"/"stderr" events with Buffers, "exit" once. */
  output: EventEmitter;
  stdinClaimed: boolean;
  /** What startContainer made in the state directory (the writable layer), deleted with the container. */
  scratch: string[];
}

/** Random bytes for many ids at a time: one synchronous call to the system's generator per id is slow in a burst. */
let idBytes = Buffer.alloc(0);

function newId(): string {
  if (idBytes.length < 32) idBytes = randomBytes(32 * 64);
  const id = idBytes.subarray(0, 32).toString("hex");
  idBytes = idBytes.subarray(32);
  return id;
}

/** The primary group of a uid in the host's (and so every container's) /etc/passwd, as a runtime would look it up in the image. */
function primaryGroupOf(uid: number): number | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields[2] === String(uid) && fields[3] !== undefined && /^\d+$/.test(fields[3])) return Number(fields[3]);
    }
  } catch {
    // No passwd file: group 0, as for a uid the image does not know.
  }
  return undefined;
}

function resolveUser(context: ContainerUser | undefined): ProcessUser | undefined {
  if (!context) return undefined;
  const { runAsUser, runAsGroup } = context;
  const groups = [...new Set(context.supplementalGroups ?? [])];
  if (runAsUser === undefined && runAsGroup === undefined && groups.length === 0) return undefined;
  const gid = runAsGroup ?? (runAsUser !== undefined ? (primaryGroupOf(runAsUser) ?? 0) : 0);
  return { ...(runAsUser !== undefined ? { uid: runAsUser } : {}), gid, groups };
}

function matchesLabels(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
}

export class ProcessRuntime implements ContainerRuntime {
  readonly host: HostCapabilities;
  private readonly stateDirectory: string;
  /** A state directory the runtime made for itself is deleted on close. */
  private readonly ownsStateDirectory: boolean;
  private readonly images: ProcessImageService;
  private readonly isolation: boolean;
  private readonly layerInMemory: boolean;
  private readonly sandboxes = new Map<string, PodSandbox>();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly events = new EventEmitter();
  /** Starts every process, so that this (large) process never forks: see spawner.ts. */
  private readonly spawner: Spawner;
  /** The compiled launcher, or why isolated starts go through the shell chains (undefined without isolation). */
  readonly launcher: LauncherBuild | undefined;

  private constructor(host: HostCapabilities, stateDirectory: string, spawner: Spawner, launcher: LauncherBuild | undefined, options: ProcessRuntimeOptions) {
    this.host = host;
    this.spawner = spawner;
    this.stateDirectory = stateDirectory;
    this.ownsStateDirectory = options.stateDirectory === undefined;
    this.images = new ProcessImageService(options.imagePolicy);
    this.isolation = host.podIsolation && options.isolation !== "off";
    this.layerInMemory = !host.overlayUpperOnDisk || options.writableLayer === "memory";
    this.launcher = this.isolation ? launcher : undefined;
  }

  /** Path of the compiled launcher when isolated starts use it. */
  private get launcherPath(): string | undefined {
    return this.launcher && "path" in this.launcher ? this.launcher.path : undefined;
  }

  /** Probes the host (root, tools, cgroups, overlay support) and returns a ready runtime. */
  static async create(options: ProcessRuntimeOptions = {}): Promise<ProcessRuntime> {
    const stateDirectory = options.stateDirectory ? resolve(options.stateDirectory) : mkdtempSync(join(tmpdir(), "berth-runtime-"));
    mkdirSync(join(stateDirectory, "probe"), { recursive: true });
    // Shared by every container the launcher starts: its root and (in memory) its layer are mounted on
    // these inside the container's own mount namespace.
    for (const dir of ["containers", "rootfs", "layer"]) mkdirSync(join(stateDirectory, dir), { recursive: true });
    const shell = options.launcher === "shell" || process.env.BERTH_RUNTIME_LAUNCHER === "shell";
    // Built (or found in the cache) while the host is probed; only isolated starts use it, which need root.
    const wanted = !shell && options.isolation !== "off" && process.platform === "linux" && process.getuid?.() === 0;
    const building = wanted ? buildLauncher(options.cacheDirectory) : Promise.resolve(undefined);
    const [host, spawner, built] = await Promise.all([
      detectHostCapabilities(join(stateDirectory, "probe")),
      // The launcher's spawn server when there is a launcher: forking from it costs a fraction of Node's fork.
      building.then((build) => Spawner.start(build && "path" in build ? build.path : undefined)),
      building,
    ]);
    const launcher: LauncherBuild | undefined = built ?? (shell ? { unavailableBecause: "the shell launch chains were asked for" } : undefined);
    if (built && "unavailableBecause" in built && host.podIsolation) {
      console.error(`berth runtime: the compiled launcher is unavailable because ${built.unavailableBecause}; pods start through shell chains (several programs per start, slower)`);
    }
    return new ProcessRuntime(host, stateDirectory, spawner, launcher, options);
  }

  info(): RuntimeInfo {
    const { cgroups } = this.host;
    return {
      runtimeName: "process",
      runtimeVersion: "0.1.0",
      capabilities: {
        podIsolation: this.isolation,
        memoryLimits: cgroups.memoryRoot !== undefined,
        cpuLimits: cgroups.cpuRoot !== undefined,
        oomDetection: cgroups.memoryRoot !== undefined,
        tty: this.host.tools.script !== undefined,
      },
    };
  }

  // ------------------------------------------------------------------------------------------ images

  pullImage(image: ImageSpec): Promise<string> {
    return this.images.pullImage(image);
  }
  imageStatus(image: ImageSpec): Promise<Image | null> {
    return this.images.imageStatus(image);
  }
  listImages(): Promise<Image[]> {
    return this.images.listImages();
  }
  removeImage(image: ImageSpec): Promise<void> {
    return this.images.removeImage(image);
  }

  // ------------------------------------------------------------------------------------------ sandboxes

  private isolationWarning(): RuntimeWarning {
    return {
      reason: "IsolationUnavailable",
      message: `the process runtime runs this pod's containers as plain host processes because ${this.host.isolationUnavailableBecause ?? "isolation is switched off"}: volumes are not mounted at their mountPath, and processes, hostname and files are shared with the host`,
    };
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<RunPodSandboxResult> {
    const sandbox = new PodSandbox(newId(), config);
    const warnings: RuntimeWarning[] = [];
    if (this.isolation) {
      const hostname = config.hostname ?? config.metadata.name;
      const launcher = this.launcherPath;
      await sandbox.startIsolation(launcher ? launcherPausePlan(launcher, hostname) : pausePlan(this.host.tools, hostname), this.spawner);
    } else {
      warnings.push(this.isolationWarning());
    }
    this.sandboxes.set(sandbox.id, sandbox);
    return { podSandboxId: sandbox.id, warnings };
  }

  private sandbox(id: string): PodSandbox {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) throw new RuntimeError("NotFound", `pod sandbox ${id} not found`);
    return sandbox;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    const sandbox = this.sandboxes.get(podSandboxId);
    if (!sandbox) return;
    const containers = [...this.containers.values()].filter((c) => c.sandbox === sandbox);
    await Promise.all(containers.map((c) => this.stopContainer(c.id, 0)));
    await sandbox.stopIsolation();
    sandbox.state = "notready";
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    if (!this.sandboxes.has(podSandboxId)) return;
    await this.stopPodSandbox(podSandboxId);
    const containers = [...this.containers.values()].filter((c) => c.sandbox.id === podSandboxId);
    await Promise.all(containers.map((c) => this.removeContainer(c.id)));
    this.sandboxes.delete(podSandboxId);
  }

  private sandboxStatus(sandbox: PodSandbox): PodSandboxStatus {
    return {
      id: sandbox.id,
      metadata: sandbox.config.metadata,
      state: sandbox.state,
      createdAt: sandbox.createdAt,
      network: { ip: sandbox.ip, additionalIps: [] },
      labels: { ...sandbox.config.labels },
      annotations: { ...sandbox.config.annotations },
    };
  }

  async podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    return this.sandboxStatus(this.sandbox(podSandboxId));
  }

  async listPodSandboxes(filter: PodSandboxFilter = {}): Promise<PodSandboxStatus[]> {
    return [...this.sandboxes.values()]
      .filter((s) => (!filter.state || s.state === filter.state) && matchesLabels(s.config.labels, filter.labelSelector))
      .map((s) => this.sandboxStatus(s));
  }

  // ------------------------------------------------------------------------------------------ containers

  private emit(type: ContainerEvent["type"], record: ContainerRecord): void {
    const event: ContainerEvent = { type, containerId: record.id, podSandboxId: record.sandbox.id, at: new Date() };
    this.events.emit("event", event);
  }

  onContainerEvent(listener: ContainerEventListener): () => void {
    this.events.on("event", listener);
    return () => this.events.off("event", listener);
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, _sandboxConfig: PodSandboxConfig): Promise<CreateContainerResult> {
    const sandbox = this.sandbox(podSandboxId);
    if (sandbox.state !== "ready") throw new RuntimeError("CreateContainerError", `pod sandbox ${podSandboxId} is not ready`);
    if (!config.command || config.command.length === 0) {
      throw new RuntimeError("CreateContainerConfigError", "the process runtime cannot run image entrypoints; set command");
    }
    const imageRef = parseImageReference(config.image.image).normalized;
    const warnings: RuntimeWarning[] = [];
    if (!this.isolation && (config.mounts?.length ?? 0) > 0) {
      const list = (config.mounts ?? []).map((m) => `${m.containerPath} (host directory ${m.hostPath})`).join(", ");
      warnings.push({ reason: "IsolationUnavailable", message: `volumes are not mounted at their mountPath without pod isolation: ${list}` });
    }
    if (config.tty && !this.host.tools.script) {
      warnings.push({ reason: "TtyNotSupported", message: "no terminal for this container: script(1) is missing (Debian package bsdutils); its output is piped" });
    }
    let user = resolveUser(config.securityContext);
    // The launcher switches users itself; the shell chains need setpriv(1).
    if (user && !(this.host.isRoot && (this.launcherPath !== undefined || this.host.tools.setpriv))) {
      const what = [
        ...(user.uid !== undefined ? [`runAsUser ${user.uid}`] : []),
        ...(config.securityContext?.runAsGroup !== undefined ? [`runAsGroup ${user.gid}`] : []),
        ...(user.groups.length > 0 ? [`supplementalGroups ${user.groups.join(",")}`] : []),
      ].join(", ");
      const because = this.host.isRoot ? "setpriv(1) is missing (Debian package util-linux)" : `Berth is not running as root (it runs as uid ${process.getuid?.() ?? "?"})`;
      warnings.push({ reason: "RunAsUserNotEnforced", message: `${what} is not enforced: the container runs as Berth's own user because ${because}` });
      user = undefined;
    }
    const id = newId();
    const { cgroup, warnings: limitWarnings } = await ContainerCgroup.create(this.host.cgroups, id, config.resources);
    warnings.push(...limitWarnings);
    const env: Record<string, string> = {};
    for (const { key, value } of config.envs ?? []) env[key] = value;
    env.PATH ??= DEFAULT_PATH;
    env.HOSTNAME ??= sandbox.config.hostname ?? sandbox.config.metadata.name;
    const record: ContainerRecord = {
      id,
      sandbox,
      config,
      state: "created",
      createdAt: new Date(),
      imageRef,
      logPath: resolve(sandbox.config.logDirectory, config.logPath),
      workingDir: config.workingDir || "/",
      env,
      ...(user ? { user } : {}),
      ...(cgroup ? { cgroup } : {}),
      execGroups: new Set(),
      output: new EventEmitter(),
      stdinClaimed: false,
      scratch: [],
    };
    this.containers.set(id, record);
    this.emit("created", record);
    return { containerId: id, warnings };
  }

  private container(id: string): ContainerRecord {
    const record = this.containers.get(id);
    if (!record) throw new RuntimeError("NotFound", `container ${id} not found`);
    return record;
  }

  private layerDirectory(record: ContainerRecord): string {
    return join(this.stateDirectory, "containers", record.id);
  }

  async startContainer(containerId: string): Promise<void> {
    const record = this.container(containerId);
    if (record.state !== "created") throw new RuntimeError("RunContainerError", `container ${containerId} is ${record.state}, not created`);
    let command = [...(record.config.command ?? []), ...(record.config.args ?? [])];
    if (record.config.tty && this.host.tools.script) command = onPseudoTerminal(this.host.tools, command, DEFAULT_TERMINAL_SIZE);
    const cgroupDirectories = record.cgroup?.directories ?? [];
    const log = await CriLogWriter.open(record.logPath);
    let plan: SpawnPlan;
    const launcher = this.launcherPath;
    if (this.isolation && record.sandbox.pausePid !== undefined && launcher) {
      // The launcher makes the layer's directories and tells files from directories itself. On disk, two
      // directories per container and no more: each inode allocated (and freed) costs ext4 real CPU in a burst.
      const layerDirectory = this.layerDirectory(record);
      const onDisk = { upper: `${layerDirectory}.upper`, work: `${layerDirectory}.work` };
      const layer = this.layerInMemory ? { tmpfsMountPoint: join(this.stateDirectory, "layer") } : onDisk;
      if (!this.layerInMemory) record.scratch.push(onDisk.upper, onDisk.work);
      plan = launcherContainerPlan(launcher, {
        cgroupDirectories,
        pausePid: record.sandbox.pausePid,
        rootMountPoint: join(this.stateDirectory, "rootfs"),
        layer,
        mounts: record.config.mounts ?? [],
        workingDir: record.workingDir,
        command,
        ...(record.user ? { user: record.user } : {}),
      });
    } else if (this.isolation && record.sandbox.pausePid !== undefined) {
      const layerDirectory = this.layerDirectory(record);
      const layerInMemory = this.layerInMemory;
      record.scratch.push(layerDirectory, `${layerDirectory}.fstab`);
      await Promise.all(layerInMemory ? [mkdir(layerDirectory, { recursive: true })] : ["upper", "work", "root"].map((d) => mkdir(join(layerDirectory, d), { recursive: true })));
      const mounts = await Promise.all(
        (record.config.mounts ?? []).map(async (mount) => ({ ...mount, directory: await stat(mount.hostPath).then((s) => s.isDirectory(), () => true) })),
      );
      const isolated = isolatedContainerPlan({
        tools: this.host.tools,
        cgroupDirectories,
        pausePid: record.sandbox.pausePid,
        layerDirectory,
        layerInMemory,
        fstabPath: `${layerDirectory}.fstab`,
        // Read again for every start: mounts made since the runtime started must show up too.
        hostSubmounts: listHostSubmounts(),
        mounts,
        workingDir: record.workingDir,
        command,
        ...(record.user ? { user: record.user } : {}),
      });
      await writeFile(`${layerDirectory}.fstab`, isolated.fstab);
      plan = isolated;
    } else {
      plan = plainContainerPlan({ tools: this.host.tools, cgroupDirectories, workingDir: record.workingDir, command, ...(record.user ? { user: record.user } : {}) });
    }
    const launched = await LaunchedProcess.launch(this.spawner, {
      plan,
      env: record.env,
      // A terminal stays open even without stdin, as with `docker run -t`: `cat` on it waits for input
      // forever, which is how the plugin's `command: 'cat', ttyEnabled: true` containers stay up.
      stdin: record.config.stdin === true || record.config.tty === true,
      behindNsenter: this.isolation && plan.pidNamespace === undefined,
      ...(record.cgroup ? { cgroup: record.cgroup } : {}),
      // The cgroup catches every process of the container, execs' leftovers included; without one, the
      // process groups of the execs are what the runtime knows of them.
      onExit: () => {
        for (const group of record.execGroups) signalGroup(group, "SIGKILL");
        record.execGroups.clear();
      },
    });
    if (record.state !== "created") {
      // Stopped or removed while it was being launched.
      launched.killAll();
      for (const stream of [log.stream("stdout"), log.stream("stderr")]) stream.end();
      throw new RuntimeError("RunContainerError", `container ${record.config.metadata.name} was stopped while it started`);
    }
    record.process = launched;
    record.state = "running";
    record.startedAt = new Date();
    launched.stdout.on("data", (chunk: Buffer) => record.output.emit("stdout", chunk));
    launched.stderr.on("data", (chunk: Buffer) => record.output.emit("stderr", chunk));
    const logStreams = [log.stream("stdout"), log.stream("stderr")] as const;
    launched.stdout.pipe(logStreams[0]);
    launched.stderr.pipe(logStreams[1]);

    const finished = launched.exited.then(async (exit) => {
      // pipe() ends the log only when output ends normally, not when it was cut off after the exit.
      for (const stream of logStreams) if (!stream.writableEnded) stream.end();
      await log.whenClosed();
      record.finishedAt = new Date();
      record.exitCode = exit.exitCode;
      if (exit.startError) {
        record.reason = "StartError";
        record.message = exit.startError;
      } else if (((await record.cgroup?.oomKillCount()) ?? 0) > 0) {
        record.reason = "OOMKilled";
      } else {
        record.reason = exit.exitCode === 0 ? "Completed" : "Error";
      }
      record.state = "exited";
      record.output.emit("exit", exit.exitCode);
      this.emit("stopped", record);
    });
    try {
      await launched.started;
    } catch (error) {
      await finished;
      throw new RuntimeError("RunContainerError", `failed to start container "${record.config.metadata.name}": ${(error as Error).message}`);
    }
    this.emit("started", record);
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    const record = this.container(containerId);
    const launched = record.process;
    if (record.state !== "running" || !launched) {
      if (record.state === "created") {
        record.state = "exited";
        record.finishedAt = new Date();
        record.exitCode = 0;
        record.reason = "Completed";
        this.emit("stopped", record);
      }
      return;
    }
    const exited = launched.exited.then(() => undefined);
    if (timeoutSeconds > 0) {
      launched.signalMain("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutSeconds * 1000)));
      const outcome = await Promise.race([exited, graceOver]);
      clearTimeout(timer);
      if (outcome !== "timeout") return this.whenExited(record);
    }
    launched.killAll();
    await this.whenExited(record);
  }

  /** Resolves after the exit has been recorded (state "exited"), not merely after the process died. */
  private whenExited(record: ContainerRecord): Promise<void> {
    if (record.state === "exited") return Promise.resolve();
    return new Promise((resolve) => record.output.once("exit", () => setImmediate(resolve)));
  }

  async removeContainer(containerId: string): Promise<void> {
    const record = this.containers.get(containerId);
    if (!record) return;
    await this.stopContainer(containerId, 0);
    if (record.cgroup) {
      // Killed processes leave their cgroup a moment after they die; rmdir fails until then.
      for (let attempt = 0; attempt < 100 && !(await record.cgroup.remove()); attempt++) {
        record.cgroup.killAll();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    // Asynchronous: a burst of deletions must not stall the event loop the whole cluster shares.
    await Promise.all(record.scratch.map((path) => rm(path, { recursive: true, force: true })));
    this.containers.delete(containerId);
    this.emit("deleted", record);
  }

  private status(record: ContainerRecord): ContainerStatus {
    const pid = record.state === "running" ? record.process?.mainPid() : undefined;
    return {
      id: record.id,
      podSandboxId: record.sandbox.id,
      metadata: record.config.metadata,
      state: record.state,
      createdAt: record.createdAt,
      ...(record.startedAt ? { startedAt: record.startedAt } : {}),
      ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
      ...(record.exitCode !== undefined ? { exitCode: record.exitCode } : {}),
      ...(record.reason ? { reason: record.reason } : {}),
      ...(record.message ? { message: record.message } : {}),
      ...(pid !== undefined ? { pid } : {}),
      image: record.config.image,
      imageRef: record.imageRef,
      logPath: record.logPath,
      mounts: record.config.mounts ?? [],
      labels: { ...record.config.labels },
      annotations: { ...record.config.annotations },
    };
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    return this.status(this.container(containerId));
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    return [...this.containers.values()]
      .filter(
        (c) =>
          (!filter.podSandboxId || c.sandbox.id === filter.podSandboxId) &&
          (!filter.state || c.state === filter.state) &&
          matchesLabels(c.config.labels, filter.labelSelector),
      )
      .map((c) => this.status(c));
  }

  // ------------------------------------------------------------------------------------------ exec and attach

  private async launchExec(containerId: string, options: ExecOptions): Promise<LaunchedProcess> {
    const record = this.container(containerId);
    const main = record.process?.mainPid();
    if (record.state !== "running" || main === undefined) {
      throw new RuntimeError("ContainerNotRunning", `container ${record.config.metadata.name} is not running`);
    }
    if (options.cmd.length === 0) throw new RuntimeError("InvalidExec", "exec needs a command");
    if (options.tty && !this.host.tools.script) {
      throw new RuntimeError("TtyNotSupported", "exec with a terminal needs script(1) (Debian package bsdutils)");
    }
    const cgroupDirectories = record.cgroup?.directories ?? [];
    const command = options.tty ? onPseudoTerminal(this.host.tools, options.cmd, options.size ?? DEFAULT_TERMINAL_SIZE) : options.cmd;
    const launcher = this.launcherPath;
    const plan =
      this.isolation && launcher
        ? launcherExecPlan(launcher, { cgroupDirectories, targetPid: main, command, ...(record.user ? { user: record.user } : {}) })
        : execPlan({
            tools: this.host.tools,
            cgroupDirectories,
            ...(this.isolation ? { isolatedTargetPid: main } : {}),
            workingDir: record.workingDir,
            ...(record.user ? { user: record.user } : {}),
            command,
          });
    // No cgroup handed over: killing an exec must not kill the container it runs in.
    const launched = await LaunchedProcess.launch(this.spawner, {
      plan,
      env: record.env,
      stdin: options.stdin === true,
      behindNsenter: this.isolation && plan.pidNamespace === undefined,
      leftoversSurvive: true,
      // May run before launch() returns (a quick command's exit can be reported with its start).
      onExit: (group) => {
        // An empty group is forgotten at once, so its number, once reused, is never signalled.
        if (group !== undefined && !groupExists(group)) record.execGroups.delete(group);
      },
    });
    const group = launched.pid;
    // With a cgroup the container's stop kills the leftovers anyway (the exec joined it).
    if (group !== undefined && !record.cgroup && groupExists(group)) record.execGroups.add(group);
    return launched;
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    return collectExec(await this.launchExec(containerId, { cmd }), timeoutSeconds);
  }

  async exec(containerId: string, options: ExecOptions): Promise<StreamingSession> {
    return execSession(await this.launchExec(containerId, options), options.tty === true, this.host.tools);
  }

  async attach(containerId: string, options: { stdin: boolean }): Promise<StreamingSession> {
    const record = this.container(containerId);
    if (record.state !== "running") throw new RuntimeError("ContainerNotRunning", `container ${record.config.metadata.name} is not running`);
    if (options.stdin && !record.config.stdin) {
      throw new RuntimeError("InvalidAttach", `container ${record.config.metadata.name} was not created with stdin`);
    }
    return attachSession({
      output: record.output,
      containerStdin: options.stdin ? (record.process?.stdin ?? null) : null,
      stdinOnce: record.config.stdinOnce === true,
      tty: record.config.tty === true && this.host.tools.script !== undefined,
      launcherPid: record.process?.pid,
      tools: this.host.tools,
    });
  }

  // ------------------------------------------------------------------------------------------ shutdown

  async close(): Promise<void> {
    await Promise.all([...this.sandboxes.keys()].map((id) => this.removePodSandbox(id)));
    await Promise.all([...this.containers.keys()].map((id) => this.removeContainer(id)));
    removeInstanceCgroups(this.host.cgroups);
    await this.spawner.close();
    if (this.ownsStateDirectory) rmSync(this.stateDirectory, { recursive: true, force: true });
  }
}
