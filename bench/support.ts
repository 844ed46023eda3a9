// Shared by the benchmarks: the embedded cluster as a separate `berth cluster start` process (so the
// benchmark process's own memory and CPU are its own), and percentiles.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** `dataDir` defaults to a fresh temporary directory; `$BERTH_HOME/cluster` makes `berth run` reuse it. */
export async function startClusterProcess(dataDir = mkdtempSync(join(tmpdir(), "berth-bench-"))): Promise<{ kubeconfig: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["bin/berth.js", "cluster", "start", "--data-dir", dataDir, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`cluster exited with ${code}`)));
  });
  return {
    kubeconfig: join(dataDir, "kubeconfig"),
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.on("exit", r));
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
