// The container runtime interface the kubelet programs against, modelled on Kubernetes' CRI
// (RuntimeService + ImageService) but as plain TypeScript calls instead of gRPC.
//
// The kubelet decides *what* should run (pod specs, restart policy, probes, volumes, resolved env);
// a runtime decides *how* it runs (host processes today, runc + real images + CNI later). Everything the
// kubelet needs crosses this boundary as data, so a second runtime can be dropped in without the kubelet
// learning anything about it. Nothing here may depend on a particular runtime.

import type { Readable, Writable } from "node:stream";

// ---------------------------------------------------------------------------------------------------------
// Identity and configuration

/** Who a sandbox is for; mirrors PodSandboxMetadata. `attempt` grows when the kubelet recreates a sandbox. */
export interface PodSandboxMetadata {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  /** Hostname the pod's containers see (where the runtime can give them their own UTS namespace). */
  hostname?: string;
  /**
   * Absolute directory for this pod's container logs, owned by the kubelet
   * (Kubernetes uses /var/log/pods/<namespace>_<name>_<uid>). Container log paths are relative to it.
   */
  logDirectory: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Pod-level resource limits (sum of containers); runtimes may use them for a pod cgroup. */
  resources?: ContainerResources;
}

export interface ContainerMetadata {
  name: string;
  /** Restart count of this container in its pod: 0 for the first run, 1 after the first restart, ... */
  attempt: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

/**
 * A volume the kubelet has already prepared on the host (emptyDir, configMap, secret, hostPath, PVC,
 * downward API, ...). The runtime only has to make `hostPath` appear at `containerPath`.
 */
export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
}

/** Limits as the kubelet computed them from the container's resources.limits. */
export interface ContainerResources {
  /** CPU limit in millicores (limits.cpu "500m" -> 500). Enforced as a CFS quota. */
  cpuLimitMillis?: number;
  /** Memory limit in bytes (limits.memory). */
  memoryLimitBytes?: number;
}

/**
 * The user a container's processes (and every exec in it) run as: CRI's LinuxContainerSecurityContext
 * run_as_user / run_as_group / supplemental_groups. The kubelet merges pod and container level (the
 * container wins) and adds the pod's fsGroup to the supplemental groups, as Kubernetes does.
 */
export interface ContainerUser {
  runAsUser?: number;
  /** Primary group; default: the user's group in /etc/passwd, else 0. */
  runAsGroup?: number;
  supplementalGroups?: number[];
}

