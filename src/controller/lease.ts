// A leased agent: one agent pod from its launch to its end, as the controller tracks it. It follows the
// pod's changes and events into the build log, decides when the launch has failed for good, hands the
// build its agent, and at the end deletes or keeps the pod by its retention policy (or parks it for
// reuse while idleMinutes last).
import { ApiException, PatchStrategy, setHeaderOptions, type CoreV1Event, type V1Pod } from "@kubernetes/client-node";
import type { Cloud, PodTemplate } from "../templates/model.ts";
import { DEFAULT_AGENT_CONTAINER } from "../templates/model.ts";
import { templateDisplayName } from "../templates/inherit.ts";
import type { KubeClient } from "../kube/client.ts";
import type { ObjectWatch, PodWatch } from "../kube/watch.ts";
import { execInContainer, type ExecResult } from "../kube/exec.ts";
import type { AgentConnection, RunningCommand, RunOptions } from "./agent-hub.ts";
import { DEFAULT_FAIL_FAST, describeChanges, judgeLaunch, newLaunchWatch, type FailFastPolicy, type Verdict } from "./pod-report.ts";
import { effectiveRetention, inspectCommands, keepPod } from "./retention.ts";
import type { CapacityQueue } from "./capacity.ts";

/** Where a build's log lines go. */
export interface BuildLog {
  line(text: string): void;
}


/** The launch of an agent failed; `verdict.infrastructure` says whether a retry on a new pod may help. */
export class LaunchError extends Error {
  readonly verdict: Verdict;

  constructor(verdict: Verdict) {
    super(verdict.message);
    this.name = "LaunchError";
    this.verdict = verdict;
  }
}

/** What the controller keeps per cloud. */
export interface CloudState {
  cloud: Cloud;
  client: KubeClient;
  watch: PodWatch;
  events: ObjectWatch<CoreV1Event>;
  queue: CapacityQueue;
  /** Launches that have taken a place but whose pod the watch may not show yet. */
  pending: Map<string, string>;
}

/** What a lease reports back to the controller that made it. */
export interface LeaseOwner {
  leaseEnded(lease: Lease): void;
  parkIdle(lease: Lease): void;
}

/** An agent as a build holds it. */
export interface LeasedAgent {
  name: string;
  namespace: string;
  podName: string;
  templateName: string;
  cloudName: string;
  /** The container the agent runs in (`jnlp` unless the template says otherwise). */
  agentContainer: string;
  /** When each launch step happened (performance.now() milliseconds); empty for a reused agent. */
  timings: LaunchTimings;
  /** Runs a command in the agent container. */
  run(command: string[], options?: RunOptions): RunningCommand;
  /** Runs a short command in another container of the pod through the API server (pods/exec). */
  exec(container: string, command: string[], stdin?: string): Promise<ExecResult>;
  /** The pod as last seen by the controller's watch. */
  pod(): V1Pod | undefined;
  /** The log of one of the pod's containers, as the API server's pods/log gives it. */
  containerLog(container: string, options?: { tailLines?: number; sinceSeconds?: number; limitBytes?: number }): Promise<string>;
  /** Values of the pod's secret-backed env vars (secretEnvVar, secretKeyRef), for masking. */
  secretEnvValues(): Promise<string[]>;
  /** Resolves if the pod is lost while the build holds it (eviction, deletion, node loss). */
  lost: Promise<Verdict>;
  /** The reason the pod was lost, if it was. */
  lostVerdict(): Verdict | undefined;
  /** The build is done with the agent. */
  release(outcome: { failed: boolean }): Promise<void>;
}

/** Moments of a launch, from performance.now(): the time-to-agent breakdown. */
export interface LaunchTimings {
  requested?: number;
  createSent?: number;
  created?: number;
  scheduled?: number;
  started?: number;
  connected?: number;
}

