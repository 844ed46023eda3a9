// One watch over a collection (all pods of the controller, all events of a namespace): a local cache
// that is listed once, then kept current from the watch stream, re-listed when the server says the
// stream's position is gone (410), and restarted with back-off after any other failure. No polling.
import { makeInformer, type KubernetesObject, type CoreV1Event, type V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";

export type WatchEvent = "add" | "update" | "delete";

export interface ObjectWatch<T extends KubernetesObject> {
  get(name: string): T | undefined;
  list(): readonly T[];
  on(listener: (event: WatchEvent, object: T) => void): () => void;
  stop(): Promise<void>;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  onError?: (e: unknown) => void;
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

async function watchCollection<T extends KubernetesObject>(
  client: KubeClient,
  resource: string,
  list: (namespace: string, labelSelector?: string) => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
  options: WatchOptions,
): Promise<ObjectWatch<T>> {
  const namespace = options.namespace ?? client.namespace;
  const { labelSelector } = options;
  const informer = makeInformer<T>(client.kubeConfig, `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`, () => list(namespace, labelSelector) as never, labelSelector);
  const listeners = new Set<(event: WatchEvent, object: T) => void>();
  const emit = (event: WatchEvent) => (object: T) => {
    for (const l of listeners) l(event, object);
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

export type PodWatch = ObjectWatch<V1Pod>;

/** Every pod of a namespace that matches the selector. */
export function watchPods(client: KubeClient, options: WatchOptions = {}): Promise<PodWatch> {
  return watchCollection<V1Pod>(client, "pods", (namespace, labelSelector) => client.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }), options);
}

/** Every event of a namespace (the API cannot select the events of a set of pods by label). */
export function watchEvents(client: KubeClient, options: WatchOptions = {}): Promise<ObjectWatch<CoreV1Event>> {
  return watchCollection<CoreV1Event>(client, "events", (namespace) => client.core.listNamespacedEvent({ namespace }), options);
}
