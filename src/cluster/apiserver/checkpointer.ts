// Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL into the database
// file and fsyncs it; done by the serving connection (SQLite's automatic checkpoint), it stalls
// every request for tens of milliseconds. A worker thread with its own connection runs passive
// checkpoints instead, which never block the writer.
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA busy_timeout=5000;");
const timer = setInterval(() => {
  try { db.exec("PRAGMA wal_checkpoint(PASSIVE);"); } catch { /* busy: try again next time */ }
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

  constructor(file: string, intervalMs = 1000) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs } });
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
