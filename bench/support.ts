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
