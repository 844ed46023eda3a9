// Provisioning: a build asks for an agent by label; the controller picks the cloud and template, waits
// for room under the caps, creates the pod, tells the build log what happens to the pod as it happens,
// fails fast with the precise reason when the pod cannot work, hands over the agent once it connected,
// and when the build is done deletes or keeps the pod by its retention policy (or keeps the agent for
// reuse while idleMinutes last). Orphaned pods of this controller are removed after a grace period.
import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import type { V1Pod } from "@kubernetes/client-node";
import type { Cloud, PodTemplate } from "../templates/model.ts";
import { DEFAULT_AGENT_CONTAINER, DEFAULT_SLAVE_CONNECT_TIMEOUT } from "../templates/model.ts";
import { agentNameFor, sanitizeLabel } from "../templates/naming.ts";
import { assertValid, renderPod } from "../templates/render.ts";
import { templateDisplayName } from "../templates/inherit.ts";
import { cloneJson } from "../templates/pod-merge.ts";
import { createKubeClient, type KubeClient } from "../kube/client.ts";
import type { ConnectionSettings } from "../kube/connect.ts";
import type { FlowControlOptions } from "../kube/http.ts";
import { watchEvents, watchPods } from "../kube/watch.ts";
import type { AgentHub } from "./agent-hub.ts";
import { templateServes } from "./labels.ts";
import { DEFAULT_FAIL_FAST, type FailFastPolicy } from "./pod-report.ts";
import { CapacityQueue, describeShortage, hasRoom } from "./capacity.ts";
import { Lease, LaunchError, apiError, type BuildLog, type CloudState, type LeasedAgent, type LeaseOwner } from "./lease.ts";

export { LaunchError, apiError, describeTimings, type BuildLog, type LaunchTimings, type LeasedAgent } from "./lease.ts";

export interface AgentRequest {
  /** Label expression; unset: any NORMAL template. */
  label?: string;
  /** Cloud name; unset: the first cloud with a matching template. */
  cloud?: string;
  /** Templates defined by the running pipeline (podTemplate steps), searched before the cloud's. */
  templates?: PodTemplate[];
  /** Clouds the job's folders permit (for clouds with usageRestricted). */
  permittedClouds?: string[];
  log: BuildLog;
  signal?: AbortSignal;
}


export interface ControllerOptions {
  clouds: Cloud[];
  hub: AgentHub;
  /** The URL agents connect back to (JENKINS_URL). */
  controllerUrl: string;
  /** How to reach each cloud's API server; default: from the cloud's serverUrl/serverCertificate/namespace. */
  connectionFor?: (cloud: Cloud) => ConnectionSettings;
  flowControl?: FlowControlOptions;
  failFast?: FailFastPolicy;
  /** How long to wait before trying again when a namespace's resource quota is exhausted. */
  quotaRetryMs?: number;
  /** Pods of this controller with no agent are deleted once this old (after a crash or restart). */
  orphanGraceMs?: number;
  /** The controller's own log (not a build's). */
  log?: (line: string) => void;
}

const TEMPLATE_ANNOTATION = "berth.dev/template";
const CONTROLLER_LABEL = "kubernetes.jenkins.io/controller";


export class Controller implements LeaseOwner {
  private readonly options: ControllerOptions;
  private readonly states = new Map<string, CloudState>();
  private readonly leases = new Map<string, Lease>();
  private readonly idle: Lease[] = [];
  private readonly gcTimer: NodeJS.Timeout;
  private stopped = false;

  private constructor(options: ControllerOptions) {
    this.options = options;
    this.gcTimer = setInterval(() => void this.collectOrphans(), Math.max(1000, (options.orphanGraceMs ?? 60_000) / 2));
    this.gcTimer.unref();
  }

