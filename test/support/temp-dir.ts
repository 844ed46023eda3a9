// Temporary directories for tests, each removed when its owner ends so that runs leave nothing in /tmp.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A test's context `t`, or `{ after }` from node:test for a directory the whole file shares. */
export interface TempDirOwner {
  after(fn: () => unknown): void;
}

/** A fresh `<tmpdir>/<prefix>XXXXXX`, removed with everything in it when `owner` ends. */
export function tempDir(owner: TempDirOwner, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  owner.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
