import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Storage, type Change } from "../../../src/cluster/apiserver/storage.ts";

test("group commit: one turn's writes commit together; durable() and watchers come after the commit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-storage-"));
  try {
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the WAL fsync runs off the event loop: answers and watchers wait for it; writes committed meanwhile wait for the next one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-storage-"));
  try {
    const syncs: ((error: Error | null) => void)[] = [];
    const storage = new Storage(join(dir, "state.db"), { fsync: (_fd, callback) => syncs.push(callback) });
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
    assert.deepEqual([firstDurable, secondDurable, seen], [false, false, []], "nothing is durable before its fsync");
    assert.ok(storage.durableRV < storage.currentRV);
    syncs.shift()?.(null);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([firstDurable, secondDurable, seen], [true, false, ["a"]], "an fsync that started before a commit does not cover it");
    assert.equal(syncs.length, 1, "the next fsync covers the write committed meanwhile");
    syncs.shift()?.(null);
    await storage.durable();
    assert.deepEqual([secondDurable, seen], [true, ["a", "b"]]);
    assert.equal(storage.durableRV, storage.currentRV);
    storage.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("close syncs what is committed and tells its waiters", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-storage-"));
  try {
    const storage = new Storage(join(dir, "state.db"), { fsync: () => {} });
    storage.put("configmaps", { metadata: { name: "a", namespace: "default" } }, undefined);
    const durable = storage.durable();
    await new Promise((resolve) => setImmediate(resolve));
    storage.close();
    await durable;
    const reader = new Storage(join(dir, "state.db"));
    assert.ok(reader.get("configmaps", "default", "a"));
    reader.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