export interface ImageSpec {
  /** The reference as written in the pod spec, e.g. "nginx", "jenkins/inbound-agent:3283.v9", "x@sha256:…". */
  image: string;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  /** Overrides the image's entrypoint (pod spec `command`). */
  command?: string[];
  /** Overrides the image's cmd (pod spec `args`). */
  args?: string[];
  workingDir?: string;
  /** Fully resolved environment (valueFrom, $(VAR) expansion and service links are the kubelet's job). */
  envs?: KeyValue[];
  mounts?: Mount[];
  resources?: ContainerResources;
  /** Who runs the command; absent: the runtime's default user (root for the process runtime as root). */
  securityContext?: ContainerUser;
  /** Log file relative to the sandbox's logDirectory; Kubernetes uses "<container name>/<attempt>.log". */
  logPath: string;
  /** Keep a stdin stream open for attach (pod spec `stdin`). */
  stdin?: boolean;
  /** Close stdin after the first attach detaches (pod spec `stdinOnce`). */
  stdinOnce?: boolean;
  /** Run the main process on a pseudo-terminal (pod spec `tty`). */
  tty?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// Results and status

/**
 * Something the runtime could not honour but worked around. The kubelet turns each into a Warning event on
 * the pod, e.g. reason "LimitNotEnforced" when memory limits cannot be applied on this host.
 */
export interface RuntimeWarning {
  reason: "LimitNotEnforced" | "IsolationUnavailable" | string;
  message: string;
}

export interface RunPodSandboxResult {
  podSandboxId: string;
  warnings: RuntimeWarning[];
}

export interface CreateContainerResult {
  containerId: string;
  warnings: RuntimeWarning[];
}

export type PodSandboxState = "ready" | "notready";

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: Date;
  /** The pod's IP; the process runtime shares the host network, so this is the host's address. */
  network: { ip: string; additionalIps: string[] };
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export type ContainerState = "created" | "running" | "exited" | "unknown";

export interface ContainerStatus {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /** Set once exited: the exit status, or 128 + signal number when killed by a signal. */
  exitCode?: number;
  /** Set once exited: "Completed" (exit 0), "Error", "OOMKilled", or a runtime failure reason. */
  reason?: string;
  message?: string;
  /** Host process id of the container's main process while it runs. */
  pid?: number;
  image: ImageSpec;
  imageRef: string;
  /** Absolute path of this attempt's log file. */
  logPath: string;
  mounts: Mount[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerFilter {
  podSandboxId?: string;
  state?: ContainerState;
  labelSelector?: Record<string, string>;
}

export interface PodSandboxFilter {
  state?: PodSandboxState;
  labelSelector?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// Exec and attach

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  /** True when the command was killed because it ran past its timeout (probes report that as failure). */
  timedOut: boolean;
}

export interface ExecOptions {
  cmd: string[];
  /** Open a stdin stream for the caller. */
  stdin?: boolean;
  /** Run on a pseudo-terminal: stdout carries the terminal output, there is no separate stderr. */
  tty?: boolean;
  /** Initial terminal size when tty is set. */
  size?: TerminalSize;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** A running exec (or attach) session with its streams; the API server layer maps them onto channels. */
export interface StreamingSession {
  stdin: Writable | null;
  stdout: Readable;
  /** Null for tty sessions (the terminal merges both). */
  stderr: Readable | null;
  /** Changes the terminal size (kubectl's resize channel); a no-op without tty. */
  resize(size: TerminalSize): Promise<void>;
  /** Resolves with the exit code once the process ended and its output is drained. */
  exited: Promise<{ exitCode: number }>;
  /** Ends the session early (client went away): kills the exec'd process tree. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------------------
// Events (the evented-PLEG stream of CRI's GetContainerEvents)

export interface ContainerEvent {
  type: "created" | "started" | "stopped" | "deleted";
  containerId: string;
  podSandboxId: string;
  at: Date;
}

export type ContainerEventListener = (event: ContainerEvent) => void;

// ---------------------------------------------------------------------------------------------------------
// Errors

/**
 * A failure the kubelet must act on. `reason` uses Kubernetes' waiting reasons where one exists, so the
 * kubelet can copy it into the container status: ErrImagePull, InvalidImageName, CreateContainerConfigError,
 * CreateContainerError, RunContainerError, NotFound.
 */
export class RuntimeError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = "RuntimeError";
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The services

export interface Image {
  /** Runtime-local image id. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

export interface ImageService {
  /** Makes the image available; returns the image reference to record as imageID. Throws ErrImagePull. */
  pullImage(image: ImageSpec): Promise<string>;
  /** The image if present, or null (the kubelet's IfNotPresent check). Throws InvalidImageName. */
  imageStatus(image: ImageSpec): Promise<Image | null>;
  listImages(): Promise<Image[]>;
  removeImage(image: ImageSpec): Promise<void>;
}

export interface RuntimeInfo {
  runtimeName: string;
  runtimeVersion: string;
  /** What this runtime instance can enforce on this host; the kubelet may surface it on the Node. */
  capabilities: RuntimeCapabilities;
}

export interface RuntimeCapabilities {
  /** Private mount/pid namespaces per pod: volumes appear at their mountPath. */
  podIsolation: boolean;
  memoryLimits: boolean;
  cpuLimits: boolean;
  /** OOM kills are detected and reported with reason OOMKilled. */
  oomDetection: boolean;
  /** Exec with tty=true is supported. */
  tty: boolean;
}

export interface RuntimeService {
  info(): RuntimeInfo;

  runPodSandbox(config: PodSandboxConfig): Promise<RunPodSandboxResult>;
  /** Stops every container of the sandbox (SIGKILL) and releases its resources; idempotent. */
  stopPodSandbox(podSandboxId: string): Promise<void>;
  /** Stops the sandbox if needed and forgets it and its containers; idempotent. Never deletes logs. */
  removePodSandbox(podSandboxId: string): Promise<void>;
  podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus>;
  listPodSandboxes(filter?: PodSandboxFilter): Promise<PodSandboxStatus[]>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<CreateContainerResult>;
  startContainer(containerId: string): Promise<void>;
  /**
   * Graceful stop: SIGTERM to the main process, up to `timeoutSeconds`, then SIGKILL to everything the
   * container started. Resolves once exited. Idempotent on exited containers.
   */
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  /** Forgets an exited container (stopping it first if needed). Its log file stays. */
  removeContainer(containerId: string): Promise<void>;
  containerStatus(containerId: string): Promise<ContainerStatus>;
  listContainers(filter?: ContainerFilter): Promise<ContainerStatus[]>;

  /** Runs a command in a running container and collects its output; kills it after `timeoutSeconds` (0 = none). */
  execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  /** Streaming exec for pods/exec. */
  exec(containerId: string, options: ExecOptions): Promise<StreamingSession>;
  /** Attaches to the main process of a running container (pods/attach): its live output and, if enabled, stdin. */
  attach(containerId: string, options: { stdin: boolean }): Promise<StreamingSession>;

  /** Subscribes to container lifecycle events; returns the unsubscribe function. */
  onContainerEvent(listener: ContainerEventListener): () => void;
}

/** What a kubelet is handed: both services, as one object or two. */
export interface ContainerRuntime extends RuntimeService, ImageService {
  /** Stops every sandbox and process this runtime started (shutdown of the embedded cluster). */
  close(): Promise<void>;
}
