// Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL into the database
// file and fsyncs it; done by the serving connection (SQLite's automatic checkpoint), it stalls
// every request for tens of milliseconds. A worker thread with its own connection runs passive
// checkpoints instead, which never block the writer. When one catches up with the writer (any pause
// in writes longer than a checkpoint), the server's next write starts the WAL over from its
// beginning, reusing the file.
//
// Under writes that never pause a passive checkpoint never catches up, and the WAL would grow
// without end. Once it holds more than `restartBytes` of frames the worker runs a second passive
// checkpoint and then a RESTART checkpoint, which holds the server's writes while it copies the few
// frames left and syncs: 20-35 ms on the virtual disk the benchmarks ran on, which at 1,000 creates
// a second makes 20-50 answers late. A create writes three 4 KiB pages, so the restart size decides
// how often: 256 MiB is every 20 s of 1,000 creates a second without a pause, and a WAL that size is
// read in well under a second when the server starts after a crash.
//
// The server's writes wait for a RESTART at a write gate (a flag in shared memory) rather than on
// SQLite's lock. SQLite's busy handler sleeps in growing steps (1, 2, 5, 10, 15 ms...), so a writer
// polling the lock wakes up to 15 ms after the checkpoint ends, and the checkpoint itself has to
// poll for a moment between the server's transactions, which at a write every millisecond can take
// long. With the gate closed the server finishes its open transaction and starts no other; the
// worker opens the gate the moment it is done and the writer wakes at once. The worker also gives
// up a RESTART that cannot get its locks within RESTART_BUSY_MS (it tries again later), so waiting
// for a reader never holds the server's writes longer than that.
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

/** How long a RESTART checkpoint may wait for a lock before it gives up until its next turn. */
const RESTART_BUSY_MS = 100;

/**
 * A write gate in shared memory: [CLOSED] is 1 while the worker restarts the WAL, [ENTERING] is 1
 * while the server is between looking at the gate and holding SQLite's write lock. Each side sets
 * its own flag before reading the other's (sequentially consistent Atomics), so the worker never
 * takes the lock in that moment and the server's BEGIN never meets it.
 */
export type WriteGate = Int32Array;
export const CLOSED = 0;
export const ENTERING = 1;

export function createWriteGate(): WriteGate {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA busy_timeout=${RESTART_BUSY_MS};");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
const frameBytes = db.prepare("PRAGMA page_size").get().page_size + 24;
const gate = workerData.gate;
const timer = setInterval(() => {
  try {
    if (passive.get().log * frameBytes <= workerData.restartBytes) return;
    passive.get();
    Atomics.store(gate, ${CLOSED}, 1);
    try {
      while (Atomics.load(gate, ${ENTERING}) === 1) Atomics.wait(gate, ${ENTERING}, 1, 5);
      restart.get();
    } finally {
      Atomics.store(gate, ${CLOSED}, 0);
      Atomics.notify(gate, ${CLOSED});
    }
  } catch { /* busy: next time */ }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  try { db.exec("PRAGMA wal_checkpoint(TRUNCATE);"); } catch { /* the next start checkpoints */ }
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  /** The gate the database's Storage waits at (its `writeGate` option). */
  writeGate: WriteGate;
  intervalMs?: number;
  restartBytes?: number;
}

export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  constructor(file: string, options: CheckpointerOptions) {
    const { writeGate, intervalMs = 1000, restartBytes = WAL_RESTART_BYTES } = options;
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, restartBytes, gate: writeGate } });
    this.#worker.unref();
    this.#exited = new Promise((resolve) =>
      this.#worker.once("exit", () => {
        // A worker that died with the gate closed must not hold the server's writes.
        Atomics.store(writeGate, CLOSED, 0);
        Atomics.notify(writeGate, CLOSED);
        resolve();
      }),
    );
  }

  /** Runs a last full checkpoint and stops the worker. */
  async stop(): Promise<void> {
    // Keep the process alive until the worker has finished its last checkpoint.
    this.#worker.ref();
    this.#worker.postMessage("stop");
    await this.#exited;
  }
}
