// One watch per cloud and namespace for all of the controller's pods (selected by label): a local
// cache that is listed once, then kept current from the watch stream, re-listed when the server says
// the stream's position is gone (410), and restarted with back-off after any other failure. No polling.
import { makeInformer, type V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";

export type PodEvent = "add" | "update" | "delete";

export interface PodWatch {
  get(name: string): V1Pod | undefined;
  list(): readonly V1Pod[];
  on(listener: (event: PodEvent, pod: V1Pod) => void): () => void;
  stop(): Promise<void>;
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

export async function watchPods(client: KubeClient, options: { namespace?: string; labelSelector?: string; onError?: (e: unknown) => void } = {}): Promise<PodWatch> {
  const namespace = options.namespace ?? client.namespace;
  const labelSelector = options.labelSelector;
  const informer = makeInformer(
    client.kubeConfig,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
    () => client.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }),
    labelSelector,
  );
  const listeners = new Set<(event: PodEvent, pod: V1Pod) => void>();
  const emit = (event: PodEvent) => (pod: V1Pod) => {
    for (const l of listeners) l(event, pod);
  };
  informer.on("add", emit("add"));
  informer.on("update", emit("update"));
  informer.on("delete", emit("delete"));

  let stopped = false;
  let restartDelay = RESTART_MIN_MS;
  let restartTimer: NodeJS.Timeout | undefined;
  informer.on("connect", () => {
    restartDelay = RESTART_MIN_MS;
  });
  // The library stops the informer on any error but 410; keep it alive.
  informer.on("error", (error: unknown) => {
    if (stopped) return;
    options.onError?.(error);
    restartTimer = setTimeout(() => void informer.start().catch(() => {}), restartDelay);
    restartDelay = Math.min(RESTART_MAX_MS, restartDelay * 2);
  });
  await informer.start();

  return {
    get: (name) => informer.get(name, namespace),
    list: () => informer.list(namespace),
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}
