// A pod sandbox of the process runtime. With isolation, it is a pause process in new pid, uts and ipc
// namespaces (the launcher's, or unshare(1)'s with a mount namespace for its /proc too): every container
// of the pod joins those three (each has a mount namespace of its own), and killing the pause process
// (PID 1 of the pod's pid namespace) makes the kernel kill every process left in the pod.
// Without isolation a sandbox is only bookkeeping.

import { networkInterfaces } from "node:os";
import type { PodSandboxConfig, PodSandboxState } from "../cri.ts";
import type { SpawnPlan } from "./launch-scripts.ts";
import { childrenOf, signalProcess } from "./process-tree.ts";
import type { Spawner } from "./spawner.ts";

/** How long the host's address is taken as known: listing the interfaces per pod costs a burst real time. */
const HOST_IP_TTL_MS = 5000;
let cachedHostIp: { ip: string; at: number } | undefined;

/** The process runtime shares the host's network, so a pod's IP is the host's first external IPv4 address. */
export function hostIp(): string {
  const now = Date.now();
  if (cachedHostIp && now - cachedHostIp.at < HOST_IP_TTL_MS) return cachedHostIp.ip;
  let ip = "127.0.0.1";
  search: for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) {
        ip = address.address;
        break search;
      }
    }
  }
  cachedHostIp = { ip, at: now };
  return ip;
}

export class PodSandbox {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly createdAt = new Date();
  readonly ip = hostIp();
  state: PodSandboxState = "ready";
  /** Host pid of the pause process; undefined without isolation. */
  pausePid: number | undefined;
  private pauseLauncherPid: number | undefined;
  private pauseExited: Promise<void> = Promise.resolve();

  constructor(id: string, config: PodSandboxConfig) {
    this.id = id;
    this.config = config;
  }

  /** Starts the pause process (`plan`: pausePlan or launcherPausePlan) and waits until the namespaces are set up. */
  async startIsolation(plan: SpawnPlan, spawner: Spawner): Promise<void> {
    const { file, args, pidNamespace } = plan;
    // The pause process runs no program that needs more of an environment than a PATH.
    const env: Record<string, string> = process.env.PATH !== undefined ? { PATH: process.env.PATH } : {};
    const pause = await spawner.spawn({ file, args, env, stdin: true, ...(pidNamespace !== undefined ? { pidNamespace } : {}) }, "pause");
    this.pauseLauncherPid = pause.pid;
    this.pauseExited = pause.exit.then(() => undefined);
    if ((await pause.line) !== "ready") {
      const exit = await pause.exit;
      throw new Error(`the pod's pause process exited during setup: ${exit.stderr?.trim() ?? ""}`);
    }
    // Started as PID 1 by the spawn server, or forked by what it started (unshare --fork): then the pause
    // process is that one's only child.
    this.pausePid = pause.pid !== undefined ? (pidNamespace === "new" ? pause.pid : childrenOf(pause.pid)[0]) : undefined;
    if (this.pausePid === undefined) throw new Error("the pod's pause process vanished during setup");
  }

  /** Kills the pause process, and with it every process in the pod's pid namespace. */
  async stopIsolation(): Promise<void> {
    // Only the pause process: unshare then reaps it and exits by itself. Killing unshare as well would
    // orphan the pause process to the host's init, which on some hosts never reaps it (a zombie per pod).
    if (this.pausePid !== undefined) signalProcess(this.pausePid, "SIGKILL");
    else if (this.pauseLauncherPid !== undefined) signalProcess(this.pauseLauncherPid, "SIGKILL");
    await this.pauseExited;
  }
}