  /** Connects to every cloud and starts its pod watch. */
  static async start(options: ControllerOptions): Promise<Controller> {
    const controller = new Controller(options);
    const selector = `${CONTROLLER_LABEL}=${sanitizeLabel(withSlash(options.controllerUrl))}`;
    for (const cloud of options.clouds) {
      const rateLimit = cloud.qps ? { rateLimit: { qps: cloud.qps, burst: cloud.burst ?? cloud.qps * 2 } } : {};
      const client = createKubeClient(options.connectionFor?.(cloud) ?? connectionOf(cloud), { ...rateLimit, ...options.flowControl });
      const namespace = cloud.namespace ?? client.namespace;
      const onError = (what: string) => (e: unknown) => controller.log(`cloud ${cloud.name}: ${what} watch failed, restarting: ${String(e)}`);
      const watch = await watchPods(client, { namespace, labelSelector: selector, onError: onError("pod") });
      const events = await watchEvents(client, { namespace, onError: onError("event") });
      const state: CloudState = { cloud, client, watch, events, queue: new CapacityQueue(), pending: new Map() };
      watch.on((event, pod) => controller.onPodEvent(state, event, pod));
      events.on((event, e) => {
        if (event !== "delete" && e.involvedObject?.kind === "Pod") controller.leases.get(e.involvedObject.name ?? "")?.event(e);
      });
      controller.states.set(cloud.name, state);
    }
    return controller;
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(line);
  }

  /** API calls made so far, per cloud. */
  apiStats(): Record<string, KubeClient["stats"]> {
    return Object.fromEntries([...this.states].map(([name, s]) => [name, s.client.stats]));
  }

  /** Provisions (or reuses) an agent for `request`; resolves once the agent is connected. */
  async requestAgent(request: AgentRequest): Promise<LeasedAgent> {
    if (this.stopped) throw new Error("the controller is stopping");
    const { state, template } = this.choose(request);
    const reused = this.takeIdle(request.label, state.cloud.name);
    if (reused) {
      request.log.line(`Reusing idle agent ${reused.name} (pod ${reused.namespace}/${reused.name}) from template ${reused.templateName}`);
      reused.log = request.log;
      return reused.handle();
    }
    return this.launch(state, template, request);
  }

  /**
   * Runs `body` on an agent and releases it after. With `attempts` > 1 (declarative `retries N`), a build
   * whose pod was lost to the infrastructure (evicted, deleted, preempted, node gone: judged from the pod's
   * conditions and reasons) runs again on a new pod; a build that failed by itself does not.
   */
  async withAgent<T>(request: AgentRequest & { attempts?: number }, body: (agent: LeasedAgent) => Promise<T>): Promise<T> {
    const attempts = Math.max(1, request.attempts ?? 1);
    for (let attempt = 1; ; attempt++) {
      let agent: LeasedAgent | undefined;
      try {
        agent = await this.requestAgent(request);
        const held = agent;
        const lost = held.lost.then((verdict) => Promise.reject(new LaunchError(verdict)));
        // Whatever the body made of it, a build whose pod was lost failed because of the pod.
        const settled = await Promise.race([body(held), lost]).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        const lostVerdict = held.lostVerdict();
        if (lostVerdict) throw new LaunchError(lostVerdict);
        if ("error" in settled) throw settled.error;
        await held.release({ failed: false });
        return settled.value;
      } catch (error) {
        await agent?.release({ failed: true });
        if (!(error instanceof LaunchError && error.verdict.infrastructure) || attempt >= attempts) throw error;
        request.log.line(`Retrying on a new pod (attempt ${attempt + 1} of ${attempts}) after an infrastructure failure: ${error.message}`);
      }
    }
  }

  private choose(request: AgentRequest): { state: CloudState; template: PodTemplate } {
    const clouds = request.cloud ? [this.states.get(request.cloud)] : [...this.states.values()];
    if (request.cloud && !clouds[0]) throw new LaunchError({ reason: "UnknownCloud", message: `Cloud does not exist: ${request.cloud}`, infrastructure: false });
    for (const state of clouds) {
      if (!state) continue;
      const template = [...(request.templates ?? []), ...state.cloud.templates].find((t) => templateServes(t, request.label));
      if (!template) continue;
      if (state.cloud.usageRestricted && !(request.permittedClouds ?? []).includes(state.cloud.name)) {
        throw new LaunchError({ reason: "NotAuthorized", message: `Not authorized to use Kubernetes cloud: ${state.cloud.name}`, infrastructure: false });
      }
      return { state, template };
    }
    const where = request.cloud ? `cloud ${request.cloud}` : "any cloud";
    throw new LaunchError({ reason: "NoTemplate", message: `no pod template of ${where} serves label '${request.label ?? ""}'`, infrastructure: false });
  }

