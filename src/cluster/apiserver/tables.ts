// meta.k8s.io/v1 Table responses for `kubectl get` (reference §3.6): column definitions and cells
// per kind, computed on the server exactly because kubectl prints them as given.
import type { ResourceType } from "./resources.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";

interface Column {
  name: string;
  type: "string" | "integer" | "date";
  format?: string;
  description: string;
  priority?: number;
  cell: (obj: KubeObject, now: Date) => unknown;
}

/** Go's duration.HumanDuration, which is what the Age column shows. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 === 0 ? `${minutes}m` : `${minutes}m${s % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
}

function age(time: unknown, now: Date): string {
  if (typeof time !== "string") return "<unknown>";
  return humanDuration((now.getTime() - Date.parse(time)) / 1000);
}

function records(value: unknown): JsonRecord[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function rec(value: unknown): JsonRecord {
  return isRecord(value) ? value : {};
}

const nameColumn: Column = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
  cell: (o) => o.metadata.name ?? "",
};

const ageColumn: Column = {
  name: "Age",
  type: "string",
  description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
  cell: (o, now) => age(o.metadata.creationTimestamp, now),
};

/** The STATUS cell of a pod, following kubectl's printPod (reference §3.6). */
export function podStatusReason(pod: KubeObject): string {
  const status = rec(pod.status);
  let reason = String(status.reason ?? status.phase ?? "Pending");
  const initStatuses = records(status.initContainerStatuses);
  const initCount = records(rec(pod.spec).initContainers).length;
  let initializing = false;
  for (const [i, cs] of initStatuses.entries()) {
    const state = rec(cs.state);
    const terminated = rec(state.terminated);
    const waiting = rec(state.waiting);
    if (state.terminated && terminated.exitCode === 0) continue;
    initializing = true;
    if (state.terminated) {
      reason = terminated.reason ? `Init:${String(terminated.reason)}` : terminated.signal ? `Init:Signal:${String(terminated.signal)}` : `Init:ExitCode:${String(terminated.exitCode)}`;
    } else if (state.waiting && waiting.reason && waiting.reason !== "PodInitializing") {
      reason = `Init:${String(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    break;
  }
  if (!initializing) {
    let hasRunning = false;
    const statuses = records(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const state = rec(statuses[i]?.state);
      const waiting = rec(state.waiting);
      const terminated = rec(state.terminated);
      if (waiting.reason) reason = String(waiting.reason);
      else if (terminated.reason) reason = String(terminated.reason);
      else if (state.terminated) reason = terminated.signal ? `Signal:${String(terminated.signal)}` : `ExitCode:${String(terminated.exitCode)}`;
      else if (state.running && statuses[i]?.ready) hasRunning = true;
    }
    if (reason === "Completed" && hasRunning) {
      const ready = records(status.conditions).some((c) => c.type === "Ready" && c.status === "True");
      reason = ready ? "Running" : "NotReady";
    }
  }
  if (pod.metadata.deletionTimestamp && status.phase !== "Succeeded" && status.phase !== "Failed") {
    reason = status.reason === "NodeLost" ? "Unknown" : "Terminating";
  }
  return reason;
}

function podRestarts(pod: KubeObject, now: Date): string {
  let restarts = 0;
  let lastFinished: number | undefined;
  for (const cs of records(rec(pod.status).containerStatuses)) {
    restarts += Number(cs.restartCount ?? 0);
    const finished = rec(rec(cs.lastState).terminated).finishedAt;
    if (typeof finished === "string") lastFinished = Math.max(lastFinished ?? 0, Date.parse(finished));
  }
  return lastFinished !== undefined && restarts > 0 ? `${restarts} (${humanDuration((now.getTime() - lastFinished) / 1000)} ago)` : String(restarts);
}

const podColumns: Column[] = [
  nameColumn,
  { name: "Ready", type: "string", description: "The aggregate readiness state of this pod for accepting traffic.", cell: (o) => `${records(rec(o.status).containerStatuses).filter((c) => c.ready === true).length}/${records(rec(o.spec).containers).length}` },
  { name: "Status", type: "string", description: "The aggregate status of the containers in this pod.", cell: podStatusReason },
  { name: "Restarts", type: "string", description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", cell: podRestarts },
  ageColumn,
  { name: "IP", type: "string", priority: 1, description: "The IP address assigned to the pod", cell: (o) => String(rec(o.status).podIP ?? "<none>") },
  { name: "Node", type: "string", priority: 1, description: "The name of the node to which the pod is scheduled", cell: (o) => String(rec(o.spec).nodeName ?? "<none>") },
  { name: "Nominated Node", type: "string", priority: 1, description: "The name of the node where the pod is nominated", cell: (o) => String(rec(o.status).nominatedNodeName ?? "<none>") },
  { name: "Readiness Gates", type: "string", priority: 1, description: "The readiness gates of the pod", cell: (o) => (records(rec(o.spec).readinessGates).length ? `${records(rec(o.spec).readinessGates).length}` : "<none>") },
];

function nodeStatus(node: KubeObject): string {
  const ready = records(rec(node.status).conditions).find((c) => c.type === "Ready");
  let text = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
  if (rec(node.spec).unschedulable === true) text += ",SchedulingDisabled";
  return text;
}

function nodeRoles(node: KubeObject): string {
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length));
  return roles.length ? roles.sort().join(",") : "<none>";
}

function count(value: unknown): number {
  return isRecord(value) ? Object.keys(value).length : 0;
}

function involvedObject(event: KubeObject): string {
  const io = rec(event.involvedObject);
  return `${String(io.kind ?? "").toLowerCase()}/${String(io.name ?? "")}`;
}

function eventTime(event: KubeObject): unknown {
  return event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp;
}

const COLUMNS: Record<string, Column[]> = {
  pods: podColumns,
  namespaces: [nameColumn, { name: "Status", type: "string", description: "The status of the namespace", cell: (o) => String(rec(o.status).phase ?? "") }, ageColumn],
  nodes: [
    nameColumn,
    { name: "Status", type: "string", description: "The status of the node", cell: nodeStatus },
    { name: "Roles", type: "string", description: "The roles of the node", cell: nodeRoles },
    ageColumn,
    { name: "Version", type: "string", description: "Kubelet Version reported by the node.", cell: (o) => String(rec(rec(o.status).nodeInfo).kubeletVersion ?? "") },
    { name: "Internal-IP", type: "string", priority: 1, description: "List of internal IPs in the node.", cell: (o) => String(records(rec(o.status).addresses).find((a) => a.type === "InternalIP")?.address ?? "<none>") },
    { name: "External-IP", type: "string", priority: 1, description: "List of external IPs in the node.", cell: (o) => String(records(rec(o.status).addresses).find((a) => a.type === "ExternalIP")?.address ?? "<none>") },
    { name: "OS-Image", type: "string", priority: 1, description: "OS Image reported by the node.", cell: (o) => String(rec(rec(o.status).nodeInfo).osImage ?? "<unknown>") },
    { name: "Kernel-Version", type: "string", priority: 1, description: "Kernel Version reported by the node.", cell: (o) => String(rec(rec(o.status).nodeInfo).kernelVersion ?? "<unknown>") },
    { name: "Container-Runtime", type: "string", priority: 1, description: "Container Runtime Version reported by the node.", cell: (o) => String(rec(rec(o.status).nodeInfo).containerRuntimeVersion ?? "<unknown>") },
  ],
  events: [
    { name: "Last Seen", type: "string", description: "The time of the last occurrence.", cell: (o, now) => age(eventTime(o), now) },
    { name: "Type", type: "string", description: "Type of this event (Normal, Warning).", cell: (o) => String(o.type ?? "") },
    { name: "Reason", type: "string", description: "Short, machine understandable string.", cell: (o) => String(o.reason ?? "") },
    { name: "Object", type: "string", description: "The object this event is about.", cell: involvedObject },
    { name: "Message", type: "string", description: "A human-readable description of the status of this operation.", cell: (o) => String(o.message ?? "") },
    { name: "Subobject", type: "string", priority: 1, description: "The field path of the involved object.", cell: (o) => String(rec(o.involvedObject).fieldPath ?? "") },
    { name: "Source", type: "string", priority: 1, description: "The component reporting this event.", cell: (o) => String(rec(o.source).component ?? o.reportingComponent ?? "") },
    { name: "First Seen", type: "string", priority: 1, description: "The time of the first occurrence.", cell: (o, now) => age(o.firstTimestamp ?? eventTime(o), now) },
    { name: "Count", type: "string", priority: 1, description: "The number of times this event has occurred.", cell: (o) => String(o.count ?? 1) },
    { name: "Name", type: "string", priority: 1, description: "The name of the event.", cell: (o) => o.metadata.name ?? "" },
  ],
  services: [
    nameColumn,
    { name: "Type", type: "string", description: "The type of the service", cell: (o) => String(rec(o.spec).type ?? "ClusterIP") },
    { name: "Cluster-IP", type: "string", description: "The cluster IP", cell: (o) => String(rec(o.spec).clusterIP ?? "<none>") },
    { name: "External-IP", type: "string", description: "The external IPs", cell: (o) => (Array.isArray(rec(o.spec).externalIPs) ? (rec(o.spec).externalIPs as string[]).join(",") : "<none>") },
    { name: "Port(s)", type: "string", description: "The ports", cell: (o) => records(rec(o.spec).ports).map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ""}/${String(p.protocol ?? "TCP")}`).join(",") || "<none>" },
    ageColumn,
    { name: "Selector", type: "string", priority: 1, description: "The selector", cell: (o) => Object.entries(rec(rec(o.spec).selector)).map(([k, v]) => `${k}=${String(v)}`).join(",") || "<none>" },
  ],
  configmaps: [nameColumn, { name: "Data", type: "integer", description: "Number of data entries", cell: (o) => count(o.data) + count(o.binaryData) }, ageColumn],
  secrets: [nameColumn, { name: "Type", type: "string", description: "The type of the secret", cell: (o) => String(o.type ?? "") }, { name: "Data", type: "integer", description: "Number of data entries", cell: (o) => count(o.data) }, ageColumn],
  serviceaccounts: [nameColumn, { name: "Secrets", type: "integer", description: "Number of secrets", cell: (o) => (Array.isArray(o.secrets) ? o.secrets.length : 0) }, ageColumn],
  persistentvolumeclaims: [
    nameColumn,
    { name: "Status", type: "string", description: "The phase of the claim", cell: (o) => String(rec(o.status).phase ?? "") },
    { name: "Volume", type: "string", description: "The bound volume", cell: (o) => String(rec(o.spec).volumeName ?? "") },
    { name: "Capacity", type: "string", description: "The capacity of the volume", cell: (o) => String(rec(rec(o.status).capacity).storage ?? "") },
    { name: "Access Modes", type: "string", description: "The access modes", cell: (o) => (Array.isArray(rec(o.status).accessModes) ? (rec(o.status).accessModes as string[]).map(shortAccessMode).join(",") : "") },
    { name: "StorageClass", type: "string", description: "The storage class", cell: (o) => String(rec(o.spec).storageClassName ?? "<unset>") },
    { name: "VolumeAttributesClass", type: "string", description: "The volume attributes class", cell: (o) => String(rec(o.spec).volumeAttributesClassName ?? "<unset>") },
    ageColumn,
    { name: "VolumeMode", type: "string", priority: 1, description: "The volume mode", cell: (o) => String(rec(o.spec).volumeMode ?? "") },
  ],
};

