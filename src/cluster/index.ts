// The embedded cluster as the CLI sees it: one call that brings up the control plane over a data
// directory. Today that is the API server; the scheduler and kubelet join in the next issue.
import { startApiServer, type RunningApiServer } from "./apiserver/index.ts";

export interface ClusterOptions {
  dataDir: string;
  port?: number;
  nodes?: number;
}

export type RunningCluster = RunningApiServer;

export function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  return startApiServer({ dataDir: options.dataDir, port: options.port, nodes: options.nodes });
}
