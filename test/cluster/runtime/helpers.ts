// Shared set-up for the runtime tests: a runtime in a temp directory, pod and container configs, waiting
// for exits, and finding processes a test started (by an environment marker) to prove none were left.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { ContainerConfig, ContainerRuntime, ContainerStatus, PodSandboxConfig } from "../../../src/cluster/runtime/cri.ts";

export const isRoot = process.getuid?.() === 0;

const tempDirs: string[] = [];
// Removed when the test file's process exits, after every runtime has been closed.
process.on("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function podConfig(name: string, logDirectory: string): PodSandboxConfig {
  return { metadata: { name, namespace: "default", uid: randomUUID(), attempt: 0 }, hostname: name, logDirectory };
}

/** A marker put in a container's environment; every process it starts inherits it. */
export function newMarker(): string {
  return `berth-test-${randomUUID()}`;
}

export function containerConfig(name: string, command: string[], extra: Partial<ContainerConfig> & { marker?: string } = {}): ContainerConfig {
  const { marker, ...rest } = extra;
  return {
    metadata: { name, attempt: rest.metadata?.attempt ?? 0 },
    image: { image: "busybox:1.36" },
    command,
    logPath: `${name}/${rest.metadata?.attempt ?? 0}.log`,
    ...rest,
    envs: [...(rest.envs ?? []), ...(marker ? [{ key: "BERTH_TEST_MARKER", value: marker }] : [])],
  };
}

/** Resolves with the container's status once it has exited. */
export async function waitForExit(runtime: ContainerRuntime, containerId: string): Promise<ContainerStatus> {
  const exited = new Promise<void>((resolve) => {
    const stop = runtime.onContainerEvent((event) => {
      if (event.containerId === containerId && event.type === "stopped") {
        stop();
        resolve();
      }
    });
  });
  const status = await runtime.containerStatus(containerId);
  if (status.state !== "exited") await exited;
  return runtime.containerStatus(containerId);
}

/** Pids of live (non-zombie) processes whose environment carries the marker. */
export function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${entry}/stat`, "utf8"))) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").includes(`BERTH_TEST_MARKER=${marker}`)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Reads a CRI log file and returns the content of its entries per stream, joined as the kubelet would. */
export function readLog(path: string): { stdout: string; stderr: string; lines: string[] } {
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  const out = { stdout: "", stderr: "" };
  for (const line of lines) {
    const [, stream, tag] = line.split(" ");
    const content = line.split(" ").slice(3).join(" ");
    out[stream as "stdout" | "stderr"] += content + (tag === "F" ? "\n" : "");
  }
  return { ...out, lines };
}

export async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  if (!stream) return "";
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Waits until a container's log contains the text (the container got far enough, e.g. installed a trap). */
export async function waitForLogText(path: string, text: string): Promise<void> {
  while (!(existsSync(path) && readFileSync(path, "utf8").includes(text))) await new Promise((resolve) => setTimeout(resolve, 10));
}
