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

/**
 * Starts something over a data directory (a fresh `<tmpdir>/<prefix>XXXXXX` unless given); its
 * `dispose` stops it and removes the directory, even when stopping fails, and so does a failed start.
 */
export async function startInDataDir<T extends { stop(): Promise<void> }>(prefix: string, start: (dataDir: string) => Promise<T>, dataDir = mkdtempSync(join(tmpdir(), prefix))): Promise<T & { dataDir: string; dispose(): Promise<void> }> {
  const remove = (): void => rmSync(dataDir, { recursive: true, force: true });
  let running: T;
  try {
    running = await start(dataDir);
  } catch (error) {
    remove();
    throw error;
  }
  return {
    ...running,
    dataDir,
    dispose: async () => {
      try {
        await running.stop();
      } finally {
        remove();
      }
    },
  };
}
