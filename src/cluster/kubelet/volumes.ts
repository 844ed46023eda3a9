// Volumes as host directories, prepared before the sandbox starts: the runtime only bind-mounts them at
// each container's mountPath. Layout: <podDir>/volumes/<volume name>; persistentVolumeClaims live in a
// directory per claim (<claimsDir>/<namespace>/<claim>-<claim uid>) that outlives pods. Files of
// configMap, secret, downwardAPI and projected volumes are written once at pod start (not refreshed).
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { chmod, chown, lstat, readdir, rm } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { promisify } from "node:util";
import type { Mount } from "../runtime/cri.ts";
import { isNotFound, paths, type ApiClient, type Obj } from "../client/api.ts";
import { quantityValue } from "../client/quantity.ts";
import { fieldRefValue, resourceFieldValue } from "./env.ts";

const run = promisify(execFile);

/** A volume that could not be set up; the kubelet reports FailedMount and retries. */
export class VolumeError extends Error {
  readonly volume: string;
  constructor(volume: string, message: string) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
    this.volume = volume;
  }
}

export interface VolumeContext {
  client: ApiClient;
  podDir: string;
  claimsDir: string;
  nodeAllocatable: Record<string, string>;
  /** Whether tmpfs can be mounted for emptyDir medium Memory (root). */
  canMount: boolean;
}

export interface PreparedVolumes {
  hostPaths: Map<string, string>;
  /** tmpfs mount points to unmount at teardown. */
  memoryMounts: string[];
  warnings: string[];
}

interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

function safeJoin(base: string, relative: string): string {
  const target = normalize(join(base, relative));
  if (!target.startsWith(base + "/") && target !== base) throw new Error(`invalid path ${relative}`);
  return target;
}

function writeEntries(dir: string, entries: { path: string; data: Buffer; mode: number }[]): void {
  mkdirSync(dir, { recursive: true });
  for (const entry of entries) {
    const file = safeJoin(dir, entry.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, entry.data);
    chmodSync(file, entry.mode);
  }
}

/** The (path, bytes) pairs of a configMap/secret source: all keys, or the listed items. */
function keyFiles(data: Map<string, Buffer>, items: KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean): { path: string; data: Buffer; mode: number }[] {
  if (!items || items.length === 0) return [...data].map(([key, bytes]) => ({ path: key, data: bytes, mode: defaultMode }));
  const out: { path: string; data: Buffer; mode: number }[] = [];
  for (const item of items) {
    const bytes = data.get(item.key);
    if (!bytes) {
      if (optional) continue;
      throw new Error(`configmap references non-existent config key: ${item.key}`.replace("configmap", what));
    }
    out.push({ path: item.path, data: bytes, mode: item.mode ?? defaultMode });
  }
  return out;
}

async function fetchOptional(client: ApiClient, path: string): Promise<Obj | undefined> {
  try {
    return await client.get(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function configMapData(cm: Obj): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) data.set(k, Buffer.from(v));
  for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) data.set(k, Buffer.from(v, "base64"));
  return data;
}

function secretData(secret: Obj): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) data.set(k, Buffer.from(v, "base64"));
  return data;
}

async function sourceFiles(ctx: VolumeContext, pod: Obj, source: Obj, kind: "configMap" | "secret", defaultMode: number): Promise<{ path: string; data: Buffer; mode: number }[]> {
  const namespace = String(pod.metadata.namespace);
  const name = String(kind === "secret" ? (source.secretName ?? source.name) : source.name);
  const obj = await fetchOptional(ctx.client, paths.named(namespace, kind === "secret" ? "secrets" : "configmaps", name));
  if (!obj) {
    if (source.optional) return [];
    throw new Error(`${kind === "secret" ? "secret" : "configmap"} "${name}" not found`);
  }
  return keyFiles(kind === "secret" ? secretData(obj) : configMapData(obj), source.items as KeyToPath[] | undefined, source.defaultMode ?? defaultMode, kind === "secret" ? "secret" : "configmap", source.optional === true);
}

function downwardFiles(ctx: VolumeContext, pod: Obj, items: Obj[], defaultMode: number): { path: string; data: Buffer; mode: number }[] {
  return items.map((item) => {
    const value = item.fieldRef ? fieldRefValue(pod, String(item.fieldRef.fieldPath)) : resourceFieldValue(pod, undefined, item.resourceFieldRef as Obj, ctx.nodeAllocatable);
    return { path: String(item.path), data: Buffer.from(value), mode: item.mode ?? defaultMode };
  });
}

