// What a fresh cluster contains, and the small controllers that real clusters run beside the API
// server and clients rely on: every namespace gets a `default` ServiceAccount and the
// `kube-root-ca.crt` ConfigMap; a deleted namespace is emptied and then removed; registered nodes;
// the ownerReferences garbage collector (gc.ts).
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { GarbageCollector } from "./gc.ts";
import type { RestStore } from "./rest.ts";
import { findResource, type ResourceType } from "./resources.ts";
import { ApiError } from "./status.ts";
import type { KubeObject } from "./types.ts";
import { KUBERNETES_VERSION } from "./discovery.ts";

const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

function resource(plural: string): ResourceType {
  return findResource("", "v1", plural) as ResourceType;
}

function createIfMissing(store: RestStore, rt: ResourceType, namespace: string | undefined, obj: KubeObject): void {
  if (store.storage.get(rt.storageKey, namespace ?? "", obj.metadata.name ?? "")) return;
  try {
    store.create(rt, namespace, obj, new URLSearchParams());
  } catch (error) {
    // A namespace being deleted refuses new content; that is expected, not a failure.
    if (!(error instanceof ApiError) || (error.code !== 403 && error.code !== 409)) throw error;
  }
}

export function populateNamespace(store: RestStore, namespace: string, caCertPem: string): void {
  createIfMissing(store, resource("serviceaccounts"), namespace, { metadata: { name: "default" } });
  createIfMissing(store, resource("configmaps"), namespace, {
    metadata: { name: "kube-root-ca.crt", annotations: { "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } },
    data: { "ca.crt": caCertPem },
  });
}

export function nodeObject(name: string): KubeObject {
  const capacity = {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: "110",
    "ephemeral-storage": "100Gi",
  };
  const goArch = arch() === "x64" ? "amd64" : arch();
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": goArch, "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": goArch } },
    spec: {},
    status: {
      capacity,
      allocatable: capacity,
      // No kubelet has reported yet; the kubelet issue turns this into Ready.
      conditions: [{ type: "Ready", status: "Unknown", reason: "NodeStatusNeverUpdated", message: "Kubelet never posted node status.", lastHeartbeatTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") }],
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: hostname() },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
      nodeInfo: {
        machineID: "",
        systemUUID: "",
        bootID: "",
        kernelVersion: release(),
        osImage: "berth embedded node",
        containerRuntimeVersion: "berth://0.1.0",
        kubeletVersion: KUBERNETES_VERSION.gitVersion,
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: goArch,
      },
    },
  };
}

export interface ClusterControllers {
  /** The ownerReferences garbage collector (gc.ts). */
  gc: GarbageCollector;
  /** Cancels pending background work; call before closing the storage. */
  stop(): void;
}

const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const WORKLOAD_RESOURCES = ["pods", "pods/log", "pods/status", "configmaps", "events", "persistentvolumeclaims", "resourcequotas", "serviceaccounts"];

/** The default cluster roles of a real cluster, reduced to the resources this server has. */
const DEFAULT_CLUSTER_ROLES: KubeObject[] = [
  { metadata: { name: "cluster-admin" }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, { nonResourceURLs: ["*"], verbs: ["*"] }] },
  { metadata: { name: "view" }, rules: [{ apiGroups: [""], resources: WORKLOAD_RESOURCES, verbs: READ }, { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: READ }] },
  {
    metadata: { name: "edit" },
    rules: [
      { apiGroups: [""], resources: [...WORKLOAD_RESOURCES, "secrets", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"], verbs: [...READ, ...WRITE] },
      { apiGroups: ["events.k8s.io", "coordination.k8s.io"], resources: ["events", "leases"], verbs: [...READ, ...WRITE] },
      { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
    ],
  },
  {
    metadata: { name: "admin" },
    rules: [
      { apiGroups: [""], resources: [...WORKLOAD_RESOURCES, "secrets", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"], verbs: [...READ, ...WRITE] },
      { apiGroups: ["events.k8s.io", "coordination.k8s.io"], resources: ["events", "leases"], verbs: [...READ, ...WRITE] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: [...READ, ...WRITE] },
      { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
    ],
  },
];

function seedRbac(store: RestStore): void {
  const clusterRoles = findResource("rbac.authorization.k8s.io", "v1", "clusterroles") as ResourceType;
  const bindings = findResource("rbac.authorization.k8s.io", "v1", "clusterrolebindings") as ResourceType;
  for (const role of DEFAULT_CLUSTER_ROLES) createIfMissing(store, clusterRoles, undefined, { ...role, metadata: { ...role.metadata, labels: { "kubernetes.io/bootstrapping": "rbac-defaults" } } });
  createIfMissing(store, bindings, undefined, {
    metadata: { name: "cluster-admin", labels: { "kubernetes.io/bootstrapping": "rbac-defaults" } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:masters" }],
  });
}

/** Seeds a new data directory and wires the namespace controllers into the store. */
export function bootstrapCluster(store: RestStore, caCertPem: string, nodeCount: number): ClusterControllers {
  const pending = new Map<string, NodeJS.Immediate>();
  let stopped = false;
  store.hooks = {
    namespaceCreated: (name) => populateNamespace(store, name, caCertPem),
    namespaceNeedsFinalizing: (name) => {
      if (stopped || pending.has(name)) return;
      pending.set(
        name,
        setImmediate(() => {
          pending.delete(name);
          if (!stopped) store.finalizeNamespaceContent(name);
        }),
      );
    },
  };
  seedRbac(store);
  const namespaces = resource("namespaces");
  for (const name of SYSTEM_NAMESPACES) createIfMissing(store, namespaces, undefined, { metadata: { name } });
  for (const ns of store.storage.list(namespaces.storageKey, undefined)) {
    const name = ns.metadata.name as string;
    if (ns.metadata.deletionTimestamp) store.hooks.namespaceNeedsFinalizing(name);
    else populateNamespace(store, name, caCertPem);
  }
  for (let i = 1; i <= nodeCount; i++) createIfMissing(store, resource("nodes"), undefined, nodeObject(`node-${i}`));
  const gc = new GarbageCollector(store);
  return {
    gc,
    stop: () => {
      stopped = true;
      gc.stop();
      for (const immediate of pending.values()) clearImmediate(immediate);
      pending.clear();
    },
  };
}
