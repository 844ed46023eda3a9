// The garbage collector: what kube-controller-manager's GC does for ownerReferences, run beside the
// API server. It keeps an index from owner uid to dependents (objects whose metadata.ownerReferences
// name that uid), follows every committed change, and acts through the REST store like any client:
// - an owner is gone (Background, or no policy): a dependent with no other live owner is deleted
//   (with the Foreground policy itself if it blocks an owner that is waiting for it); a dependent that
//   still has a live owner only loses the dangling reference;
// - an owner carries the `foregroundDeletion` finalizer (Foreground): its dependents are deleted, and
//   the finalizer is removed once no dependent with `blockOwnerDeletion: true` is left;
// - an owner carries the `orphan` finalizer (Orphan): its reference is removed from every dependent,
//   then the finalizer.
// References to kinds this server does not store are left alone.
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type PropagationPolicy, type RestStore } from "./rest.ts";
import { findKind, storedType } from "./resources.ts";
import { ApiError } from "./status.ts";
import type { Change, Storage } from "./storage.ts";
import type { KubeObject } from "./types.ts";

const MANAGER = "garbage-collector";
/** Work items handled per event-loop turn, so a large cascade does not starve requests. */
const BATCH = 200;

interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  blockOwnerDeletion?: boolean;
}

function refsOf(obj: KubeObject | undefined): OwnerRef[] {
  const refs = obj?.metadata.ownerReferences;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is Record<string, unknown> & OwnerRef => typeof r.uid === "string" && typeof r.kind === "string" && typeof r.name === "string" && typeof r.apiVersion === "string");
}

function keyOf(storageKey: string, namespace: string, name: string): string {
  return `${storageKey}\u0000${namespace}\u0000${name}`;
}

function splitKey(key: string): [storageKey: string, namespace: string, name: string] {
  return key.split("\u0000") as [string, string, string];
}

function objectKey(storageKey: string, obj: KubeObject): string {
  return keyOf(storageKey, obj.metadata.namespace ?? "", obj.metadata.name ?? "");
}

const hasFinalizer = (obj: KubeObject, finalizer: string): boolean => (obj.metadata.finalizers ?? []).includes(finalizer);

export class GarbageCollector {
  readonly #store: RestStore;
  readonly #storage: Storage;
  /** owner uid → keys of the objects that reference it. */
  readonly #dependents = new Map<string, Set<string>>();
  /** Owners waiting for their dependents (foregroundDeletion): uid → key. */
  readonly #waiting = new Map<string, string>();
  /** Pending work: key → what to do with the object there. */
  readonly #queue = new Map<string, "dependent" | "owner">();
  readonly #unsubscribe: () => void;
  #scheduled: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(store: RestStore) {
    this.#store = store;
    this.#storage = store.storage;
    this.#unsubscribe = this.#storage.subscribe((change) => this.#observe(change));
    // Start-up: index what is stored, and finish what a previous run left half done.
    for (const { storageKey, object } of this.#storage.containing('"ownerReferences"')) {
      const key = objectKey(storageKey, object);
      for (const ref of refsOf(object)) this.#index(ref.uid, key, true);
      this.#enqueue(key, "dependent");
    }
    for (const { storageKey, object } of this.#storage.containing('"deletionTimestamp"')) {
      if (hasFinalizer(object, ORPHAN_FINALIZER) || hasFinalizer(object, FOREGROUND_FINALIZER)) this.#enqueue(objectKey(storageKey, object), "owner");
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#queue.clear();
  }

  /** How many objects reference this owner uid (for tests and diagnostics). */
  dependentsOf(uid: string): number {
    return this.#dependents.get(uid)?.size ?? 0;
  }

