// One client per cloud: the typed core API over the flow-controlled HTTP layer, the namespace it works
// in, and the call counters. Everything in Berth that talks to Kubernetes goes through here.
import {
  CoreV1Api,
  ServerConfiguration,
  createConfiguration,
  setHeaderMiddleware,
  wrapHttpLibrary,
  type KubeConfig,
} from "@kubernetes/client-node";
import { connect, type ConnectionSettings } from "./connect.ts";
import { FlowControlledHttp, type ApiCallStats, type FlowControlOptions } from "./http.ts";

export interface KubeClient {
  core: CoreV1Api;
  kubeConfig: KubeConfig;
  namespace: string;
  /** How the connection was configured (for the build log and `berth` diagnostics). */
  source: string;
  stats: ApiCallStats;
}

export function createKubeClient(settings: ConnectionSettings, flow: FlowControlOptions = {}): KubeClient {
  const connection = connect(settings);
  const cluster = connection.kubeConfig.getCurrentCluster()!;
  const http = new FlowControlledHttp(flow);
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: connection.kubeConfig },
    httpApi: wrapHttpLibrary(http),
    middleware: [setHeaderMiddleware("User-Agent", "berth/0.1")],
  });
  return {
    core: new CoreV1Api(configuration),
    kubeConfig: connection.kubeConfig,
    namespace: connection.namespace,
    source: connection.source,
    stats: http.stats,
  };
}
