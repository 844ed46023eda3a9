// One pod on one node, from binding to removal: volumes, sandbox, image pulls, init containers in order
// (native sidecars kept running), containers, restarts with back-off, probes, the active deadline,
// graceful deletion, and the status and events that report it. Every change goes through `sync()`,
// which runs serially per pod; status is written after each sync only when it changed.
import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiStatusError, paths, type ApiClient, type Obj } from "../client/api.ts";
import type { EventRecorder, InvolvedObject } from "../client/events.ts";
import { quantityValue } from "../client/quantity.ts";
import { RuntimeError, type ContainerConfig, type ContainerResources, type ContainerRuntime, type ContainerUser, type PodSandboxConfig } from "../runtime/cri.ts";
import { formatDuration, type Backoff } from "./backoff.ts";
import { ContainerConfigError, expandCommand, referencedObjects, resolveEnv } from "./env.ts";
import { parseChunk, renderEntries, tail } from "./logs.ts";
import { ProbeRunner } from "./probes.ts";
import { buildPodStatus, formatTime, podPhase, type ContainerView, type PodView, type TerminatedState } from "./status.ts";
import { containerMounts, prepareVolumes, teardownVolumes, VolumeError, type PreparedVolumes } from "./volumes.ts";

export interface KubeletContext {
  nodeName: string;
  client: ApiClient;
  runtime: ContainerRuntime;
  events: EventRecorder;
  /** <dataDir>/kubelet/<node>: pod directories live under pods/<uid>. */
  rootDir: string;
  claimsDir: string;
  hostIP: string;
  nodeAllocatable: Record<string, string>;
  serviceEnv: Record<string, string>;
  canMount: boolean;
  backoff: Backoff;
  /** The pod worker of each current container of this node, so a runtime event finds its pod without a scan. */
  containers: Map<string, PodWorker>;
}

interface ContainerRecord {
  spec: Obj;
  name: string;
  init: boolean;
  sidecar: boolean;
  view: ContainerView;
  containerId?: string;
  /** Whether the current instance ever ran (a failed create/pull leaves it false). */
  ran: boolean;
  finishedAtMs?: number;
  pullFailedAtMs?: number;
  startFailedAtMs?: number;
  probes: ProbeRunner[];
  /** Attempt numbers whose log files exist, for `previous`. */
  attempts: number[];
}

const PULL_POLICY_DEFAULT = (image: string): string => (/:latest$|^[^:]*$/.test(image.split("/").pop() ?? image) && !image.includes("@") ? "Always" : "IfNotPresent");

/** The end of a log as FallbackToLogsOnError wants it: at most the last 80 lines and 2,048 bytes. */
async function lastLogLines(path: string): Promise<string> {
  const { entries } = parseChunk(await readFile(path));
  let text = renderEntries(tail(entries, 80), false, { atLineStart: true }).toString("utf8");
  if (Buffer.byteLength(text) > 2048) text = Buffer.from(text).subarray(-2048).toString("utf8");
  return text;
}

function nowTime(): string {
  return formatTime(new Date());
}

function limitsOf(container: Obj): ContainerResources {
  const limits = (container.resources?.limits ?? {}) as Obj;
  const resources: ContainerResources = {};
  const cpu = quantityValue(limits.cpu);
  const memory = quantityValue(limits.memory);
  if (cpu !== undefined) resources.cpuLimitMillis = Math.ceil(cpu * 1000);
  if (memory !== undefined) resources.memoryLimitBytes = Math.ceil(memory);
  return resources;
}

const isId = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 0;

/**
 * The CRI user of a container: runAsUser and runAsGroup from the container's securityContext, else the
 * pod's; supplementalGroups of the pod plus its fsGroup (Kubernetes adds fsGroup to every container).
 */
export function containerUser(pod: Obj, container: Obj): ContainerUser | undefined {
  const podContext = (pod.spec?.securityContext ?? {}) as Obj;
  const own = (container.securityContext ?? {}) as Obj;
  const runAsUser = isId(own.runAsUser) ? own.runAsUser : isId(podContext.runAsUser) ? podContext.runAsUser : undefined;
  const runAsGroup = isId(own.runAsGroup) ? own.runAsGroup : isId(podContext.runAsGroup) ? podContext.runAsGroup : undefined;
  const groups = [...((podContext.supplementalGroups ?? []) as unknown[]), podContext.fsGroup].filter(isId);
  if (runAsUser === undefined && runAsGroup === undefined && groups.length === 0) return undefined;
  return {
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup } : {}),
    ...(groups.length > 0 ? { supplementalGroups: [...new Set(groups)] } : {}),
  };
}