  private usage(state: CloudState, templateName: string): { cloud: number; template: number } {
    let cloud = 0;
    let template = 0;
    const seen = new Set<string>();
    for (const pod of state.watch.list()) {
      if (pod.metadata?.deletionTimestamp) continue;
      const name = pod.metadata!.name!;
      seen.add(name);
      cloud++;
      if (pod.metadata?.annotations?.[TEMPLATE_ANNOTATION] === templateName) template++;
    }
    for (const [name, t] of state.pending) {
      if (seen.has(name)) continue;
      cloud++;
      if (t === templateName) template++;
    }
    return { cloud, template };
  }

  private async launch(state: CloudState, template: PodTemplate, request: AgentRequest): Promise<LeasedAgent> {
    const requestedAt = performance.now();
    const log = request.log;
    const { cloud, client } = state;
    const templateName = templateDisplayName(template);
    const name = agentNameFor(template.name ?? template.label);
    const limits = { ...(cloud.containerCap ? { cloudCap: cloud.containerCap } : {}), ...(template.instanceCap !== undefined ? { templateCap: template.instanceCap } : {}) };
    const tryAcquire = () => {
      if (!hasRoom(limits, this.usage(state, templateName))) return false;
      state.pending.set(name, templateName);
      return true;
    };
    if (!hasRoom(limits, this.usage(state, templateName)) || state.queue.length > 0) {
      log.line(`Waiting for room: ${describeShortage(limits, this.usage(state, templateName), cloud.name, templateName)}`);
    }
    await state.queue.acquire(templateName, tryAcquire, request.signal);

    const secret = randomBytes(32).toString("hex");
    const connection = this.options.hub.expect(name, secret);
    const lease = new Lease(this, state, template, name, connection, log);
    lease.timings.requested = requestedAt;
    try {
      const agentIdentity = { name, secret, controllerUrl: this.options.controllerUrl, proxyEnv: proxyVariables(process.env) };
      const rendered = renderPod({ cloud, template, agent: agentIdentity, ...(request.templates ? { extraTemplates: request.templates } : {}) });
      for (const warning of rendered.resolved.warnings) log.line(`WARNING: ${warning}`);
      for (const note of rendered.built.notes) log.line(`NOTE: ${note}`);
      assertValid(rendered, template);
      const pod = cloneJson(rendered.built.pod) as V1Pod;
      pod.metadata!.annotations = { ...pod.metadata!.annotations, [TEMPLATE_ANNOTATION]: templateName };
      const namespace = pod.metadata!.namespace ?? cloud.namespace ?? client.namespace;
      pod.metadata!.namespace = namespace;
      lease.namespace = namespace;
      lease.agentContainer = template.agentContainer || DEFAULT_AGENT_CONTAINER;
      log.line(`Agent ${name} is provisioned from template ${templateName} (cloud ${cloud.name})`);
      if (rendered.resolved.template.showRawYaml !== false) log.line(stringify(pod, { aliasDuplicateObjects: false, lineWidth: 0 }).replaceAll(secret, "********").trimEnd());
      this.leases.set(name, lease);
      lease.timings.createSent = performance.now();
      await this.createPod(state, pod, request);
      lease.timings.created = performance.now();
      log.line(`Created pod ${namespace}/${name}`);
      await lease.waitForAgent(rendered.resolved.template.slaveConnectTimeout ?? DEFAULT_SLAVE_CONNECT_TIMEOUT, this.options.failFast ?? DEFAULT_FAIL_FAST, request.signal);
      return lease.handle();
    } catch (error) {
      await lease.terminate({ failed: true, quiet: error instanceof LaunchError && error.verdict.reason === "CreateRefused" });
      throw error;
    } finally {
      state.pending.delete(name);
    }
  }

