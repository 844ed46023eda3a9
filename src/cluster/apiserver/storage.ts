// Durable object storage on node:sqlite. One global, increasing resourceVersion (like the etcd
// revision) stamps every write; every write also appends to a change log that watches resume from.
// The log is compacted to a bounded length; resuming from before the compaction point is 410 Gone.
//
// Group commit: the writes of one event-loop turn share a transaction, committed before the next
// turn; callers await durable() before answering, and watchers hear of changes only once durable.
// The connection runs with synchronous=NORMAL (a COMMIT writes its WAL frames and returns) and the
// WAL file is fdatasynced here, in libuv's thread pool, never on the serving thread. When depends on
// the sync mode:
//
// - "interval" (the default): a write is durable once committed. Its WAL frames are in the kernel's
//   page cache, so a kill -9 of the server loses nothing acknowledged; the WAL is synced within
//   syncIntervalMs of a commit, so a power cut or kernel crash can lose the writes of that last
//   interval (SQLite's WAL keeps the database consistent either way). This is what lets a write be
//   answered in about a millisecond: on the virtual disks CI runs on, an fdatasync usually takes
//   0.3 ms but comes in clusters of 5-30 ms, and every write waiting for one inherits that tail.
// - "always": a write is durable, its waiters released and its watchers told, only when an fsync
//   that started after its commit has finished, so a power cut loses nothing acknowledged either.
//   While a sync runs the next batch stays open and all writes until it ends share one COMMIT.
//
// Checkpoints (in a worker, checkpointer.ts) keep FULL, so they sync the WAL before copying it into
// the database file. The sync is fdatasync, as SQLite's own on Linux: data and size, not timestamps.
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { CLOSED, ENTERING, WAL_RESTART_BYTES, walSizeLimit, type WriteGate } from "./checkpointer.ts";
import type { KubeObject } from "./types.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface Change {
  type: ChangeType;
  rv: number;
  storageKey: string;
  namespace: string;
  object: KubeObject;
  /** The object before this change (MODIFIED and DELETED); lets selector watches see transitions. */
  previous: KubeObject | undefined;
}

export interface StorageOptions {
  /** How many changes the log keeps for watch resume. */
  historyLength?: number;
  /** Batch the writes of one event-loop turn into one transaction (default true). */
  groupCommit?: boolean;
  /** Leave WAL checkpoints to someone else (a Checkpointer) instead of the writing connection. */
  externalCheckpoints?: boolean;
  /** The Checkpointer's restart size, which bounds the WAL file (see walSizeLimit). */
  walRestartBytes?: number;
  /** The Checkpointer's write gate: a transaction starts only while it is open. */
  writeGate?: WriteGate;
  /** SQLite's busy timeout (tests set 0 to see that writes never wait on SQLite's lock). */
  busyTimeoutMs?: number;
  /** When an acknowledged write is on disk (see the header): within syncIntervalMs (default), or before its answer. */
  sync?: SyncMode;
  /** How long "interval" lets committed writes wait for their fdatasync (default 100 ms). */
  syncIntervalMs?: number;
  /** How the WAL file is synced (tests hold it to see what waits for it). */
  fsync?: (fd: number, callback: (error: Error | null) => void) => void;
}

export type SyncMode = "interval" | "always";