  #index(uid: string, key: string, add: boolean): void {
    let set = this.#dependents.get(uid);
    if (add) {
      if (!set) this.#dependents.set(uid, (set = new Set()));
      set.add(key);
    } else if (set) {
      set.delete(key);
      if (set.size === 0) this.#dependents.delete(uid);
    }
  }

  #observe(change: Change): void {
    if (this.#stopped) return;
    const obj = change.object;
    const key = objectKey(change.storageKey, obj);
    const before = refsOf(change.previous);
    const after = change.type === "DELETED" ? [] : refsOf(obj);
    const refsChanged = before.length !== after.length || before.some((r, i) => r.uid !== after[i]?.uid || r.blockOwnerDeletion !== after[i]?.blockOwnerDeletion);
    if (refsChanged) {
      for (const ref of before) if (!after.some((r) => r.uid === ref.uid)) this.#index(ref.uid, key, false);
      for (const ref of after) this.#index(ref.uid, key, true);
      // A new reference may point at an owner that does not exist.
      if (after.some((ref) => !before.some((r) => r.uid === ref.uid))) this.#enqueue(key, "dependent");
    }
    // Owners waiting for this object look again when it goes or its references change.
    if (change.type === "DELETED" || refsChanged) {
      for (const ref of [...before, ...after]) {
        const owner = this.#waiting.get(ref.uid);
        if (owner) this.#enqueue(owner, "owner");
      }
    }
    const uid = obj.metadata.uid;
    if (change.type === "DELETED") {
      if (uid) {
        this.#waiting.delete(uid);
        for (const dependent of this.#dependents.get(uid) ?? []) this.#enqueue(dependent, "dependent");
      }
      return;
    }
    if (obj.metadata.deletionTimestamp && (hasFinalizer(obj, ORPHAN_FINALIZER) || hasFinalizer(obj, FOREGROUND_FINALIZER))) this.#enqueue(key, "owner");
  }

  #enqueue(key: string, work: "dependent" | "owner"): void {
    // Owner work includes looking at the object as a dependent later; keep the stronger one.
    if (this.#queue.get(key) !== "owner") this.#queue.set(key, work);
    if (!this.#scheduled && !this.#stopped) this.#scheduled = setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = undefined;
    let done = 0;
    for (const [key, work] of this.#queue) {
      if (this.#stopped || done++ >= BATCH) break;
      this.#queue.delete(key);
      try {
        if (work === "owner") this.#processOwner(key);
        else this.#processDependent(key);
      } catch (error) {
        // A conflict or a vanished object means another writer got there first: look again.
        if (error instanceof ApiError && (error.code === 409 || error.code === 404)) this.#enqueue(key, work);
        else if (!(error instanceof ApiError)) console.error("berth apiserver: garbage collector:", error);
      }
    }
    if (this.#queue.size > 0 && !this.#stopped && !this.#scheduled) this.#scheduled = setImmediate(() => this.#drain());
  }

  #load(key: string): { object: KubeObject; storageKey: string } | undefined {
    const [storageKey, namespace, name] = splitKey(key);
    const object = this.#storage.get(storageKey, namespace, name);
    return object ? { object, storageKey } : undefined;
  }

  /** Looks at an object whose owners may be gone or going (attemptToDelete in the real GC). */
  #processDependent(key: string): void {
    const loaded = this.#load(key);
    if (!loaded) return;
    const { object, storageKey } = loaded;
    const rt = storedType(storageKey);
    const refs = refsOf(object);
    if (!rt || refs.length === 0) return;
    // Already being deleted, unless it is itself waiting for its own dependents.
    if (object.metadata.deletionTimestamp && !hasFinalizer(object, FOREGROUND_FINALIZER)) return;
    const solid: OwnerRef[] = [];
    const dangling: OwnerRef[] = [];
    const waiting: OwnerRef[] = [];
    for (const ref of refs) {
      const ownerType = findKind(ref.apiVersion, ref.kind);
      if (!ownerType || (ownerType.namespaced && !object.metadata.namespace)) {
        solid.push(ref);
        continue;
      }
      const owner = this.#storage.get(ownerType.storageKey, ownerType.namespaced ? (object.metadata.namespace ?? "") : "", ref.name);
      if (!owner || owner.metadata.uid !== ref.uid) dangling.push(ref);
      else if (owner.metadata.deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }
    if (solid.length > 0) {
      const gone = new Set([...dangling, ...waiting].map((r) => r.uid));
      if (gone.size === 0) return;
      this.#store.updateMetadata(rt, object, (meta) => {
        meta.ownerReferences = (meta.ownerReferences ?? []).filter((r) => !gone.has(String(r.uid)));
      }, MANAGER);
      return;
    }
    if (object.metadata.deletionTimestamp) return;
    let policy: PropagationPolicy = "Background";
    if (hasFinalizer(object, ORPHAN_FINALIZER)) policy = "Orphan";
    else if (hasFinalizer(object, FOREGROUND_FINALIZER)) policy = "Foreground";
    // It blocks an owner that waits for it, and has dependents of its own: they go first.
    else if (waiting.some((r) => r.blockOwnerDeletion === true) && this.dependentsOf(object.metadata.uid ?? "") > 0) policy = "Foreground";
    this.#store.delete(rt, object.metadata.namespace, object.metadata.name ?? "", { propagationPolicy: policy, preconditions: { uid: object.metadata.uid } }, new URLSearchParams());
  }

  /** An owner being deleted with the Orphan or Foreground policy. */
  #processOwner(key: string): void {
    const loaded = this.#load(key);
    if (!loaded) return;
    const { object, storageKey } = loaded;
    const rt = storedType(storageKey);
    const uid = object.metadata.uid ?? "";
    if (!rt || !object.metadata.deletionTimestamp) {
      this.#waiting.delete(uid);
      return;
    }
    const dependents = [...(this.#dependents.get(uid) ?? [])].flatMap((k) => {
      const found = this.#load(k);
      return found ? [{ key: k, ...found }] : [];
    });
    if (hasFinalizer(object, ORPHAN_FINALIZER)) {
      for (const dependent of dependents) {
        const depType = storedType(dependent.storageKey);
        if (!depType) continue;
        this.#store.updateMetadata(depType, dependent.object, (meta) => {
          meta.ownerReferences = (meta.ownerReferences ?? []).filter((r) => r.uid !== uid);
        }, MANAGER);
      }
      this.#removeFinalizer(rt, key, ORPHAN_FINALIZER);
      return;
    }
    if (!hasFinalizer(object, FOREGROUND_FINALIZER)) return;
    this.#waiting.set(uid, key);
    const blocking = dependents.filter((d) => refsOf(d.object).some((r) => r.uid === uid && r.blockOwnerDeletion === true));
    if (blocking.length === 0) {
      this.#waiting.delete(uid);
      this.#removeFinalizer(rt, key, FOREGROUND_FINALIZER);
      // Dependents that did not block go once the owner is gone (as dangling references).
      return;
    }
    for (const dependent of dependents) if (!dependent.object.metadata.deletionTimestamp) this.#processDependent(dependent.key);
  }

  #removeFinalizer(rt: NonNullable<ReturnType<typeof storedType>>, key: string, finalizer: string): void {
    const current = this.#load(key);
    if (!current || !hasFinalizer(current.object, finalizer)) return;
    this.#store.updateMetadata(rt, current.object, (meta) => {
      meta.finalizers = (meta.finalizers ?? []).filter((f) => f !== finalizer);
    }, MANAGER);
  }
}