export class PodWorker {
  pod: Obj;
  readonly uid: string;
  readonly podDir: string;
  /** Emits "exited:<container>" when an instance ends (log followers stop there) and "finished". */
  readonly signals = new EventEmitter();
  private readonly ctx: KubeletContext;
  private readonly records: ContainerRecord[] = [];
  private sandboxId: string | undefined;
  private sandboxConfig: PodSandboxConfig | undefined;
  private volumes: PreparedVolumes | undefined;
  private mountFailures = 0;
  private podIP: string | undefined;
  private startTime: string | undefined;
  private startedAtMs = 0;
  private terminal: PodView["terminal"];
  private terminating = false;
  private finished = false;
  private goneFromApi = false;
  private syncRunning = false;
  private syncAgain = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = 0;
  private lastStatus = "";
  private publishing: Promise<void> | undefined;
  private publishAgain = false;

  constructor(ctx: KubeletContext, pod: Obj) {
    this.ctx = ctx;
    this.pod = pod;
    this.uid = String(pod.metadata.uid);
    this.podDir = join(ctx.rootDir, "pods", this.uid);
    this.signals.setMaxListeners(0);
    const spec = pod.spec as Obj;
    const hasInit = ((spec.initContainers ?? []) as Obj[]).length > 0;
    for (const c of (spec.initContainers ?? []) as Obj[]) this.records.push(this.newRecord(c, true, "PodInitializing"));
    for (const c of (spec.containers ?? []) as Obj[]) this.records.push(this.newRecord(c, false, hasInit ? "PodInitializing" : "ContainerCreating"));
  }

  private newRecord(spec: Obj, init: boolean, waitingReason: string): ContainerRecord {
    const sidecar = init && spec.restartPolicy === "Always";
    return {
      spec,
      name: String(spec.name),
      init,
      sidecar,
      view: { name: String(spec.name), image: String(spec.image ?? ""), imageID: "", state: { waiting: { reason: waitingReason } }, restartCount: 0, ready: false, started: false, sidecar },
      ran: false,
      probes: [],
      attempts: [],
    };
  }

  get namespace(): string {
    return String(this.pod.metadata.namespace);
  }
  get name(): string {
    return String(this.pod.metadata.name);
  }
  get logDirectory(): string {
    return join(this.podDir, "logs");
  }
  get isFinished(): boolean {
    return this.finished;
  }

  // ---------------------------------------------------------------------------- for logs and exec

  container(name: string): { running: boolean; containerId?: string; restartCount: number; waitingReason?: string; attempts: number[]; ran: boolean } | undefined {
    const rec = this.records.find((r) => r.name === name);
    if (!rec) return undefined;
    const state = rec.view.state;
    return {
      running: "running" in state,
      ...(rec.containerId ? { containerId: rec.containerId } : {}),
      restartCount: rec.view.restartCount,
      ...("waiting" in state ? { waitingReason: state.waiting.reason } : {}),
      attempts: rec.attempts,
      ran: rec.ran,
    };
  }

  logPath(name: string, attempt: number): string {
    return join(this.logDirectory, name, `${attempt}.log`);
  }

  // ---------------------------------------------------------------------------- inputs

  update(pod: Obj): void {
    this.pod = pod;
    // A container image is the one mutable part of a container: a new one replaces the running instance.
    for (const rec of this.records) {
      const list = ((rec.init ? pod.spec?.initContainers : pod.spec?.containers) ?? []) as Obj[];
      const spec = list.find((c) => c.name === rec.name);
      if (!spec || spec.image === rec.spec.image) continue;
      rec.spec = spec;
      rec.view.image = String(spec.image ?? "");
      if (rec.containerId && "running" in rec.view.state && !this.terminating) {
        this.event(rec, "Normal", "Killing", `Container ${rec.name} definition changed, will be restarted`);
        void this.ctx.runtime.stopContainer(rec.containerId, Number(pod.spec?.terminationGracePeriodSeconds ?? 30)).catch(() => undefined);
      }
    }
    this.requestSync();
  }

