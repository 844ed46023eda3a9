import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Storage, type Change } from "../../../src/cluster/apiserver/storage.ts";
import { Checkpointer, createWriteGate, walSizeLimit } from "../../../src/cluster/apiserver/checkpointer.ts";

async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "berth-storage-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("group commit: one turn's writes commit together; durable() and watchers come after the commit", async () => {
  await inTempDir(async (dir) => {
    const storage = new Storage(join(dir, "state.db"));
    const seen: Change[] = [];
    storage.subscribe((change) => seen.push(change));
    const a = storage.put("configmaps", { metadata: { name: "a", namespace: "default" } }, undefined);
    const b = storage.put("configmaps", { metadata: { name: "b", namespace: "default" } }, undefined);
    storage.remove("configmaps", a);
    assert.equal(Number(b.metadata.resourceVersion), Number(a.metadata.resourceVersion) + 1);
    assert.equal(storage.get("configmaps", "default", "b")?.metadata.name, "b", "the writer reads its own writes");
    assert.equal(seen.length, 0, "watchers hear nothing before the commit");
    await storage.durable();
    assert.deepEqual(seen.map((c) => `${c.type} ${c.object.metadata.name} ${c.rv}`), [`ADDED a ${a.metadata.resourceVersion}`, `ADDED b ${b.metadata.resourceVersion}`, `DELETED a ${storage.currentRV}`]);
    const reader = new Storage(join(dir, "state.db"));
    assert.equal(reader.currentRV, storage.currentRV);
    assert.equal(reader.get("configmaps", "default", "a"), undefined);
    reader.close();
    storage.close();
  });
});

