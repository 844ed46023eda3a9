// Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL into the database
// file and fsyncs it; done by the serving connection (SQLite's automatic checkpoint), it stalls
// every request for tens of milliseconds. A worker thread with its own connection runs passive
// checkpoints instead, which never block the writer.
//
// Under sustained writes a passive checkpoint never catches up with the writer, so SQLite never
// starts the WAL over and the file grows without end (every sync then also commits a size change to
// the file system's journal). Past `walLimitBytes` the worker runs a RESTART checkpoint: it waits for
// a moment between two of the server's transactions, copies the few frames the passive checkpoints
// left (new writes wait for those milliseconds), and the next write starts the WAL from the beginning,
// truncated to the limit by the serving connection's journal_size_limit (see WAL_LIMIT_BYTES).
import { Worker } from "node:worker_threads";

/** Where the WAL is started over; Storage truncates it to this size when it is. */
export const WAL_LIMIT_BYTES = 64 * 2 ** 20;

const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { statSync } = require("node:fs");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA busy_timeout=5000;");
const walSize = () => { try { return statSync(workerData.file + "-wal").size; } catch { return 0; } };
const timer = setInterval(() => {
  try { db.exec("PRAGMA wal_checkpoint(PASSIVE);"); } catch { /* busy: try again next time */ }
  if (walSize() > workerData.walLimitBytes) {
    try { db.exec("PRAGMA wal_checkpoint(RESTART);"); } catch { /* the writer never paused: next time */ }
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  try { db.exec("PRAGMA wal_checkpoint(TRUNCATE);"); } catch { /* the next start checkpoints */ }
  db.close();
  parentPort.close();
});
`;

export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  constructor(file: string, intervalMs = 1000, walLimitBytes = WAL_LIMIT_BYTES) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, walLimitBytes } });
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
  }

  /** Runs a last full checkpoint and stops the worker. */
  async stop(): Promise<void> {
    // Keep the process alive until the worker has finished its last checkpoint.
    this.#worker.ref();
    this.#worker.postMessage("stop");
    await this.#exited;
  }
}