/** Storage.insert found the key taken. */
export class AlreadyStored extends Error {
  constructor() {
    super("an object with this key is already stored");
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One group commit's writes: committed, and durable once a WAL fsync started after it has finished. */
interface Batch {
  rv: number;
  changes: Change[];
  waiters: Waiter[];
}

export type NamespaceState = "missing" | "active" | "terminating";

export interface ListPosition {
  namespace: string;
  name: string;
}

// An object's text is written once, to the change log; the objects table names the change that
// holds each object's current state. Compaction keeps the changes objects still point at: a change
// becomes droppable when its object is written again or deleted (the superseded table lists those
// still inside the history, so compaction deletes by key instead of searching).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL,
  PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
  rv INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, previous TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS superseded (rv INTEGER PRIMARY KEY);
`;

/** Version 2: the objects table points into the change log, and superseded lists the changes no object points at. */
const SCHEMA_VERSION = "2";
const LIST_SUPERSEDED = "INSERT OR IGNORE INTO superseded (rv) SELECT rv FROM changes WHERE rv NOT IN (SELECT rv FROM objects);";

/**
 * Databases written before the text was stored once kept it in objects.data too: each object's text
 * moves to the change at its resourceVersion (recreated below the compaction point, where no watch
 * reads, if compaction had dropped it).
 */
const MIGRATE_OBJECTS_DATA = `
INSERT OR IGNORE INTO changes (rv, kind, namespace, type, data, previous) SELECT rv, kind, namespace, 'ADDED', data, NULL FROM objects;
CREATE TABLE objects_by_change (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL,
  PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID;
INSERT INTO objects_by_change SELECT kind, namespace, name, rv FROM objects;
DROP TABLE objects;
ALTER TABLE objects_by_change RENAME TO objects;
`;

const MAX_REMEMBERED = 10_000;

function cacheKey(storageKey: string, namespace: string, name: string): string {
  return `${storageKey}\u0000${namespace}\u0000${name}`;
}

/** The WAL file of a database in WAL mode, and its directory synced once so the file's name is durable too. */
function openWal(file: string): number | undefined {
  if (file === "" || file === ":memory:") return undefined;
  try {
    const fd = openSync(`${file}-wal`, "r");
    const dir = openSync(dirname(file), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return fd;
  } catch {
    // No WAL file to sync on its own: every COMMIT syncs (synchronous=FULL).
    return undefined;
  }
}

export class Storage {
  readonly #db: DatabaseSync;
  readonly #historyLength: number;
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #statements: Record<string, StatementSync>;
  readonly #groupCommit: boolean;
  readonly #writeGate: WriteGate | undefined;
  #rv: number;
  #committedRV: number;
  #compactedRV: number;
  #writesSinceCompaction = 0;
  #inTransaction = false;
  #uncommitted: Change[] = [];
  #waiters: Waiter[] = [];
  /** The WAL file, synced after commits; undefined when each COMMIT syncs itself (synchronous=FULL). */
  #walFd: number | undefined;
  readonly #fsync: NonNullable<StorageOptions["fsync"]>;
  readonly #syncMode: SyncMode;
  readonly #syncIntervalMs: number;
  /** "interval": the timer of the next sync, whether one runs, and whether commits since it started wait for it. */
  #syncTimer: NodeJS.Timeout | undefined;
  #intervalSyncRunning = false;
  #unsynced = false;
  /** "always": committed batches waiting for the next fsync, and those the running fsync covers. */
  #committed: Batch[] = [];
  #syncing: Batch[] | undefined;
  #durableRV: number;
  #closed = false;
  /**
   * exists()'s answers (every pod create asks whether its service account exists); a write of that
   * key resets its answer. Bounded: forgotten all at once past MAX_REMEMBERED.
   */
  readonly #existing = new Map<string, boolean>();
  /** The JSON text each object returned by a write was stored as, so an answer need not serialise it again. */
  readonly #writtenTexts = new WeakMap<KubeObject, string>();
  /** any()'s answers per kind and namespace (every create asks whether its namespace has quotas); writes of that kind there reset them. */
  readonly #anyIn = new Map<string, boolean>();
  /** Whether each namespace exists and is terminating: asked on every namespaced create. */
  readonly #namespaceStates = new Map<string, NamespaceState>();

  constructor(file: string, options: StorageOptions = {}) {
    this.#historyLength = options.historyLength ?? 20000;
    this.#groupCommit = options.groupCommit ?? true;
    this.#fsync = options.fsync ?? fdatasync;
    this.#syncMode = options.sync ?? "interval";
    this.#syncIntervalMs = options.syncIntervalMs ?? 100;
    this.#writeGate = options.writeGate;
    this.#db = new DatabaseSync(file);
    this.#db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=${options.busyTimeoutMs ?? 5000};`);
    if (options.externalCheckpoints) this.#db.exec(`PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=${walSizeLimit(options.walRestartBytes ?? WAL_RESTART_BYTES)};`);
    this.#db.exec(SCHEMA);
    if ((this.#db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined)?.value !== SCHEMA_VERSION) {
      const movesData = this.#db.prepare("SELECT 1 FROM pragma_table_info('objects') WHERE name = 'data'").get() !== undefined;
      this.#db.exec(`BEGIN IMMEDIATE; ${movesData ? MIGRATE_OBJECTS_DATA : ""} ${LIST_SUPERSEDED} INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', '${SCHEMA_VERSION}'); COMMIT;`);
    }
    // Without group commit every write is answered at once, so its COMMIT has to sync by itself.
    // (The WAL file exists once the schema statement has run.)
    if (this.#groupCommit) this.#walFd = openWal(file);
    if (this.#walFd !== undefined) this.#db.exec("PRAGMA synchronous=NORMAL;");
    const prepare = (sql: string): StatementSync => this.#db.prepare(sql);
    this.#statements = {
      get: prepare("SELECT c.data FROM objects o JOIN changes c ON c.rv = o.rv WHERE o.kind = ? AND o.namespace = ? AND o.name = ?"),
      exists: prepare("SELECT 1 AS found FROM objects WHERE kind = ? AND namespace = ? AND name = ?"),
      anyInNs: prepare("SELECT 1 AS found FROM objects WHERE kind = ? AND namespace = ? LIMIT 1"),
      listAll: prepare("SELECT c.data FROM objects o JOIN changes c ON c.rv = o.rv WHERE o.kind = ? AND (o.namespace, o.name) > (?, ?) ORDER BY o.namespace, o.name"),
      listNs: prepare("SELECT c.data FROM objects o JOIN changes c ON c.rv = o.rv WHERE o.kind = ? AND o.namespace = ? AND o.name > ? ORDER BY o.name"),
      countNs: prepare("SELECT count(*) AS n FROM objects WHERE namespace = ?"),
      upsert: prepare("INSERT OR REPLACE INTO objects (kind, namespace, name, rv) VALUES (?, ?, ?, ?)"),
      insert: prepare("INSERT INTO objects (kind, namespace, name, rv) VALUES (?, ?, ?, ?)"),
      savepoint: prepare("SAVEPOINT write"),
      release: prepare("RELEASE write"),
      rollbackTo: prepare("ROLLBACK TO write"),
      remove: prepare("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?"),
      logChange: prepare("INSERT INTO changes (rv, kind, namespace, type, data, previous) VALUES (?, ?, ?, ?, ?, ?)"),
      changesSince: prepare("SELECT rv, kind, namespace, type, data, previous FROM changes WHERE rv > ? AND kind = ? ORDER BY rv"),
      currentOf: prepare("SELECT rv FROM objects WHERE kind = ? AND namespace = ? AND name = ?"),
      supersede: prepare("INSERT INTO superseded (rv) VALUES (?)"),
      dropChange: prepare("DELETE FROM changes WHERE rv = ?"),
      compact: prepare("DELETE FROM changes WHERE rv IN (SELECT rv FROM superseded WHERE rv <= ?)"),
      compactSuperseded: prepare("DELETE FROM superseded WHERE rv <= ?"),
      setMeta: prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      getMeta: prepare("SELECT value FROM meta WHERE key = ?"),
      kindsInNs: prepare("SELECT DISTINCT kind FROM objects WHERE namespace = ?"),
      containing: prepare("SELECT o.kind, c.data FROM objects o JOIN changes c ON c.rv = o.rv WHERE instr(c.data, ?) > 0"),
    };
    // Every write logs a change at its resourceVersion, and compaction, which may drop the latest
    // change, records the resourceVersion first; so no commit has to write it.
    const lastLogged = (this.#db.prepare("SELECT max(rv) AS rv FROM changes").get() as { rv: number | null }).rv;
    this.#rv = Math.max(Number(this.getMeta("rv") ?? "0"), Number(lastLogged ?? 0));
    this.#committedRV = this.#rv;
    this.#durableRV = this.#rv;
    this.#compactedRV = Number(this.getMeta("compactedRV") ?? "0");
  }

  get currentRV(): number {
    return this.#rv;
  }

  /** The last resourceVersion whose write is on disk. */
  get durableRV(): number {
    return this.#durableRV;
  }

  /** Changes at or before this resourceVersion are no longer in the log. */
  get compactedRV(): number {
    return this.#compactedRV;
  }

  getMeta(key: string): string | undefined {
    const row = this.#statements.getMeta!.get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#statements.setMeta!.run(key, value);
  }

  get(storageKey: string, namespace: string, name: string): KubeObject | undefined {
    const text = this.getText(storageKey, namespace, name);
    return text === undefined ? undefined : (JSON.parse(text) as KubeObject);
  }

  /** The stored JSON text of an object (a GET can answer with it as it is). */
  getText(storageKey: string, namespace: string, name: string): string | undefined {
    return (this.#statements.get!.get(storageKey, namespace, name) as { data: string } | undefined)?.data;
  }

  /** The JSON text of an object as a write returned it (not of copies, nor of objects read back). */
  textOf(stored: KubeObject): string | undefined {
    return this.#writtenTexts.get(stored);
  }

  /** Whether a namespace exists and whether it is being deleted (cached; every write of a namespace resets it). */
  namespaceState(name: string): NamespaceState {
    let state = this.#namespaceStates.get(name);
    if (state === undefined) {
      const ns = this.get("namespaces", "", name);
      state = !ns ? "missing" : ns.metadata.deletionTimestamp ? "terminating" : "active";
      this.#namespaceStates.set(name, state);
    }
    return state;
  }

  /** Whether an object is stored, without reading it. */
  exists(storageKey: string, namespace: string, name: string): boolean {
    const key = cacheKey(storageKey, namespace, name);
    let found = this.#existing.get(key);
    if (found === undefined) {
      if (this.#existing.size >= MAX_REMEMBERED) this.#existing.clear();
      this.#existing.set(key, (found = this.#statements.exists!.get(storageKey, namespace, name) !== undefined));
    }
    return found;
  }

  /** Whether a namespace holds any object of a kind. */
  any(storageKey: string, namespace: string): boolean {
    const key = `${storageKey}\u0000${namespace}`;
    let found = this.#anyIn.get(key);
    if (found === undefined) this.#anyIn.set(key, (found = this.#statements.anyInNs!.get(storageKey, namespace) !== undefined));
    return found;
  }

  /** Objects in key order, starting after `after`; all namespaces when `namespace` is undefined. */
  *list(storageKey: string, namespace: string | undefined, after?: ListPosition): Generator<KubeObject> {
    const rows = namespace === undefined
      ? this.#statements.listAll!.iterate(storageKey, after?.namespace ?? "", after?.name ?? "")
      : this.#statements.listNs!.iterate(storageKey, namespace, after && after.namespace === namespace ? after.name : "");
    for (const row of rows) yield JSON.parse((row as { data: string }).data) as KubeObject;
  }

  /** The storage keys that have objects in a namespace (for namespace deletion). */
  kindsInNamespace(namespace: string): string[] {
    return (this.#statements.kindsInNs!.all(namespace) as { kind: string }[]).map((r) => r.kind);
  }

  /** Every stored object whose JSON text contains `text` (the garbage collector's start-up scan). */
  *containing(text: string): Generator<{ storageKey: string; object: KubeObject }> {
    for (const row of this.#statements.containing!.iterate(text)) {
      const { kind, data } = row as { kind: string; data: string };
      yield { storageKey: kind, object: JSON.parse(data) as KubeObject };
    }
  }

  countInNamespace(namespace: string): number {
    return Number((this.#statements.countNs!.get(namespace) as { n: number }).n);
  }

  /** Writes a new or changed object, stamping it with the next resourceVersion. */
  put(storageKey: string, object: KubeObject, previous: KubeObject | undefined): KubeObject {
    return this.#write(storageKey, object, previous, previous ? "MODIFIED" : "ADDED");
  }

  /** Writes a new object; throws AlreadyStored (and writes nothing) if its key is taken. */
  insert(storageKey: string, object: KubeObject): KubeObject {
    return this.#write(storageKey, object, undefined, "ADDED", true);
  }

  /** Removes an object; the returned last state carries the deletion's resourceVersion. */
  remove(storageKey: string, object: KubeObject): KubeObject {
    return this.#write(storageKey, object, object, "DELETED");
  }

  #write(storageKey: string, object: KubeObject, previous: KubeObject | undefined, type: ChangeType, insertOnly = false): KubeObject {
    const rv = this.#rv + 1;
    const namespace = object.metadata.namespace ?? "";
    const name = object.metadata.name ?? "";
    if (storageKey === "namespaces") this.#namespaceStates.delete(name);
    // apiVersion and kind first, as they are served, so a GET can send the stored text unchanged.
    const head = object.apiVersion !== undefined && object.kind !== undefined ? { apiVersion: object.apiVersion, kind: object.kind } : {};
    const stored: KubeObject = { ...head, ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    const data = JSON.stringify(stored);
    if (!this.#inTransaction) {
      this.#beginPastGate();
      this.#inTransaction = true;
      if (this.#groupCommit) setImmediate(() => this.flush());
    }
    // A savepoint per write, so a failing statement undoes only its own write, not the batch.
    this.#statements.savepoint!.run();
    try {
      if (!insertOnly) {
        const current = this.#statements.currentOf!.get(storageKey, namespace, name) as { rv: number } | undefined;
        if (current) this.#supersede(Number(current.rv));
      }
      if (type === "DELETED") this.#statements.remove!.run(storageKey, namespace, name);
      else if (insertOnly) this.#statements.insert!.run(storageKey, namespace, name, rv);
      else this.#statements.upsert!.run(storageKey, namespace, name, rv);
      this.#statements.logChange!.run(rv, storageKey, namespace, type, data, previous ? JSON.stringify(previous) : null);
      if (type === "DELETED") this.#supersede(rv);
      this.#statements.release!.run();
    } catch (error) {
      this.#statements.rollbackTo!.run();
      this.#statements.release!.run();
      // SQLITE_CONSTRAINT_PRIMARYKEY on the objects table: the key is taken.
      if (insertOnly && (error as { errcode?: number }).errcode === 1555 && String((error as Error).message).includes("objects.")) throw new AlreadyStored();
      throw error;
    }
    this.#rv = rv;
    this.#existing.delete(cacheKey(storageKey, namespace, name));
    this.#anyIn.delete(`${storageKey}\u0000${namespace}`);
    this.#maybeCompact();
    this.#writtenTexts.set(stored, data);
    this.#uncommitted.push({ type, rv, storageKey, namespace, object: stored, previous });
    if (!this.#groupCommit) this.flush();
    return stored;
  }

  /** BEGIN IMMEDIATE once the Checkpointer's write gate is open (checkpointer.ts says why). */
  #beginPastGate(): void {
    const gate = this.#writeGate;
    if (!gate) return this.#db.exec("BEGIN IMMEDIATE");
    for (;;) {
      Atomics.store(gate, ENTERING, 1);
      if (Atomics.load(gate, CLOSED) === 0) break;
      Atomics.store(gate, ENTERING, 0);
      Atomics.notify(gate, ENTERING);
      // Bounded in case the worker is stuck: SQLite's own lock still guards the data.
      Atomics.wait(gate, CLOSED, 1, 5000);
    }
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } finally {
      Atomics.store(gate, ENTERING, 0);
      Atomics.notify(gate, ENTERING);
    }
  }

  /**
   * Commits the open batch; its waiters and watchers hear of it once it is durable. With "always",
   * while a WAL sync runs the batch stays open and is committed when the sync ends: the writes of all
   * the turns in between share one COMMIT (tens of microseconds each) and the next sync.
   */
  flush(): void {
    if (this.#syncing) return;
    this.#commit();
  }

  #commit(): void {
    if (!this.#inTransaction) return;
    const batch: Batch = { rv: this.#rv, changes: this.#uncommitted, waiters: this.#waiters };
    this.#uncommitted = [];
    this.#waiters = [];
    this.#inTransaction = false;
    try {
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#rv = this.#committedRV;
      this.#namespaceStates.clear();
      this.#existing.clear();
      this.#anyIn.clear();
      for (const waiter of batch.waiters) waiter.reject(error);
      return;
    }
    this.#committedRV = this.#rv;
    if (this.#walFd !== undefined && this.#syncMode === "always") {
      this.#committed.push(batch);
      this.#syncCommitted();
      return;
    }
    this.#settle([batch]);
    if (this.#walFd !== undefined) this.#syncSoon();
  }

  /** "interval": syncs the WAL within syncIntervalMs of this commit (one sync covers every commit before it starts). */
  #syncSoon(): void {
    this.#unsynced = true;
    if (this.#syncTimer || this.#intervalSyncRunning) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#intervalSyncRunning = true;
      this.#unsynced = false;
      this.#syncWal((error) => {
        this.#intervalSyncRunning = false;
        // The writes were answered already; the next sync tries again.
        if (error) this.#unsynced = true;
        if (this.#unsynced) this.#syncSoon();
      });
    }, this.#syncIntervalMs);
    this.#syncTimer.unref();
  }

  /** "always": starts an fsync of the WAL for every batch committed since the last one started, unless one is running. */
  #syncCommitted(): void {
    if (this.#syncing || this.#committed.length === 0 || this.#walFd === undefined) return;
    const batches = (this.#syncing = this.#committed);
    this.#committed = [];
    this.#syncWal((error) => {
      this.#syncing = undefined;
      if (error) {
        // The batches are committed (reads see them) but maybe not on disk: their writers get an
        // error, and watchers still hear of them, so they stay consistent with what reads return.
        for (const batch of batches) for (const waiter of batch.waiters) waiter.reject(error);
        for (const batch of batches) batch.waiters = [];
      }
      this.#settle(batches);
      this.#commit();
      this.#syncCommitted();
    });
  }

  /** fdatasyncs the WAL in the thread pool; `done` runs unless the storage closed meanwhile, in which case the descriptor is closed here. */
  #syncWal(done: (error: Error | null) => void): void {
    const fd = this.#walFd!;
    this.#fsync(fd, (error) => {
      if (this.#closed) {
        closeSync(fd);
        return;
      }
      if (error) console.error("berth apiserver: fsync of the write-ahead log failed", error);
      done(error);
    });
  }

  /** Durable batches: waiters first (their answers may go out), then watchers, in resourceVersion order. */
  #settle(batches: Batch[]): void {
    this.#durableRV = batches[batches.length - 1]?.rv ?? this.#durableRV;
    for (const batch of batches) for (const waiter of batch.waiters) waiter.resolve();
    for (const batch of batches) for (const change of batch.changes) for (const listener of this.#listeners) listener(change);
  }

  /** Resolves once every write made so far is durable. */
  durable(): Promise<void> {
    const batch = this.#inTransaction ? undefined : (this.#committed[this.#committed.length - 1] ?? this.#syncing?.[this.#syncing.length - 1]);
    if (!this.#inTransaction && !batch) return Promise.resolve();
    return new Promise((resolve, reject) => (batch ? batch.waiters : this.#waiters).push({ resolve, reject }));
  }

  #maybeCompact(): void {
    if (++this.#writesSinceCompaction < 1000) return;
    this.#writesSinceCompaction = 0;
    const keepFrom = this.#rv - this.#historyLength;
    if (keepFrom <= this.#compactedRV) return;
    this.compact(keepFrom);
  }

  /** A change no object points at any more: gone at once if compaction has passed it, else at the next compaction. */
  #supersede(rv: number): void {
    if (rv <= this.#compactedRV) this.#statements.dropChange!.run(rv);
    else this.#statements.supersede!.run(rv);
  }

  /** Drops the change log up to and including `rv`, except the changes that hold objects' current state. */
  compact(rv: number): void {
    this.#statements.compact!.run(rv);
    this.#statements.compactSuperseded!.run(rv);
    this.#compactedRV = rv;
    this.setMeta("compactedRV", String(rv));
    this.setMeta("rv", String(this.#rv));
  }

  /** Logged changes of one kind after `rv`, oldest first. */
  changesSince(storageKey: string, rv: number): Change[] {
    return (this.#statements.changesSince!.all(rv, storageKey) as { rv: number; kind: string; namespace: string; type: string; data: string; previous: string | null }[]).map((row) => ({
      type: row.type as ChangeType,
      rv: Number(row.rv),
      storageKey: row.kind,
      namespace: row.namespace,
      object: JSON.parse(row.data) as KubeObject,
      previous: row.previous ? (JSON.parse(row.previous) as KubeObject) : undefined,
    }));
  }

  /** Listeners run after each commit, once per change, in resourceVersion order. */
  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#commit();
    const fd = this.#walFd;
    if (fd !== undefined) {
      this.#walFd = undefined;
      const pending = [...(this.#syncing ?? []), ...this.#committed];
      this.#committed = [];
      clearTimeout(this.#syncTimer);
      // A clean stop leaves everything on disk, in either mode.
      if (pending.length > 0 || this.#unsynced || this.#intervalSyncRunning) {
        fdatasyncSync(fd);
        this.#settle(pending);
      }
      this.#closed = true;
      // A running fsync still uses the descriptor: its callback closes it.
      if (!this.#syncing && !this.#intervalSyncRunning) closeSync(fd);
    }
    this.#listeners.clear();
    this.#db.close();
  }
}
