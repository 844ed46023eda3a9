// Shared by controller and step tests: a build log that keeps its lines, and a controller on a whole
// embedded cluster (API server, scheduler, kubelet, process runtime) with its agent endpoint.
import type { BuildLog } from "../../src/controller/provisioner.ts";
import { Controller } from "../../src/controller/provisioner.ts";
import { startAgentEndpoint, type AgentHub } from "../../src/controller/agent-hub.ts";
import { createKubeClient, type KubeClient } from "../../src/kube/client.ts";
import type { Cloud, PodTemplate } from "../../src/templates/model.ts";
import { startTestCluster } from "../cluster/kubelet/helpers.ts";

export class Log implements BuildLog {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

/** Images matching `*:broken` cannot be pulled on this cluster. */
export async function startEmbeddedController(t: { after(fn: () => unknown): void }, templates: PodTemplate[]): Promise<{ controller: Controller; client: KubeClient; hub: AgentHub }> {
  const cluster = await startTestCluster({ runtime: { imagePolicy: { unavailable: ["*:broken"] } } });
  // A failed start leaves nothing running, and no directory behind.
  const endpoint = await startAgentEndpoint({ log: () => {} }).catch(async (error: unknown) => {
    await cluster.dispose();
    throw error;
  });
  const cloud: Cloud = { name: "embedded", namespace: "default", podLabels: { jenkins: "slave" }, podRetention: "never", templates };
  const controller = await Controller.start({
    clouds: [cloud],
    hub: endpoint.hub,
    controllerUrl: endpoint.url,
    connectionFor: () => ({ kubeconfig: cluster.kubeconfigPath }),
    failFast: { imagePullBackOffs: 1, unschedulableMs: 1000 },
    quotaRetryMs: 300,
    log: () => {},
  }).catch(async (error: unknown) => {
    await endpoint.close();
    await cluster.dispose();
    throw error;
  });
  // One hook, in dependency order: the controller still needs the cluster to clean up its pods. The
  // cluster (and its directory) goes even when stopping the others fails.
  t.after(async () => {
    try {
      await controller.stop();
      await endpoint.close();
    } finally {
      await cluster.dispose();
    }
  });
  return { controller, client: createKubeClient({ kubeconfig: cluster.kubeconfigPath }), hub: endpoint.hub };
}
