// Shared by the benchmarks: servers as separate processes that print a ready line (the embedded
// cluster as `berth cluster start`, so the benchmark process's own memory and CPU are its own),
// percentiles, and the open-loop load.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The nearest-rank percentile: the smallest value with at least p% of the values at or below it. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** A child process whose stdout has printed a "ready" line, and a way to stop it (SIGTERM) and wait for its exit. */
export interface ReadyProcess {
  pid: number;
  /** The first stdout line containing "ready". */
  readyLine: string;
  stop(): Promise<void>;
}

/** Spawns `node args` and waits for its ready line; rejects if it exits first. */
export async function spawnUntilReady(args: string[]): Promise<ReadyProcess> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const readyLine = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes("ready"));
      if (line !== undefined) resolve(line);
    });
    child.on("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    pid: child.pid!,
    readyLine,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** `dataDir` defaults to a fresh temporary directory; `$BERTH_HOME/cluster` makes `berth run` reuse it. */
export async function startClusterProcess(dataDir = mkdtempSync(join(tmpdir(), "berth-bench-"))): Promise<{ kubeconfig: string; stop: () => Promise<void> }> {
  const cluster = await spawnUntilReady(["bin/berth.js", "cluster", "start", "--data-dir", dataDir, "--port", "0"]);
  return {
    kubeconfig: join(dataDir, "kubeconfig"),
    stop: async () => {
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface OpenLoopResult {
  /** Each request's latency from its scheduled send time, in ms. */
  latencies: number[];
  /** How late each request was sent (timers, or the client's previous request still out), in ms; part of its latency. */
  sendDelays: number[];
}

/**
 * An open-loop load: `clients` senders that together send `rate` requests per second for `seconds`,
 * each on a fixed schedule (client c sends its k-th request at start + (c + k·clients) / rate), as
 * latency SLOs are measured: under a given load, not at saturation. A client with a request still
 * out sends its next one as soon as that returns; latency is counted from the scheduled send time,
 * so a stalled server cannot hide its queue (no coordinated omission). `send(client, i)` issues the
 * i-th request of the whole run.
 *
 * A request is never sent early, and the wait for its time sleeps: Node's timers have millisecond
 * granularity, so a send is up to about a millisecond late, and that counts against the server.
 * Spinning out the last millisecond instead (setImmediate until the time) kept sends exact but cost
 * the generator 200-500 µs of CPU per request, taken from the server on a 2-core machine.
 */
export async function openLoop(rate: number, seconds: number, clients: number, send: (client: number, i: number) => Promise<unknown>): Promise<OpenLoopResult> {
  const total = Math.max(clients, Math.round(rate * seconds));
  const result: OpenLoopResult = { latencies: [], sendDelays: [] };
  const start = performance.now() + 20;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; i < total; i += clients) {
        const scheduled = start + (i * 1000) / rate;
        for (let wait = scheduled - performance.now(); wait > 0; wait = scheduled - performance.now()) {
          await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
        }
        result.sendDelays.push(performance.now() - scheduled);
        await send(c, i);
        result.latencies.push(performance.now() - scheduled);
      }
    }),
  );
  return result;
}