test("sync \"always\": the WAL fsync runs off the event loop; answers and watchers wait for it; writes made meanwhile are committed together when it ends and wait for the next one", async () => {
  await inTempDir(async (dir) => {
    const syncs: ((error: Error | null) => void)[] = [];
    const storage = new Storage(join(dir, "state.db"), { sync: "always", fsync: (_fd, callback) => syncs.push(callback) });
    const seen: string[] = [];
    storage.subscribe((change) => seen.push(change.object.metadata.name ?? ""));
    let firstDurable = false;
    let secondDurable = false;
    storage.put("configmaps", { metadata: { name: "a", namespace: "default" } }, undefined);
    void storage.durable().then(() => (firstDurable = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(syncs.length, 1, "the commit started an fsync");
    const reader = new Storage(join(dir, "state.db"), { groupCommit: false });
    assert.ok(reader.get("configmaps", "default", "a"), "committed before the fsync");
    reader.close();
    storage.put("configmaps", { metadata: { name: "b", namespace: "default" } }, undefined);
    void storage.durable().then(() => (secondDurable = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(syncs.length, 1, "one fsync at a time");
    storage.put("configmaps", { metadata: { name: "c", namespace: "default" } }, undefined);
    await new Promise((resolve) => setImmediate(resolve));
    const outside = new Storage(join(dir, "state.db"), { groupCommit: false });
    assert.equal(outside.get("configmaps", "default", "b"), undefined, "writes made during a sync wait for its end to commit");
    outside.close();
    assert.deepEqual([firstDurable, secondDurable, seen], [false, false, []], "nothing is durable before its fsync");
    assert.ok(storage.durableRV < storage.currentRV);
    syncs.shift()?.(null);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([firstDurable, secondDurable, seen], [true, false, ["a"]], "an fsync that started before a commit does not cover it");
    assert.equal(syncs.length, 1, "the next fsync covers the write committed meanwhile");
    syncs.shift()?.(null);
    await storage.durable();
    assert.deepEqual([secondDurable, seen], [true, ["a", "b", "c"]]);
    assert.equal(storage.durableRV, storage.currentRV);
    storage.close();
  });
});

test("sync \"interval\" (the default): a write is answered and its watchers told once committed; the WAL is synced within the interval, one sync at a time", async (t) => {
  t.mock.method(console, "error", () => {});
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await inTempDir(async (dir) => {
    const syncs: ((error: Error | null) => void)[] = [];
    const storage = new Storage(join(dir, "state.db"), { syncIntervalMs: 20, fsync: (_fd, callback) => syncs.push(callback) });
    try {
      const seen: string[] = [];
      storage.subscribe((change) => seen.push(change.object.metadata.name ?? ""));
      storage.put("configmaps", { metadata: { name: "a", namespace: "default" } }, undefined);
      await storage.durable();
      assert.deepEqual(seen, ["a"], "watchers hear of a write at its commit");
      assert.equal(storage.durableRV, storage.currentRV);
      assert.equal(syncs.length, 0, "the sync comes later");
      await sleep(80);
      assert.equal(syncs.length, 1, "a sync within the interval");
      storage.put("configmaps", { metadata: { name: "b", namespace: "default" } }, undefined);
      await storage.durable();
      assert.deepEqual(seen, ["a", "b"], "a running sync holds nobody up");
      await sleep(80);
      assert.equal(syncs.length, 1, "one sync at a time");
      syncs.shift()?.(null);
      await sleep(80);
      assert.equal(syncs.length, 1, "the write committed during the sync gets one of its own");
      syncs.shift()?.(new Error("EIO"));
      await sleep(80);
      assert.equal(syncs.length, 1, "a failed sync is tried again");
      syncs.shift()?.(null);
      await sleep(80);
      assert.equal(syncs.length, 0, "nothing left to sync");
    } finally {
      storage.close();
    }
  });
});

test("close syncs what is committed and tells its waiters", async () => {
  await inTempDir(async (dir) => {
    const storage = new Storage(join(dir, "state.db"), { sync: "always", fsync: () => {} });
    storage.put("configmaps", { metadata: { name: "a", namespace: "default" } }, undefined);
    const durable = storage.durable();
    await new Promise((resolve) => setImmediate(resolve));
    storage.close();
    await durable;
    const reader = new Storage(join(dir, "state.db"));
    assert.ok(reader.get("configmaps", "default", "a"));
    reader.close();
  });
});

test("compaction keeps the changes that hold objects' current state and drops the rest", async () => {
  await inTempDir(async (dir) => {
    const storage = new Storage(join(dir, "state.db"), { groupCommit: false });
    const kept = storage.put("configmaps", { metadata: { name: "kept", namespace: "default" } }, undefined);
    let churned = storage.put("configmaps", { metadata: { name: "churned", namespace: "default" } }, undefined);
    for (let i = 0; i < 3; i++) churned = storage.put("configmaps", { ...churned, data: { i: String(i) } }, churned);
    storage.compact(storage.currentRV);
    assert.deepEqual(storage.get("configmaps", "default", "kept"), kept);
    assert.deepEqual([...storage.list("configmaps", "default")].map((o) => o.metadata.name), ["churned", "kept"]);
    assert.deepEqual(storage.changesSince("configmaps", storage.compactedRV), [], "changes at or before the compaction point are not served");
    const { DatabaseSync } = await import("node:sqlite");
    const logged = (): number[] => {
      const db = new DatabaseSync(join(dir, "state.db"));
      const rvs = (db.prepare("SELECT rv FROM changes ORDER BY rv").all() as { rv: number }[]).map((r) => Number(r.rv));
      db.close();
      return rvs;
    };
    assert.deepEqual(logged(), [Number(kept.metadata.resourceVersion), Number(churned.metadata.resourceVersion)], "the superseded changes are gone");
    churned = storage.put("configmaps", { ...churned, data: { i: "again" } }, churned);
    storage.remove("configmaps", storage.get("configmaps", "default", "kept")!);
    assert.deepEqual(logged(), [Number(churned.metadata.resourceVersion), storage.currentRV], "a current state passed by compaction goes as soon as it is superseded; the new changes stay until compacted");
    storage.compact(storage.currentRV);
    assert.deepEqual(logged(), [Number(churned.metadata.resourceVersion)]);
    const last = storage.currentRV;
    storage.close();
    const reopened = new Storage(join(dir, "state.db"), { groupCommit: false });
    assert.equal(reopened.currentRV, last, "the resourceVersion of a compacted-away deletion is not handed out again");
    reopened.put("configmaps", { metadata: { name: "after", namespace: "default" } }, undefined);
    reopened.close();
    const again = new Storage(join(dir, "state.db"), { groupCommit: false });
    assert.equal(again.currentRV, last + 1, "without compaction the change log gives the resourceVersion");
    again.close();
  });
});

test("a database that kept object texts in the objects table is migrated: reads, lists and watch resume work on", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  await inTempDir(async (dir) => {
    const file = join(dir, "state.db");
    const old = new DatabaseSync(file);
    old.exec(`PRAGMA journal_mode=WAL;
      CREATE TABLE objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID;
      CREATE TABLE changes (rv INTEGER PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, previous TEXT);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    const text = (name: string, rv: number): string => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default", resourceVersion: String(rv) } });
    // "a" was written at rv 1, whose change is compacted away; "b" at rv 3, still in the log.
    old.prepare("INSERT INTO objects VALUES (?, ?, ?, ?, ?)").run("configmaps", "default", "a", 1, text("a", 1));
    old.prepare("INSERT INTO objects VALUES (?, ?, ?, ?, ?)").run("configmaps", "default", "b", 3, text("b", 3));
    old.prepare("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?)").run(3, "configmaps", "default", "ADDED", text("b", 3), null);
    old.exec("INSERT INTO meta VALUES ('rv', '3'), ('compactedRV', '2')");
    old.close();
    const storage = new Storage(file, { groupCommit: false });
    assert.equal(storage.getText("configmaps", "default", "a"), text("a", 1));
    assert.deepEqual([...storage.list("configmaps", "default")].map((o) => o.metadata.resourceVersion), ["1", "3"]);
    assert.deepEqual(storage.changesSince("configmaps", 2).map((c) => `${c.type} ${c.object.metadata.name}`), ["ADDED b"]);
    const c = storage.put("configmaps", { metadata: { name: "c", namespace: "default" } }, undefined);
    assert.equal(c.metadata.resourceVersion, "4");
    storage.close();
    const reopened = new Storage(file, { groupCommit: false });
    assert.deepEqual([...reopened.list("configmaps", "default")].map((o) => o.metadata.name), ["a", "b", "c"]);
    reopened.close();
  });
});

test("remembered existence follows writes: created, deleted, and a failed commit forgets", async () => {
  await inTempDir(async (dir) => {
    const storage = new Storage(join(dir, "state.db"));
    assert.equal(storage.exists("serviceaccounts", "default", "default"), false);
    assert.equal(storage.any("resourcequotas", "default"), false);
    const sa = storage.put("serviceaccounts", { metadata: { name: "default", namespace: "default" } }, undefined);
    storage.put("resourcequotas", { metadata: { name: "q", namespace: "default" } }, undefined);
    assert.equal(storage.exists("serviceaccounts", "default", "default"), true);
    assert.equal(storage.any("resourcequotas", "default"), true);
    storage.remove("serviceaccounts", sa);
    assert.equal(storage.exists("serviceaccounts", "default", "default"), false);
    await storage.durable();
    storage.close();
  });
});

/** The WAL header's checkpoint sequence number: it grows by one each time the WAL starts over. */
function walSequence(file: string): number {
  const header = Buffer.alloc(16);
  const fd = openSync(`${file}-wal`, "r");
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(12);
}

async function withCheckpointedStorage(restartBytes: number, body: (storage: Storage, file: string) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    const file = join(dir, "state.db");
    const writeGate = createWriteGate();
    // No busy timeout: a write that had to wait on SQLite's lock instead of the gate fails.
    const storage = new Storage(file, { externalCheckpoints: true, walRestartBytes: restartBytes, writeGate, busyTimeoutMs: 0 });
    const checkpointer = new Checkpointer(file, { writeGate, intervalMs: 20, restartBytes });
    try {
      await body(storage, file);
    } finally {
      await checkpointer.stop();
      storage.close();
    }
  });
}

const data = { text: "x".repeat(2000) };

test("after a pause in writes the WAL starts over by itself, in the same file", async () => {
  await withCheckpointedStorage(2 ** 30, async (storage, file) => {
    for (let i = 0; i < 200; i++) storage.put("configmaps", { metadata: { name: `c${i}`, namespace: "default" }, data }, undefined);
    await storage.durable();
    const before = walSequence(file);
    const size = statSync(`${file}-wal`).size;
    await new Promise((resolve) => setTimeout(resolve, 200));
    storage.put("configmaps", { metadata: { name: "after-the-pause", namespace: "default" } }, undefined);
    await storage.durable();
    assert.equal(walSequence(file), before + 1, "the WAL started over");
    assert.equal(statSync(`${file}-wal`).size, size, "its file is reused, not truncated");
    assert.ok(storage.get("configmaps", "default", "c0") && storage.get("configmaps", "default", "after-the-pause"));
  });
});

test("under writes that never pause, the WAL is started over once it passes its restart size, writes wait for that at the gate, and nothing written is lost", async () => {
  const restartBytes = 256 * 1024;
  await withCheckpointedStorage(restartBytes, async (storage, file) => {
    const walSize = () => statSync(`${file}-wal`).size;
    let written = 0;
    let largest = 0;
    let largestAfterRestart = 0;
    let restarts = 0;
    let sequence = 0;
    // Writes in every turn, as a busy server makes them, so a passive checkpoint never catches up.
    for (let turn = 0; turn < 5_000 && restarts < 3; turn++) {
      for (let i = 0; i < 10; i++) storage.put("configmaps", { metadata: { name: `c${written++}`, namespace: "default" }, data }, undefined);
      await new Promise((resolve) => setImmediate(resolve));
      if (turn === 0) sequence = walSequence(file);
      largest = Math.max(largest, walSize());
      const now = walSequence(file);
      if (now > sequence) largestAfterRestart = Math.max(largestAfterRestart, walSize());
      restarts += now - sequence;
      sequence = now;
    }
    await storage.durable();
    assert.ok(restarts >= 3, `the WAL started over (${restarts} times, largest ${largest} bytes)`);
    assert.ok(largestAfterRestart <= walSizeLimit(restartBytes), `the file is cut back to its limit when it starts over (${largestAfterRestart} bytes; largest ${largest})`);
    for (const i of [0, Math.floor(written / 2), written - 1]) assert.ok(storage.get("configmaps", "default", `c${i}`), `c${i} is still there`);
  });
});
