// A whole embedded cluster (API server, scheduler, kubelets, process runtime) on a free port in a
// temporary data directory, plus small async helpers for end-to-end tests.
import { startCluster, type ClusterOptions, type RunningCluster } from "../../../src/cluster/index.ts";
import { call } from "../helpers/server.ts";
import { startInDataDir } from "../../support/temp-dir.ts";
export { run, type Result } from "../helpers/kubectl.ts";

export interface TestCluster extends RunningCluster {
  dataDir: string;
  dispose(): Promise<void>;
}

export function startTestCluster(options: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  return startInDataDir("berth-cluster-", (dataDir) => startCluster({ port: 0, nodes: 1, ...options, dataDir }));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary Kubernetes JSON
export type Loose = any;

/** Polls until `probe` returns a value other than undefined; fails after a generous timeout. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function getPod(cluster: RunningCluster, namespace: string, name: string): Promise<Loose> {
  const answer = await call(cluster, "GET", `/api/v1/namespaces/${namespace}/pods/${name}`);
  return answer.status === 200 ? answer.body : undefined;
}

export async function createPod(cluster: RunningCluster, namespace: string, pod: Loose): Promise<Loose> {
  const answer = await call(cluster, "POST", `/api/v1/namespaces/${namespace}/pods`, { apiVersion: "v1", kind: "Pod", ...pod });
  if (answer.status !== 201) throw new Error(`create failed: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function createNamespace(cluster: RunningCluster, name: string): Promise<void> {
  await call(cluster, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

export async function podEvents(cluster: RunningCluster, namespace: string, name: string): Promise<Loose[]> {
  const answer = await call(cluster, "GET", `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.name=${name}`);
  return answer.body.items;
}

/** Waits until a container status satisfies the predicate. */
export function untilContainer(cluster: RunningCluster, namespace: string, name: string, container: string, predicate: (status: Loose) => boolean, timeoutMs?: number): Promise<Loose> {
  return until(`${namespace}/${name} container ${container}`, async () => {
    const pod = await getPod(cluster, namespace, name);
    const statuses = [...(pod?.status?.containerStatuses ?? []), ...(pod?.status?.initContainerStatuses ?? [])];
    const status = statuses.find((s: Loose) => s.name === container);
    return status && predicate(status) ? status : undefined;
  }, timeoutMs);
}