  /** The pod object is gone from the API (force deletion): stop everything now. */
  removed(): void {
    this.goneFromApi = true;
    this.requestSync();
  }

  /** Whether a runtime container belongs to this pod (cheap; checked before any async work). */
  owns(containerId: string): boolean {
    return this.records.some((r) => r.containerId === containerId);
  }

  /** A runtime "stopped" event for one of this pod's containers. */
  async containerStopped(containerId: string): Promise<void> {
    const rec = this.records.find((r) => r.containerId === containerId);
    if (!rec) return;
    let status;
    try {
      status = await this.ctx.runtime.containerStatus(containerId);
    } catch {
      return;
    }
    if (rec.containerId !== containerId) return;
    this.stopProbes(rec);
    rec.finishedAtMs = status.finishedAt?.getTime() ?? Date.now();
    const terminated: TerminatedState = {
      exitCode: status.exitCode ?? 0,
      reason: status.reason ?? ((status.exitCode ?? 0) === 0 ? "Completed" : "Error"),
      ...(status.message ? { message: status.message } : {}),
      ...(status.startedAt ? { startedAt: formatTime(status.startedAt) } : {}),
      finishedAt: formatTime(status.finishedAt ?? new Date()),
      containerID: `berth://${containerId}`,
    };
    if ((status.exitCode ?? 0) > 128 && (status.exitCode ?? 0) < 160) terminated.signal = (status.exitCode as number) - 128;
    if (!terminated.message && terminated.exitCode !== 0 && rec.spec.terminationMessagePolicy === "FallbackToLogsOnError") {
      const message = await lastLogLines(status.logPath).catch(() => "");
      if (message) terminated.message = message;
    }
    if (rec.containerId !== containerId) return;
    rec.view.state = { terminated };
    rec.view.ready = false;
    rec.view.started = false;
    this.signals.emit(`exited:${rec.name}`);
    this.requestSync();
  }

  // ---------------------------------------------------------------------------- helpers

  private involved(rec?: ContainerRecord): InvolvedObject {
    const kind = rec ? (rec.init ? "initContainers" : "containers") : "";
    return {
      kind: "Pod",
      namespace: this.namespace,
      name: this.name,
      uid: this.uid,
      apiVersion: "v1",
      resourceVersion: String(this.pod.metadata.resourceVersion ?? ""),
      ...(rec ? { fieldPath: `spec.${kind}{${rec.name}}` } : {}),
    };
  }

  private event(rec: ContainerRecord | undefined, type: "Normal" | "Warning", reason: string, message: string): void {
    this.ctx.events.emit(this.involved(rec), type, reason, message);
  }