/** "after 0.42s (controller 3ms, API create 20ms, scheduling 30ms, containers 150ms, agent start and connect 220ms)". */
export function describeTimings(t: LaunchTimings): string {
  if (t.requested === undefined || t.connected === undefined) return "";
  const ms = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${Math.max(0, Math.round(b - a))}ms` : "?");
  return (
    `after ${((t.connected - t.requested) / 1000).toFixed(2)}s (controller ${ms(t.requested, t.createSent)}, API create ${ms(t.createSent, t.created)}, ` +
    `scheduling ${ms(t.created, t.scheduled)}, containers ${ms(t.scheduled, t.started)}, agent start and connect ${ms(t.started, t.connected)})`
  );
}

export class Lease {
  readonly controller: LeaseOwner;
  readonly state: CloudState;
  readonly template: PodTemplate;
  readonly templateName: string;
  readonly name: string;
  readonly connection: AgentConnection;
  readonly timings: LaunchTimings = {};
  log: BuildLog;
  namespace = "";
  agentContainer = DEFAULT_AGENT_CONTAINER;
  private pod: V1Pod | undefined;
  private readonly launchWatch = newLaunchWatch();
  private settleLaunch: ((verdict: Verdict | undefined) => void) | undefined;
  private markLost!: (verdict: Verdict) => void;
  private lostReason: Verdict | undefined;
  readonly lost: Promise<Verdict>;
  private ended = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private policy: FailFastPolicy = DEFAULT_FAIL_FAST;
  private recheck: NodeJS.Timeout | undefined;
  private eventsShown = new Set<string>();

  constructor(controller: LeaseOwner, state: CloudState, template: PodTemplate, name: string, connection: AgentConnection, log: BuildLog) {
    this.controller = controller;
    this.state = state;
    this.template = template;
    this.templateName = templateDisplayName(template);
    this.name = name;
    this.connection = connection;
    this.log = log;
    this.lost = new Promise((resolve) => (this.markLost = resolve));
  }

  observe(event: "add" | "update" | "delete", pod: V1Pod): void {
    if (this.ended) return;
    if (pod.spec?.nodeName) this.timings.scheduled ??= performance.now();
    const agentStatus = pod.status?.containerStatuses?.find((c) => c.name === this.agentContainer);
    if (agentStatus?.state?.running) this.timings.started ??= performance.now();
    for (const line of describeChanges(this.pod, pod)) this.log.line(line);
    this.pod = pod;
    if (event === "delete") {
      const verdict: Verdict = { reason: "PodDeleted", message: `pod ${this.namespace}/${this.name} was deleted`, infrastructure: true };
      return this.fail(verdict);
    }
    const verdict = judgeLaunch(pod, this.launchWatch, this.policy, Date.now(), this.agentContainer, this.connection.isConnected && !this.settleLaunch);
    if (verdict) return this.fail(verdict);
    // An unschedulable pod produces no further events while it waits: look again when its time is up.
    const since = this.launchWatch.unschedulableSince;
    if (since !== undefined && this.settleLaunch && !this.recheck) {
      this.recheck = setTimeout(() => {
        this.recheck = undefined;
        if (this.pod) this.observe("update", this.pod);
      }, since + this.policy.unschedulableMs - Date.now() + 10);
    }
  }

  /** A Kubernetes event about the pod, shown once per reason and message. */
  event(e: CoreV1Event): void {
    if (this.ended) return;
    const key = `${e.reason}/${e.message}`;
    if (this.eventsShown.has(key)) return;
    this.eventsShown.add(key);
    this.log.line(`[event] ${e.type === "Warning" ? "Warning " : ""}${e.reason ?? ""}: ${(e.message ?? "").trim()}`);
  }

  private fail(verdict: Verdict): void {
    if (this.settleLaunch) {
      this.settleLaunch(verdict);
    } else {
      this.log.line(`ERROR: ${verdict.message}`);
      this.lostReason = verdict;
      this.markLost(verdict);
      this.connection.failAll(`${verdict.message}${verdict.infrastructure ? " (infrastructure failure)" : ""}`);
    }
  }

  /** Waits until the agent connects, the pod fails for good, or the connect timeout passes. */
  async waitForAgent(timeoutSeconds: number, policy: FailFastPolicy, signal?: AbortSignal): Promise<void> {
    this.policy = policy;
    const verdict = await new Promise<Verdict | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutSeconds * 1000);
      const done = (v: Verdict | undefined | "connected") => {
        clearTimeout(timer);
        clearTimeout(this.recheck);
        this.recheck = undefined;
        this.settleLaunch = undefined;
        resolve(v === "connected" ? { reason: "", message: "", infrastructure: false } : v);
      };
      this.settleLaunch = (v) => done(v);
      void this.connection.connected.then(() => done("connected"));
      signal?.addEventListener("abort", () => done({ reason: "Aborted", message: "the build was aborted while its agent was starting", infrastructure: false }));
      if (this.pod) this.observe("update", this.pod);
    });
    if (verdict && verdict.reason === "") {
      this.timings.connected = performance.now();
      this.log.line(`Agent ${this.name} is connected ${describeTimings(this.timings)}`);
      return;
    }
    const final = verdict ?? this.timeoutVerdict(timeoutSeconds);
    this.log.line(`ERROR: ${final.message}`);
    await this.showDiagnostics(final);
    throw new LaunchError(final);
  }

  private timeoutVerdict(timeoutSeconds: number): Verdict {
    const phase = this.pod?.status?.phase ?? "not created";
    return { reason: "AgentTimeout", message: `agent ${this.name} did not connect within ${timeoutSeconds}s (pod ${phase})`, infrastructure: false, showLogsOf: [this.agentContainer] };
  }

  private async showDiagnostics(verdict: Verdict): Promise<void> {
    const core = this.state.client.core;
    const events = await core
      .listNamespacedEvent({ namespace: this.namespace, fieldSelector: `involvedObject.name=${this.name}` })
      .then((list) => list.items)
      .catch(() => [] as CoreV1Event[]);
    for (const e of events.slice(-10)) this.event(e);
    for (const container of verdict.showLogsOf ?? []) {
      const text = await core.readNamespacedPodLog({ namespace: this.namespace, name: this.name, container, tailLines: 20 }).catch(() => undefined);
      if (text === undefined) continue;
      this.log.line(`----- last lines of container ${container} -----`);
      for (const line of String(text).trimEnd().split("\n")) if (line) this.log.line(line);
      this.log.line("-----");
    }
  }

  handle(): LeasedAgent {
    return {
      name: this.name,
      namespace: this.namespace,
      podName: this.name,
      templateName: this.templateName,
      agentContainer: this.agentContainer,
      timings: this.timings,
      cloudName: this.state.cloud.name,
      run: (command, options) => this.connection.run(command, options),
      exec: (container, command, stdin) => execInContainer(this.state.client.kubeConfig, this.namespace, this.name, container, command, stdin),
      pod: () => this.state.watch.get(this.name) ?? this.pod,
      containerLog: async (container, options = {}) =>
        String(await this.state.client.core.readNamespacedPodLog({ namespace: this.namespace, name: this.name, container, ...options })),
      secretEnvValues: () => this.secretEnvValues(),
      lost: this.lost,
      lostVerdict: () => this.lostReason,
      release: (outcome) => this.release(outcome),
    };
  }

  /** Values of the pod's env vars taken from secrets (secretEnvVar): the build masks them. Unreadable ones are skipped. */
  private async secretEnvValues(): Promise<string[]> {
    const pod = this.state.watch.get(this.name) ?? this.pod;
    const refs = (pod?.spec?.containers ?? []).flatMap((c) => c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    const values = await Promise.all(refs.map(async (ref) => {
      const secret = await this.state.client.core.readNamespacedSecret({ namespace: this.namespace, name: ref.name! }).catch(() => undefined);
      const data = secret?.data?.[ref.key];
      return data === undefined ? [] : [Buffer.from(data, "base64").toString("utf8")];
    }));
    return values.flat();
  }

  private async release(outcome: { failed: boolean }): Promise<void> {
    const idleMinutes = this.template.idleMinutes ?? 0;
    if (!outcome.failed && idleMinutes > 0 && this.connection.isConnected) {
      this.log.line(`Agent ${this.name} stays for reuse for up to ${idleMinutes} idle minute(s)`);
      this.idleTimer = setTimeout(() => void this.terminate({ failed: false }), idleMinutes * 60_000);
      this.idleTimer.unref();
      this.controller.parkIdle(this);
      return;
    }
    await this.terminate(outcome);
  }

  unpark(): void {
    clearTimeout(this.idleTimer);
  }

  async terminate(outcome: { failed: boolean; reason?: string; quiet?: boolean }): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.connection.stop();
    this.controller.leaseEnded(this);
    if (!this.namespace || outcome.quiet) return;
    const retention = effectiveRetention(this.template, this.state.cloud);
    const pod = this.state.watch.get(this.name) ?? this.pod;
    if (keepPod(retention, pod, outcome.failed)) {
      await this.state.client.core
        .patchNamespacedPod({ namespace: this.namespace, name: this.name, body: { metadata: { annotations: { "berth.dev/kept": "true" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
        .catch(() => undefined);
      this.log.line(`Pod ${this.namespace}/${this.name} is kept (podRetention ${retention}). To inspect it:`);
      for (const command of inspectCommands(this.namespace, this.name, this.agentContainer)) this.log.line(`  ${command}`);
      return;
    }
    try {
      await this.state.client.core.deleteNamespacedPod({ namespace: this.namespace, name: this.name });
      this.log.line(`Deleted pod ${this.namespace}/${this.name}${outcome.reason ? ` (${outcome.reason})` : ""}`);
    } catch (e) {
      const { code, message } = apiError(e);
      if (code !== 404) this.log.line(`WARNING: could not delete pod ${this.namespace}/${this.name}: ${message}`);
    }
  }
}

/** The HTTP status and the API server's own message of a failed call. */
export function apiError(e: unknown): { code: number | undefined; message: string } {
  if (e instanceof ApiException) {
    const body: unknown = typeof e.body === "string" ? safeJson(e.body) : e.body;
    const message = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : e.message;
    return { code: e.code, message };
  }
  return { code: undefined, message: e instanceof Error ? e.message : String(e) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