function shortAccessMode(mode: string): string {
  return ({ ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP" } as Record<string, string>)[mode] ?? mode;
}

const DEFAULT_COLUMNS: Column[] = [
  nameColumn,
  { name: "Created At", type: "date", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", cell: (o) => o.metadata.creationTimestamp ?? "" },
];

function columnsFor(rt: ResourceType): Column[] {
  return (rt.group === "" ? COLUMNS[rt.plural] : undefined) ?? DEFAULT_COLUMNS;
}

export type IncludeObject = "None" | "Metadata" | "Object";

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return obj;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

export function buildTable(rt: ResourceType, objects: KubeObject[], listMeta: JsonRecord, include: IncludeObject, now = new Date()): JsonRecord {
  const columns = columnsFor(rt);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: columns.map(({ name, type, format, description, priority }) => ({ name, type, format: format ?? "", description, priority: priority ?? 0 })),
    rows: objects.map((obj) => {
      const phase = rec(obj.status).phase;
      const terminal = rt.plural === "pods" && (phase === "Succeeded" || phase === "Failed");
      return {
        cells: columns.map((c) => c.cell(obj, now)),
        ...(terminal ? { conditions: [{ type: "Completed", status: "True", reason: String(phase), message: "The pod has completed successfully." }] } : {}),
        object: rowObject(obj, include),
      };
    }),
  };
}
