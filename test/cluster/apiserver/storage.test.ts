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