async function tokenFile(ctx: VolumeContext, pod: Obj, source: Obj): Promise<{ path: string; data: Buffer; mode: number }> {
  const sa = String(pod.spec?.serviceAccountName ?? "default");
  const answer = await ctx.client.create(`${paths.named(String(pod.metadata.namespace), "serviceaccounts", sa)}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: {
      audiences: source.audience ? [source.audience] : [],
      expirationSeconds: source.expirationSeconds ?? 3607,
      boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
    },
  });
  return { path: String(source.path), data: Buffer.from(String(answer.status?.token ?? "")), mode: 0o644 };
}

/**
 * fsGroup: the volume's files belong to the group and are group-readable (and -writable unless the volume
 * is read-only by nature), directories get the setgid bit so that new files inherit the group. As the
 * kubelet's SetVolumeOwnership does, including for a persistentVolumeClaim with policy OnRootMismatch
 * (skipped when the root already has the group and the setgid bit).
 */
export async function setVolumeOwnership(dir: string, gid: number, readOnly: boolean, onRootMismatch = false): Promise<void> {
  if (onRootMismatch) {
    const root = await lstat(dir);
    if (root.gid === gid && (root.mode & 0o2000) !== 0) return;
  }
  const fileMask = readOnly ? 0o440 : 0o660;
  const walk = async (path: string): Promise<void> => {
    const stat = await lstat(path);
    if (stat.isSymbolicLink()) return;
    await chown(path, stat.uid, gid);
    if (stat.isDirectory()) {
      await chmod(path, (stat.mode & 0o7777) | fileMask | 0o110 | 0o2000);
      for (const entry of await readdir(path)) await walk(join(path, entry));
    } else {
      await chmod(path, (stat.mode & 0o7777) | fileMask);
    }
  };
  await walk(dir);
}

async function applyFsGroup(pod: Obj, volume: Obj, dir: string, result: PreparedVolumes): Promise<void> {
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  if (typeof fsGroup !== "number" || volume.hostPath) return;
  const readOnly = Boolean(volume.configMap ?? volume.secret ?? volume.downwardAPI ?? volume.projected);
  const onRootMismatch = volume.persistentVolumeClaim !== undefined && pod.spec?.securityContext?.fsGroupChangePolicy === "OnRootMismatch";
  try {
    await setVolumeOwnership(dir, fsGroup, readOnly, onRootMismatch);
  } catch (error) {
    result.warnings.push(`fsGroup ${fsGroup} is not applied to volume "${String(volume.name)}": ${(error as Error).message}`);
  }
}

async function prepareOne(ctx: VolumeContext, pod: Obj, volume: Obj, result: PreparedVolumes): Promise<void> {
  const name = String(volume.name);
  const dir = join(ctx.podDir, "volumes", name);
  if (volume.hostPath) {
    const path = String(volume.hostPath.path);
    const type = String(volume.hostPath.type ?? "");
    const exists = existsSync(path);
    const stat = exists ? statSync(path) : undefined;
    if (type === "DirectoryOrCreate" && !exists) mkdirSync(path, { recursive: true, mode: 0o755 });
    else if (type === "FileOrCreate" && !exists) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, "");
    } else if (type === "Directory" && !stat?.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`);
    else if (type === "File" && !stat?.isFile()) throw new Error(`hostPath type check failed: ${path} is not a file`);
    else if (type === "Socket" && !stat?.isSocket()) throw new Error(`hostPath type check failed: ${path} is not a socket file`);
    result.hostPaths.set(name, path);
    return;
  }
  if (volume.persistentVolumeClaim) {
    const claimName = String(volume.persistentVolumeClaim.claimName);
    const namespace = String(pod.metadata.namespace);
    const claim = await fetchOptional(ctx.client, paths.named(namespace, "persistentvolumeclaims", claimName));
    if (!claim) throw new Error(`persistentvolumeclaim "${claimName}" not found`);
    const claimDir = join(ctx.claimsDir, namespace, `${claimName}-${String(claim.metadata.uid)}`);
    mkdirSync(claimDir, { recursive: true });
    if (claim.status?.phase !== "Bound") {
      // No volume controller runs here: the kubelet provisions the directory, so the claim is bound now.
      const storage = claim.spec?.resources?.requests?.storage;
      await ctx.client
        .mergePatch(`${paths.named(namespace, "persistentvolumeclaims", claimName)}/status`, { status: { phase: "Bound", accessModes: claim.spec?.accessModes, ...(storage ? { capacity: { storage } } : {}) } })
        .catch(() => undefined);
    }
    result.hostPaths.set(name, claimDir);
    await applyFsGroup(pod, volume, claimDir, result);
    return;
  }
  mkdirSync(dir, { recursive: true });
  result.hostPaths.set(name, dir);
  if (volume.emptyDir) {
    if (volume.emptyDir.medium === "Memory") {
      if (!ctx.canMount) {
        result.warnings.push(`emptyDir "${name}" with medium Memory is a plain directory: mounting tmpfs needs root`);
        return;
      }
      const limit = quantityValue(volume.emptyDir.sizeLimit);
      await run("mount", ["-t", "tmpfs", "-o", limit ? `size=${Math.ceil(limit)}` : "size=50%", "tmpfs", dir]);
      result.memoryMounts.push(dir);
    }
    // World-writable, as the kubelet makes every emptyDir: containers of one pod may run as different users.
    chmodSync(dir, 0o777);
    await applyFsGroup(pod, volume, dir, result);
    return;
  }
  const defaultMode = (volume.configMap ?? volume.secret ?? volume.downwardAPI ?? volume.projected)?.defaultMode ?? 0o644;
  if (volume.configMap) writeEntries(dir, await sourceFiles(ctx, pod, volume.configMap as Obj, "configMap", defaultMode));
  else if (volume.secret) writeEntries(dir, await sourceFiles(ctx, pod, volume.secret as Obj, "secret", defaultMode));
  else if (volume.downwardAPI) writeEntries(dir, downwardFiles(ctx, pod, (volume.downwardAPI.items ?? []) as Obj[], defaultMode));
  else if (volume.projected) {
    const files: { path: string; data: Buffer; mode: number }[] = [];
    for (const source of (volume.projected.sources ?? []) as Obj[]) {
      if (source.configMap) files.push(...(await sourceFiles(ctx, pod, source.configMap as Obj, "configMap", defaultMode)));
      else if (source.secret) files.push(...(await sourceFiles(ctx, pod, source.secret as Obj, "secret", defaultMode)));
      else if (source.downwardAPI) files.push(...downwardFiles(ctx, pod, (source.downwardAPI.items ?? []) as Obj[], defaultMode));
      else if (source.serviceAccountToken) files.push(await tokenFile(ctx, pod, source.serviceAccountToken as Obj));
    }
    writeEntries(dir, files);
  } else if (!volume.emptyDir) {
    result.warnings.push(`volume "${name}" has a type this kubelet does not support; it is an empty directory`);
  }
  await applyFsGroup(pod, volume, dir, result);
}

