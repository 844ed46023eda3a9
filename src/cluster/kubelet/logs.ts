// pods/log on the kubelet side: reads a container's CRI log file and writes what the options select —
// sinceTime, tailLines (whole lines), timestamps, limitBytes, stream, and follow (new entries as the file
// grows, until the container instance exits or the client goes away). Entry parsing is the runtime's
// `parseCriLogLine`; line assembly and selection are pure (`selectEntries`, `renderEntries`).
import { watch, type FSWatcher } from "node:fs";
import { open } from "node:fs/promises";
import { parseCriLogLine, type CriLogEntry } from "../runtime/cri-log.ts";

export interface LogOptions {
  follow: boolean;
  /** Only entries at or after this time (ns since the epoch). */
  sinceNs?: bigint;
  tailLines?: number;
  timestamps: boolean;
  limitBytes?: number;
  stream?: "All" | "Stdout" | "Stderr";
}

/** Parses complete lines of a buffer; returns the entries and the bytes of an unfinished last line. */
export function parseChunk(buffer: Buffer): { entries: CriLogEntry[]; rest: Buffer } {
  const entries: CriLogEntry[] = [];
  let start = 0;
  let newline: number;
  while ((newline = buffer.indexOf(0x0a, start)) >= 0) {
    const entry = parseCriLogLine(buffer.subarray(start, newline));
    if (entry) entries.push(entry);
    start = newline + 1;
  }
  return { entries, rest: buffer.subarray(start) };
}

function wanted(entry: CriLogEntry, options: LogOptions): boolean {
  if (options.sinceNs !== undefined && entry.timeNs < options.sinceNs) return false;
  if (options.stream === "Stdout" && entry.stream !== "stdout") return false;
  if (options.stream === "Stderr" && entry.stream !== "stderr") return false;
  return true;
}

/** The entries of the last `tailLines` lines (a line is P entries up to and including an F entry). */
export function tail(entries: CriLogEntry[], tailLines: number | undefined): CriLogEntry[] {
  if (tailLines === undefined) return entries;
  const lines: CriLogEntry[][] = [];
  let current: CriLogEntry[] = [];
  for (const entry of entries) {
    current.push(entry);
    if (!entry.partial) {
      lines.push(current);
      current = [];
    }
  }
  // An unfinished last line counts as a line too.
  if (current.length > 0) lines.push(current);
  return tailLines === 0 ? [] : lines.slice(-tailLines).flat();
}

/** Renders entries as kubectl shows them; `atLineStart` tracks where a timestamp prefix belongs. */
export function renderEntries(entries: CriLogEntry[], timestamps: boolean, state: { atLineStart: boolean }): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (timestamps && state.atLineStart) parts.push(Buffer.from(`${entry.timestamp} `));
    parts.push(entry.content);
    if (!entry.partial) parts.push(Buffer.from("\n"));
    state.atLineStart = !entry.partial;
  }
  return Buffer.concat(parts);
}

export interface LogSink {
  write(chunk: Buffer): void;
  end(): void;
  /** Registers a callback for the client going away. */
  onClose(callback: () => void): void;
}

export interface LogSource {
  path: string;
  /** Whether the instance may still write (follow waits for more). */
  running(): boolean;
  /** Registers a callback for the instance's exit; returns the unsubscribe function. */
  onExit(callback: () => void): () => void;
}

/** Streams one log file to the sink according to the options. */
export async function streamLog(source: LogSource, options: LogOptions, sink: LogSink): Promise<void> {
  let handle;
  try {
    handle = await open(source.path, "r");
  } catch {
    sink.end();
    return;
  }
  let offset = 0;
  let pending: Buffer = Buffer.alloc(0);
  let written = 0;
  let done = false;
  const state = { atLineStart: true };
  const readMore = async (): Promise<CriLogEntry[]> => {
    const chunks: Buffer[] = [pending];
    for (;;) {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      chunks.push(buffer.subarray(0, bytesRead));
    }
    const { entries, rest } = parseChunk(Buffer.concat(chunks));
    pending = Buffer.from(rest);
    return entries.filter((e) => wanted(e, options));
  };
  const emit = (entries: CriLogEntry[]): void => {
    if (done || entries.length === 0) return;
    let bytes = renderEntries(entries, options.timestamps, state);
    if (options.limitBytes !== undefined && written + bytes.length >= options.limitBytes) {
      bytes = bytes.subarray(0, options.limitBytes - written);
      done = true;
    }
    written += bytes.length;
    if (bytes.length > 0) sink.write(bytes);
  };
  try {
    emit(tail(await readMore(), options.tailLines));
    if (!options.follow || done || !source.running()) return;
    await new Promise<void>((resolve) => {
      let watcher: FSWatcher | undefined;
      let reading = Promise.resolve();
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        watcher?.close();
        unsubscribe();
        resolve();
      };
      const pump = (): void => {
        reading = reading.then(async () => {
          if (finished) return;
          emit(await readMore());
          if (done) finish();
        });
      };
      const unsubscribe = source.onExit(() => {
        // The runtime closes the file before reporting the exit, so one last read sees everything.
        pump();
        void reading.then(finish);
      });
      sink.onClose(finish);
      try {
        watcher = watch(source.path, () => pump());
      } catch {
        finish();
        return;
      }
      pump();
      if (!source.running()) void reading.then(finish);
    });
  } finally {
    await handle.close().catch(() => undefined);
    sink.end();
  }
}