  /**
   * Asks for a sync after `ms`. One timer per pod: the earliest wake-up wins, and every sync re-arms what
   * it still waits for (back-off, deadline), so repeated requests never pile up timers.
   */
  private later(ms: number): void {
    if (this.finished) return;
    const due = Date.now() + Math.max(ms, 1);
    if (this.wakeTimer && this.wakeAt <= due) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = due;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.requestSync();
    }, Math.max(ms, 1));
    this.wakeTimer.unref();
  }

  private podRef(): string {
    return `${this.name}_${this.namespace}(${this.uid})`;
  }

  private view(): PodView {
    return {
      sandboxReady: this.sandboxId !== undefined && !this.terminal && !this.terminating,
      ...(this.podIP ? { podIP: this.podIP } : {}),
      hostIP: this.ctx.hostIP,
      ...(this.startTime ? { startTime: this.startTime } : {}),
      initContainers: this.records.filter((r) => r.init).map((r) => r.view),
      containers: this.records.filter((r) => !r.init).map((r) => r.view),
      ...(this.terminal ? { terminal: this.terminal } : {}),
    };
  }

  // ---------------------------------------------------------------------------- the sync loop

  requestSync(): void {
    if (this.finished) return;
    if (this.syncRunning) {
      this.syncAgain = true;
      return;
    }
    this.syncRunning = true;
    void (async () => {
      try {
        do {
          this.syncAgain = false;
          try {
            await this.sync();
          } catch (error) {
            console.error(`berth kubelet ${this.ctx.nodeName}: sync of ${this.namespace}/${this.name} failed`, error);
          }
          if (!this.finished) this.publish();
        } while (this.syncAgain && !this.finished);
      } finally {
        this.syncRunning = false;
      }
    })();
  }

  private async sync(): Promise<void> {
    if (this.finished) return;
    const pod = this.pod;
    if (pod.metadata.deletionTimestamp || this.goneFromApi) {
      await this.terminate();
      return;
    }
    if (this.terminal) return;
    if (!this.startTime) {
      this.startTime = nowTime();
      this.startedAtMs = Date.now();
    }
    const deadline = Number(pod.spec?.activeDeadlineSeconds ?? 0);
    if (deadline > 0) {
      const left = this.startedAtMs + deadline * 1000 - Date.now();
      if (left <= 0) {
        await this.endPod("Failed", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline");
        return;
      }
      this.later(left + 5);
    }
    if (!this.sandboxId && !(await this.ensureSandbox())) return;
    if (!(await this.syncInitContainers())) {
      if (podPhase(pod.spec as Obj, this.view()) === "Failed") await this.endPod("Failed");
      return;
    }
    for (const rec of this.records) {
      if (this.terminating || this.terminal) return;
      if (rec.init) {
        if (rec.sidecar) await this.keepRunning(rec, true);
        continue;
      }
      await this.keepRunning(rec, this.shouldRestart(rec));
    }
    const phase = podPhase(pod.spec as Obj, this.view());
    if (phase === "Succeeded" || phase === "Failed") await this.endPod(phase);
  }

  private shouldRestart(rec: ContainerRecord): boolean {
    const state = rec.view.state;
    const policy = String(this.pod.spec?.restartPolicy ?? "Always");
    if (!("terminated" in state)) return true;
    if (policy === "Always") return true;
    if (policy === "OnFailure") return state.terminated.exitCode !== 0;
    return false;
  }

  /** Regular init containers one after another, sidecars started in their place; true once all are done. */
  private async syncInitContainers(): Promise<boolean> {
    const policy = String(this.pod.spec?.restartPolicy ?? "Always");
    for (const rec of this.records) {
      if (!rec.init) continue;
      if (rec.sidecar) {
        await this.keepRunning(rec, true);
        if (!rec.view.started) return false;
        continue;
      }
      const state = rec.view.state;
      if ("terminated" in state && state.terminated.exitCode === 0) continue;
      if ("terminated" in state && policy === "Never") return false;
      await this.keepRunning(rec, true);
      return false;
    }
    return true;
  }

  /** Starts a container that is not running (first start, retry after a failure, or restart with back-off). */
  private async keepRunning(rec: ContainerRecord, restartAllowed: boolean): Promise<void> {
    const state = rec.view.state;
    if ("running" in state) return;
    if ("terminated" in state) {
      if (!restartAllowed) return;
      const key = `${this.uid}/${rec.name}`;
      const wait = this.ctx.backoff.remaining(key, rec.finishedAtMs ?? 0, Date.now());
      if (wait > 0) {
        const delay = formatDuration(this.ctx.backoff.delay(key));
        rec.view.lastState = state.terminated;
        rec.view.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${delay} restarting failed container=${rec.name} pod=${this.podRef()}` } };
        this.event(rec, "Warning", "BackOff", `Back-off restarting failed container ${rec.name} in pod ${this.podRef()}`);
        this.later(wait);
        return;
      }
      this.ctx.backoff.next(key, Date.now());
      rec.view.lastState = state.terminated;
      await this.startContainer(rec);
      return;
    }
    // Waiting: either never started, or in CrashLoopBackOff / a failed pull or create.
    if (state.waiting.reason === "CrashLoopBackOff") {
      const key = `${this.uid}/${rec.name}`;
      const wait = this.ctx.backoff.remaining(key, rec.finishedAtMs ?? 0, Date.now());
      if (wait > 0) {
        this.later(wait);
        return;
      }
      this.ctx.backoff.next(key, Date.now());
      await this.startContainer(rec);
      return;
    }
    if (rec.startFailedAtMs !== undefined) {
      const wait = this.ctx.backoff.remaining(`${this.uid}/${rec.name}/start`, rec.startFailedAtMs, Date.now());
      if (wait > 0) {
        this.later(wait);
        return;
      }
    }
    await this.startContainer(rec);
  }

  // ---------------------------------------------------------------------------- sandbox

  private async ensureSandbox(): Promise<boolean> {
    const pod = this.pod;
    try {
      this.volumes = await prepareVolumes(
        { client: this.ctx.client, podDir: this.podDir, claimsDir: this.ctx.claimsDir, nodeAllocatable: this.ctx.nodeAllocatable, canMount: this.ctx.canMount },
        pod,
        this.volumes,
      );
    } catch (error) {
      const message = error instanceof VolumeError ? error.message : `MountVolume.SetUp failed: ${(error as Error).message}`;
      this.event(undefined, "Warning", "FailedMount", message);
      // The kubelet's volume manager retries with exponential back-off (here 1 s doubling to 1 min).
      this.later(Math.min(1000 * 2 ** this.mountFailures++, 60_000));
      return false;
    }
    for (const warning of this.volumes.warnings.splice(0)) this.event(undefined, "Warning", "VolumeNotSupported", warning);
    const config: PodSandboxConfig = {
      metadata: { name: this.name, namespace: this.namespace, uid: this.uid, attempt: 0 },
      hostname: String(pod.spec?.hostname ?? this.name),
      logDirectory: this.logDirectory,
      labels: { ...((pod.metadata.labels ?? {}) as Record<string, string>), "io.kubernetes.pod.name": this.name, "io.kubernetes.pod.namespace": this.namespace, "io.kubernetes.pod.uid": this.uid, "berth.dev/node": this.ctx.nodeName },
      annotations: { ...((pod.metadata.annotations ?? {}) as Record<string, string>) },
    };
    try {
      const result = await this.ctx.runtime.runPodSandbox(config);
      if (this.terminating || this.finished || this.goneFromApi) {
        await this.ctx.runtime.removePodSandbox(result.podSandboxId);
        return false;
      }
      this.sandboxId = result.podSandboxId;
      this.sandboxConfig = config;
      for (const warning of result.warnings) this.event(undefined, "Warning", warning.reason, warning.message);
      const status = await this.ctx.runtime.podSandboxStatus(result.podSandboxId);
      this.podIP = status.network.ip || this.ctx.hostIP;
      return true;
    } catch (error) {
      this.event(undefined, "Warning", "FailedCreatePodSandBox", `Failed to create pod sandbox: ${(error as Error).message}`);
      this.later(5000);
      return false;
    }
  }

  // ---------------------------------------------------------------------------- one container start

  private async pullImage(rec: ContainerRecord): Promise<boolean> {
    const image = String(rec.spec.image ?? "");
    const policy = String(rec.spec.imagePullPolicy ?? PULL_POLICY_DEFAULT(image));
    const key = `${this.uid}/${rec.name}/pull`;
    const runtime = this.ctx.runtime;
    try {
      if (policy !== "Always") {
        const present = await runtime.imageStatus({ image });
        if (present) {
          rec.view.imageID = present.repoDigests[0] ?? present.id;
          this.event(rec, "Normal", "Pulled", `Container image "${image}" already present on machine`);
          return true;
        }
        if (policy === "Never") {
          rec.view.state = { waiting: { reason: "ErrImageNeverPull", message: `Container image "${image}" is not present with pull policy of Never` } };
          this.event(rec, "Warning", "ErrImageNeverPull", `Container image "${image}" is not present with pull policy of Never`);
          this.event(rec, "Warning", "Failed", "Error: ErrImageNeverPull");
          return false;
        }
      }
    } catch (error) {
      const reason = error instanceof RuntimeError ? error.reason : "InvalidImageName";
      rec.view.state = { waiting: { reason, message: (error as Error).message } };
      this.event(rec, "Warning", reason, (error as Error).message);
      this.event(rec, "Warning", "Failed", `Error: ${reason}`);
      return false;
    }
    if (rec.pullFailedAtMs !== undefined) {
      const wait = this.ctx.backoff.remaining(key, rec.pullFailedAtMs, Date.now());
      if (wait > 0) {
        const previous = "waiting" in rec.view.state ? rec.view.state.waiting.message : undefined;
        rec.view.state = { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}": ${previous?.startsWith("Back-off") ? previous.replace(/^Back-off pulling image "[^"]*": /, "") : `ErrImagePull: ${previous ?? ""}`}` } };
        this.event(rec, "Normal", "BackOff", `Back-off pulling image "${image}"`);
        this.event(rec, "Warning", "Failed", "Error: ImagePullBackOff");
        this.later(wait);
        return false;
      }
    }
    this.event(rec, "Normal", "Pulling", `Pulling image "${image}"`);
    const started = Date.now();
    try {
      const ref = await runtime.pullImage({ image });
      const took = `${Date.now() - started}ms`;
      rec.pullFailedAtMs = undefined;
      rec.view.imageID = ref;
      const size = (await runtime.imageStatus({ image }).catch(() => null))?.size ?? 0;
      this.event(rec, "Normal", "Pulled", `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${size} bytes.`);
      return true;
    } catch (error) {
      const reason = error instanceof RuntimeError && error.reason !== "ErrImagePull" ? error.reason : "ErrImagePull";
      const message = (error as Error).message;
      if (reason === "InvalidImageName") {
        rec.view.state = { waiting: { reason, message: `Failed to apply default image tag "${image}": ${message}` } };
        this.event(rec, "Warning", "InspectFailed", `Failed to apply default image tag "${image}": ${message}`);
        this.event(rec, "Warning", "Failed", `Error: ${reason}`);
        return false;
      }
      this.ctx.backoff.next(key, Date.now());
      rec.pullFailedAtMs = Date.now();
      rec.view.state = { waiting: { reason: "ErrImagePull", message } };
      this.event(rec, "Warning", "Failed", `Failed to pull image "${image}": ${message}`);
      this.event(rec, "Warning", "Failed", "Error: ErrImagePull");
      this.later(1);
      return false;
    }
  }

  private failStart(rec: ContainerRecord, reason: string, message: string): void {
    rec.view.state = { waiting: { reason, message } };
    rec.startFailedAtMs = Date.now();
    this.ctx.backoff.next(`${this.uid}/${rec.name}/start`, Date.now());
    this.event(rec, "Warning", "Failed", `Error: ${message}`);
    this.later(this.ctx.backoff.delay(`${this.uid}/${rec.name}/start`));
  }

  private async startContainer(rec: ContainerRecord): Promise<void> {
    if (!this.sandboxId || !this.sandboxConfig) return;
    const runtime = this.ctx.runtime;
    if (!(await this.pullImage(rec))) return;
    // Environment (ConfigMaps and Secrets are read fresh for every start, as the kubelet does).
    let env: { name: string; value: string }[];
    try {
      const refs = referencedObjects(rec.spec);
      const configMaps = new Map<string, Obj | undefined>();
      const secrets = new Map<string, Obj | undefined>();
      const read = async (plural: string, name: string, into: Map<string, Obj | undefined>): Promise<void> => {
        try {
          into.set(name, await this.ctx.client.get(paths.named(this.namespace, plural, name)));
        } catch (error) {
          if (error instanceof ApiStatusError && error.code === 404) into.set(name, undefined);
          else throw error;
        }
      };
      await Promise.all([...[...refs.configMaps].map((n) => read("configmaps", n, configMaps)), ...[...refs.secrets].map((n) => read("secrets", n, secrets))]);
      env = resolveEnv(this.pod, rec.spec, { configMaps, secrets, nodeAllocatable: this.ctx.nodeAllocatable, serviceEnv: this.ctx.serviceEnv });
    } catch (error) {
      if (error instanceof ContainerConfigError) this.failStart(rec, "CreateContainerConfigError", error.message);
      else this.failStart(rec, "CreateContainerConfigError", `failed to read the container's environment: ${(error as Error).message}`);
      return;
    }
    const { command, args } = expandCommand(rec.spec, env);
    // The previous instance is removed (its log file stays for --previous) before the next one is created.
    if (rec.containerId) {
      await runtime.removeContainer(rec.containerId).catch(() => undefined);
      this.ctx.containers.delete(rec.containerId);
      rec.containerId = undefined;
    }
    const attempt = rec.ran ? rec.view.restartCount + 1 : rec.view.restartCount;
    const user = containerUser(this.pod, rec.spec);
    const config: ContainerConfig = {
      metadata: { name: rec.name, attempt },
      image: { image: String(rec.spec.image ?? "") },
      ...(command ? { command } : {}),
      ...(args ? { args } : {}),
      ...(rec.spec.workingDir ? { workingDir: String(rec.spec.workingDir) } : {}),
      envs: env.map((e) => ({ key: e.name, value: e.value })),
      mounts: this.volumes ? containerMounts(rec.spec, this.volumes) : [],
      resources: limitsOf(rec.spec),
      ...(user ? { securityContext: user } : {}),
      logPath: join(rec.name, `${attempt}.log`),
      stdin: rec.spec.stdin === true,
      stdinOnce: rec.spec.stdinOnce === true,
      tty: rec.spec.tty === true,
      labels: { "io.kubernetes.container.name": rec.name, "io.kubernetes.pod.uid": this.uid },
    };
    let containerId: string;
    try {
      const created = await runtime.createContainer(this.sandboxId, config, this.sandboxConfig);
      containerId = created.containerId;
      for (const warning of created.warnings) this.event(rec, "Warning", warning.reason, warning.message);
    } catch (error) {
      const reason = error instanceof RuntimeError ? error.reason : "CreateContainerError";
      this.failStart(rec, reason === "NotFound" ? "CreateContainerError" : reason, (error as Error).message);
      return;
    }
    rec.containerId = containerId;
    this.ctx.containers.set(containerId, this);
    if (rec.ran) rec.view.restartCount++;
    rec.ran = true;
    rec.attempts.push(attempt);
    rec.startFailedAtMs = undefined;
    rec.view.containerID = `berth://${containerId}`;
    this.event(rec, "Normal", "Created", `Created container: ${rec.name}`);
    try {
      await runtime.startContainer(containerId);
    } catch (error) {
      // The runtime reports the exit too; the container is then terminated with StartError and restarts per policy.
      this.event(rec, "Warning", "Failed", `Error: ${(error as Error).message}`);
      return;
    }
    const status = await runtime.containerStatus(containerId).catch(() => undefined);
    if (status && status.state !== "running") return; // already exited; the stopped event handles it
    rec.view.state = { running: { startedAt: formatTime(status?.startedAt ?? new Date()) } };
    this.event(rec, "Normal", "Started", `Started container ${rec.name}`);
    this.startProbes(rec, containerId);
  }

  // ---------------------------------------------------------------------------- probes

  private startProbes(rec: ContainerRecord, containerId: string): void {
    const target = { runtime: this.ctx.runtime, containerId, podIP: this.podIP ?? this.ctx.hostIP, container: rec.spec };
    const startup = rec.spec.startupProbe as Obj | undefined;
    const liveness = rec.spec.livenessProbe as Obj | undefined;
    const readiness = rec.spec.readinessProbe as Obj | undefined;
    const current = (): boolean => rec.containerId === containerId && "running" in rec.view.state;
    const kill = (why: string): void => {
      if (!current()) return;
      this.event(rec, "Normal", "Killing", `Container ${rec.name} failed ${why} probe, will be restarted`);
      const grace = Number(this.pod.spec?.terminationGracePeriodSeconds ?? 30);
      void this.ctx.runtime.stopContainer(containerId, grace).catch(() => undefined);
    };
    const afterStartup = (): void => {
      rec.view.started = true;
      if (liveness) {
        const runner = new ProbeRunner(liveness, target, (ok) => ok || kill("liveness"), (output) => current() && this.event(rec, "Warning", "Unhealthy", `Liveness probe failed: ${output}`));
        rec.probes.push(runner);
        runner.start();
      }
      if (readiness) {
        const runner = new ProbeRunner(
          readiness,
          target,
          (ok) => {
            if (!current()) return;
            rec.view.ready = ok;
            this.requestSync();
          },
          (output) => current() && this.event(rec, "Warning", "Unhealthy", `Readiness probe failed: ${output}`),
        );
        rec.probes.push(runner);
        runner.start();
      } else if (!rec.init || rec.sidecar) rec.view.ready = true;
      this.requestSync();
    };
    if (startup) {
      const runner = new ProbeRunner(
        startup,
        target,
        (ok) => {
          if (!current()) return;
          runner.stop();
          if (ok) afterStartup();
          else kill("startup");
        },
        (output) => current() && this.event(rec, "Warning", "Unhealthy", `Startup probe failed: ${output}`),
      );
      rec.probes.push(runner);
      runner.start();
    } else afterStartup();
  }

  private stopProbes(rec: ContainerRecord): void {
    for (const probe of rec.probes.splice(0)) probe.stop();
  }

  // ---------------------------------------------------------------------------- ending

  /** Stops running containers (sidecars last) with the grace period and records their final states. */
  private async stopAll(graceSeconds: number): Promise<void> {
    const stopGroup = async (group: ContainerRecord[]): Promise<void> => {
      await Promise.all(
        group.map(async (rec) => {
          this.stopProbes(rec);
          if (!rec.containerId || !("running" in rec.view.state)) return;
          this.event(rec, "Normal", "Killing", `Stopping container ${rec.name}`);
          await this.ctx.runtime.stopContainer(rec.containerId, graceSeconds).catch(() => undefined);
          await this.containerStopped(rec.containerId);
        }),
      );
    };
    await stopGroup(this.records.filter((r) => !r.sidecar));
    await stopGroup(this.records.filter((r) => r.sidecar).reverse());
  }

  /** The pod reached a terminal phase (completion, init failure, deadline): stop it, keep logs and status. */
  private async endPod(phase: "Succeeded" | "Failed", reason?: string, message?: string): Promise<void> {
    if (this.terminal) return;
    if (reason) this.event(undefined, "Normal", reason, message ?? reason);
    await this.stopAll(Number(this.pod.spec?.terminationGracePeriodSeconds ?? 30));
    this.terminal = { phase, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
    if (this.sandboxId) await this.ctx.runtime.stopPodSandbox(this.sandboxId).catch(() => undefined);
  }

  /** Graceful deletion: kill with the grace period, tear down, report, then remove the pod object. */
  private async terminate(): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    const meta = this.pod.metadata as Obj;
    const grace = this.goneFromApi ? 1 : Number(meta.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30);
    await this.stopAll(grace);
    // Containers that never ran end as terminated too, so the final status has no waiting containers.
    for (const rec of this.records) {
      if (!("waiting" in rec.view.state)) continue;
      if (rec.view.lastState) rec.view.state = { terminated: rec.view.lastState };
      else rec.view.state = { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated", finishedAt: nowTime() } };
    }
    if (this.sandboxId) await this.ctx.runtime.removePodSandbox(this.sandboxId).catch(() => undefined);
    if (!this.terminal) {
      const allZero = this.records.filter((r) => !r.init).every((r) => "terminated" in r.view.state && r.view.state.terminated.exitCode === 0);
      this.terminal = { phase: allZero ? "Succeeded" : "Failed" };
    }
    if (!this.goneFromApi) {
      this.publish();
      await this.publishing;
      try {
        await this.ctx.client.delete(paths.pod(this.namespace, this.name), { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: this.uid } }, { discardResponse: true });
      } catch {
        // Already gone, or replaced by a new pod of the same name: nothing left to do.
      }
    }
    await this.finish();
  }

  private forgetContainers(): void {
    for (const rec of this.records) if (rec.containerId && this.ctx.containers.get(rec.containerId) === this) this.ctx.containers.delete(rec.containerId);
  }

  private async finish(): Promise<void> {
    this.finished = true;
    this.forgetContainers();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const rec of this.records) this.stopProbes(rec);
    this.ctx.backoff.forget(`${this.uid}/`);
    this.ctx.events.forget(this.uid);
    await teardownVolumes(this.podDir, this.volumes).catch(() => undefined);
    this.signals.emit("finished");
  }

  /** Called when the kubelet shuts down: containers die with the runtime, nothing is written. */
  shutdown(): void {
    this.finished = true;
    this.forgetContainers();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const rec of this.records) this.stopProbes(rec);
  }

  // ---------------------------------------------------------------------------- status

  /** Writes the status if it differs from the last one written; one write in flight per pod. */
  private publish(): void {
    if (this.goneFromApi) return;
    if (this.publishing) {
      this.publishAgain = true;
      return;
    }
    const status = buildPodStatus(this.pod, this.view(), new Date());
    const json = JSON.stringify(status);
    if (json === this.lastStatus) return;
    this.publishing = (async () => {
      try {
        await this.ctx.client.mergePatch(`${paths.pod(this.namespace, this.name)}/status`, { status }, { discardResponse: true });
        this.lastStatus = json;
      } catch (error) {
        if (error instanceof ApiStatusError && error.code === 404) this.goneFromApi = true;
      } finally {
        this.publishing = undefined;
        if (this.publishAgain) {
          this.publishAgain = false;
          this.publish();
        }
      }
    })();
  }
}
