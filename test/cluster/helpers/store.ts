// An in-process REST store over a temporary SQLite file, with a bootstrapped cluster, for tests
// that exercise semantics without HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapCluster } from "../../../src/cluster/apiserver/bootstrap.ts";
import { RestStore } from "../../../src/cluster/apiserver/rest.ts";
import { findResource, type ResourceType } from "../../../src/cluster/apiserver/resources.ts";
import { Storage } from "../../../src/cluster/apiserver/storage.ts";

export interface TestStore {
  store: RestStore;
  storage: Storage;
  file: string;
  close(): void;
}

export function openTestStore(historyLength?: number): TestStore {
  const dir = mkdtempSync(join(tmpdir(), "berth-store-"));
  const file = join(dir, "state.db");
  // Commit each write at once, so tests see watch events synchronously.
  const storage = new Storage(file, { historyLength, groupCommit: false });
  const store = new RestStore(storage);
  const controllers = bootstrapCluster(store, "CA", 1);
  return {
    store,
    storage,
    file,
    close: () => {
      controllers.stop();
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function rt(plural: string, group = "", version = "v1"): ResourceType {
  const found = findResource(group, version, plural);
  if (!found) throw new Error(`no resource ${plural}`);
  return found;
}

export const q = (params: Record<string, string> = {}): URLSearchParams => new URLSearchParams(params);

export function podBody(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, labels: { app: "web" } }, spec: { containers: [{ name: "main", image: "nginx:1.27" }] }, ...extra };
}