/** Prepares every volume of the pod; throws VolumeError naming the first that fails. */
export async function prepareVolumes(ctx: VolumeContext, pod: Obj, previous?: PreparedVolumes): Promise<PreparedVolumes> {
  const result: PreparedVolumes = previous ?? { hostPaths: new Map(), memoryMounts: [], warnings: [] };
  for (const volume of (pod.spec?.volumes ?? []) as Obj[]) {
    if (result.hostPaths.has(String(volume.name))) continue;
    try {
      await prepareOne(ctx, pod, volume, result);
    } catch (error) {
      throw new VolumeError(String(volume.name), (error as Error).message);
    }
  }
  return result;
}

/** The runtime mounts of one container (subPath resolved, created on demand). */
export function containerMounts(container: Obj, volumes: PreparedVolumes): Mount[] {
  return ((container.volumeMounts ?? []) as Obj[]).flatMap((m) => {
    const base = volumes.hostPaths.get(String(m.name));
    if (!base) return [];
    let hostPath = base;
    if (m.subPath) {
      hostPath = safeJoin(base, String(m.subPath));
      if (!existsSync(hostPath)) mkdirSync(hostPath, { recursive: true });
    }
    return [{ containerPath: String(m.mountPath), hostPath, readonly: m.readOnly === true }];
  });
}

/** Unmounts tmpfs volumes and deletes the pod directory (claims and hostPaths stay). */
export async function teardownVolumes(podDir: string, volumes: PreparedVolumes | undefined): Promise<void> {
  for (const mount of volumes?.memoryMounts ?? []) await run("umount", ["-l", mount]).catch(() => undefined);
  // Asynchronous: a burst of deletions must not stall the event loop the whole cluster shares.
  await rm(podDir, { recursive: true, force: true });
}
