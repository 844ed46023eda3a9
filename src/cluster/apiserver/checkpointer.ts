// Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL into the database
// file and fsyncs it; done by the serving connection (SQLite's automatic checkpoint), it stalls
// every request for tens of milliseconds. A worker thread with its own connection runs passive
// checkpoints instead, which never block the writer. When one catches up with the writer (any pause
// in writes longer than a checkpoint), the server's next write starts the WAL over from its
// beginning, reusing the file.
//
// Under writes that never pause a passive checkpoint never catches up, and the WAL would grow
// without end. Once it holds more than `restartBytes` of frames the worker runs a second passive
// checkpoint and then a RESTART checkpoint: it waits for a moment between two of the server's
// transactions and copies the few frames left, and the server's writes wait for it and then sync
// the WAL's new header: 20-35 ms on the virtual disk the benchmarks ran on, which at 1,000 creates a second
// makes 20-50 answers late. A create writes three 4 KiB pages, so the restart size decides how
// often: 256 MiB is every 20 s of 1,000 creates a second without a pause, and a WAL that size is
// read in well under a second when the server starts after a crash.
import { Worker } from "node:worker_threads";

/** The WAL size past which it is started over even though writes never pause. */
export const WAL_RESTART_BYTES = 256 * 2 ** 20;

/**
 * The serving connection's journal_size_limit for a given restart size. A WAL that starts over keeps
 * its file: truncating tens of MiB would cost the serving thread about 50 ms of system time, and
 * reusing the same pages keeps the page cache warm. Only a WAL that outgrew twice the restart size
 * (a long-lived reader held it) is cut back.
 */
export const walSizeLimit = (restartBytes: number): number => 2 * restartBytes;

const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA busy_timeout=5000;");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
const frameBytes = db.prepare("PRAGMA page_size").get().page_size + 24;
const timer = setInterval(() => {
  try {
    if (passive.get().log * frameBytes <= workerData.restartBytes) return;
    passive.get();
    restart.get();
  } catch { /* busy: next time */ }
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

  constructor(file: string, intervalMs = 1000, restartBytes = WAL_RESTART_BYTES) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, restartBytes } });
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
