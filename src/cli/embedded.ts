// Where `berth run` finds its cluster when it has no kubeconfig: a cluster already started with
// `berth cluster start` (it leaves `cluster.json` in its data directory, by default under the Berth
// home), or else one started in this process for the run and stopped after it. The cluster code is
// imported only when one is started here: it is heavy, and the controller never imports it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** Berth's own directory: jobs, builds, and the default cluster's data. */
export function berthHome(): string {
  return process.env["BERTH_HOME"] ?? join(homedir(), ".berth");
}

export function defaultClusterDir(): string {
  return join(berthHome(), "cluster");
}

interface ClusterRecord {
  url: string;
  kubeconfig: string;
  pid: number;
}

export function recordRunningCluster(dataDir: string, url: string, kubeconfig: string): () => void {
  const file = join(dataDir, "cluster.json");
  writeFileSync(file, `${JSON.stringify({ url, kubeconfig, pid: process.pid } satisfies ClusterRecord)}\n`);
  return () => rmSync(file, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The kubeconfig of a running cluster started with `berth cluster start`, if one answers. */
export async function findRunningCluster(dataDir = defaultClusterDir()): Promise<ClusterRecord | undefined> {
  const file = join(dataDir, "cluster.json");
  if (!existsSync(file)) return undefined;
  let record: ClusterRecord;
  try {
    record = JSON.parse(readFileSync(file, "utf8")) as ClusterRecord;
  } catch {
    return undefined;
  }
  if (!alive(record.pid) || !existsSync(record.kubeconfig)) return undefined;
  // /readyz answers anonymous requests. This only asks whether the process still serves; the
  // certificate is checked against the kubeconfig's CA by every real request after.
  const ready = await new Promise<boolean>((resolve) => {
    const req = httpsGet(new URL("/readyz", record.url), { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
  return ready ? record : undefined;
}

export interface EmbeddedCluster {
  kubeconfig: string;
  /** How the run got it, for its log. */
  description: string;
  stop(): Promise<void>;
}

/** Reuses a running cluster or starts one for this run. */
export async function embeddedCluster(): Promise<EmbeddedCluster> {
  const running = await findRunningCluster();
  if (running) return { kubeconfig: running.kubeconfig, description: `the embedded cluster at ${running.url} (pid ${running.pid})`, stop: async () => {} };
  const { startCluster } = await import("../cluster/index.ts");
  const dataDir = mkdtempSync(join(tmpdir(), "berth-run-cluster-"));
  const cluster = await startCluster({ dataDir, port: 0 });
  return {
    kubeconfig: cluster.kubeconfigPath,
    description: `an embedded cluster started for this run at ${cluster.url}`,
    stop: async () => {
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