  private async createPod(state: CloudState, pod: V1Pod, request: AgentRequest): Promise<void> {
    const namespace = pod.metadata!.namespace!;
    for (;;) {
      try {
        await state.client.core.createNamespacedPod({ namespace, body: pod });
        return;
      } catch (e) {
        const { code, message } = apiError(e);
        if (code === 403 && /exceeded quota/.test(message)) {
          const retryMs = this.options.quotaRetryMs ?? 5000;
          request.log.line(`Waiting: the resource quota of namespace ${namespace} is exhausted; trying again in ${Math.round(retryMs / 1000)}s. (${message})`);
          await sleep(retryMs, request.signal);
          continue;
        }
        if (code === 409 && /already exists/.test(message) && (await this.isOurs(state, namespace, pod.metadata!.name!))) return;
        throw new LaunchError({ reason: "CreateRefused", message: `Unable to create pod ${namespace}/${pod.metadata!.name}: ${message}`, infrastructure: code === undefined || code >= 500 });
      }
    }
  }

  private async isOurs(state: CloudState, namespace: string, name: string): Promise<boolean> {
    const existing = await state.client.core.readNamespacedPod({ namespace, name }).catch(() => undefined);
    return existing?.metadata?.labels?.[CONTROLLER_LABEL] === sanitizeLabel(withSlash(this.options.controllerUrl));
  }

  private onPodEvent(state: CloudState, event: "add" | "update" | "delete", pod: V1Pod): void {
    const lease = this.leases.get(pod.metadata?.name ?? "");
    if (lease && lease.state === state) lease.observe(event, pod);
    if (event === "delete" || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") state.queue.poke();
  }

  /** @internal */
  leaseEnded(lease: Lease): void {
    this.leases.delete(lease.name);
    this.options.hub.forget(lease.name);
    const i = this.idle.indexOf(lease);
    if (i >= 0) this.idle.splice(i, 1);
    lease.state.queue.poke();
  }

  /** @internal */
  parkIdle(lease: Lease): void {
    this.idle.push(lease);
  }

  private takeIdle(label: string | undefined, cloud: string): Lease | undefined {
    const i = this.idle.findIndex((l) => l.state.cloud.name === cloud && templateServes(l.template, label) && l.connection.isConnected);
    if (i < 0) return undefined;
    const [lease] = this.idle.splice(i, 1);
    lease!.unpark();
    return lease;
  }

  /** Deletes this controller's pods that no live agent owns, once older than the grace period. */
  async collectOrphans(now = Date.now()): Promise<string[]> {
    const grace = this.options.orphanGraceMs ?? 60_000;
    const deleted: string[] = [];
    for (const state of this.states.values()) {
      for (const pod of state.watch.list()) {
        const name = pod.metadata?.name ?? "";
        if (this.leases.has(name) || state.pending.has(name) || pod.metadata?.deletionTimestamp) continue;
        if (pod.metadata?.annotations?.["berth.dev/kept"] === "true") continue;
        const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : now;
        if (now - created < grace) continue;
        this.log(`Deleting orphaned agent pod ${pod.metadata?.namespace}/${name} (no build owns it)`);
        await state.client.core.deleteNamespacedPod({ namespace: pod.metadata!.namespace!, name }).catch((e: unknown) => this.log(`could not delete orphan ${name}: ${apiError(e).message}`));
        deleted.push(name);
      }
    }
    return deleted;
  }

  /** Ends every agent (pods handled by their retention policies) and stops watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.gcTimer);
    await Promise.all([...this.leases.values()].map((lease) => lease.terminate({ failed: true, reason: "the controller is shutting down" })));
    await Promise.all([...this.states.values()].flatMap((s) => [s.watch.stop(), s.events.stop()]));
  }
}


/** The proxy settings of the controller's environment (for clouds with addMasterProxyEnvVars). */
export function proxyVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"];
  return Object.fromEntries(names.filter((n) => env[n]).map((n) => [n, env[n]!]));
}

/** How to reach a cloud's API server from its own settings (serverUrl, certificate, kubeconfig, context). */
export function connectionOf(cloud: Cloud): ConnectionSettings {
  return {
    ...(cloud.serverUrl ? { serverUrl: cloud.serverUrl } : {}),
    ...(cloud.serverCertificate ? { serverCertificate: cloud.serverCertificate } : {}),
    ...(cloud.skipTlsVerify !== undefined ? { skipTlsVerify: cloud.skipTlsVerify } : {}),
    ...(cloud.namespace ? { namespace: cloud.namespace } : {}),
    ...(cloud.kubeconfig ? { kubeconfig: cloud.kubeconfig } : {}),
    ...(cloud.context ? { context: cloud.context } : {}),
  };
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}


function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    });
  });
}
