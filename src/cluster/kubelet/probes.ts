// Liveness, readiness and startup probes: one check (exec in the container, HTTP GET or TCP connect
// against the pod's address) and a periodic runner applying initialDelay, period, timeout and the
// success/failure thresholds. The pod worker decides what a crossed threshold means.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { Obj } from "../client/api.ts";
import type { RuntimeService } from "../runtime/cri.ts";

export interface ProbeTarget {
  runtime: RuntimeService;
  containerId: string;
  podIP: string;
  container: Obj;
}

export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed, worded as the kubelet's Unhealthy events word it. */
  output: string;
}

function resolvePort(port: unknown, container: Obj): number {
  if (typeof port === "number") return port;
  const named = ((container.ports ?? []) as Obj[]).find((p) => p.name === port);
  return named ? Number(named.containerPort) : Number(port);
}

function httpProbe(action: Obj, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const https = String(action.scheme ?? "HTTP").toUpperCase() === "HTTPS";
  const host = String(action.host ?? target.podIP ?? "127.0.0.1");
  const port = resolvePort(action.port, target.container);
  const headers: Record<string, string> = { "User-Agent": "kube-probe/1.35", Accept: "*/*" };
  for (const h of (action.httpHeaders ?? []) as Obj[]) headers[String(h.name)] = String(h.value);
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)({ host, port, path: String(action.path ?? "/"), method: "GET", headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true, output: "" } : { ok: false, output: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on("timeout", () => {
      req.destroy();
      resolve({ ok: false, output: `Get "${https ? "https" : "http"}://${host}:${port}${String(action.path ?? "/")}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, output: `Get "${https ? "https" : "http"}://${host}:${port}${String(action.path ?? "/")}": dial tcp ${host}:${port}: connect: ${error.code === "ECONNREFUSED" ? "connection refused" : error.message}` }));
    req.end();
  });
}

function tcpProbe(action: Obj, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const host = String(action.host ?? target.podIP ?? "127.0.0.1");
  const port = resolvePort(action.port, target.container);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.on("connect", () => {
      socket.destroy();
      resolve({ ok: true, output: "" });
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, output: `dial tcp ${host}:${port}: connect: ${error.code === "ECONNREFUSED" ? "connection refused" : error.message}` }));
  });
}

/** Runs one check of a probe. */
export async function runProbe(probe: Obj, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutSeconds = Number(probe.timeoutSeconds ?? 1);
  if (probe.exec) {
    try {
      const result = await target.runtime.execSync(target.containerId, (probe.exec.command ?? []) as string[], timeoutSeconds);
      const output = Buffer.concat([result.stdout, result.stderr]).toString("utf8");
      if (result.timedOut) return { ok: false, output: `command timed out after ${timeoutSeconds}s` };
      return { ok: result.exitCode === 0, output };
    } catch (error) {
      return { ok: false, output: (error as Error).message };
    }
  }
  if (probe.httpGet) return httpProbe(probe.httpGet as Obj, target, timeoutSeconds * 1000);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket as Obj, target, timeoutSeconds * 1000);
  // grpc probes need a gRPC client; treated as passing rather than killing a healthy container.
  return { ok: true, output: "" };
}

export type ProbeKind = "Liveness" | "Readiness" | "Startup";

/**
 * Runs a probe every periodSeconds after initialDelaySeconds. `onChange` fires when the thresholds flip
 * the result (failureThreshold consecutive failures, successThreshold consecutive successes); `onFailure`
 * fires on every failed check (for Unhealthy events).
 */
export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private result: boolean | undefined;
  private readonly probe: Obj;
  private readonly target: ProbeTarget;
  private readonly onChange: (ok: boolean) => void;
  private readonly onFailure: (output: string) => void;

  constructor(probe: Obj, target: ProbeTarget, onChange: (ok: boolean) => void, onFailure: (output: string) => void) {
    this.probe = probe;
    this.target = target;
    this.onChange = onChange;
    this.onFailure = onFailure;
  }

  start(): void {
    this.schedule(Number(this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const outcome = await runProbe(this.probe, this.target);
    if (this.stopped) return;
    if (outcome.ok) {
      this.failures = 0;
      this.successes++;
      if (this.result !== true && this.successes >= Number(this.probe.successThreshold ?? 1)) {
        this.result = true;
        this.onChange(true);
      }
    } else {
      this.successes = 0;
      this.failures++;
      this.onFailure(outcome.output);
      if (this.result !== false && this.failures >= Number(this.probe.failureThreshold ?? 3)) {
        this.result = false;
        this.onChange(false);
      }
    }
    this.schedule(Number(this.probe.periodSeconds ?? 10) * 1000);
  }
}
