// The CRI container log format, which both runtimes write and the kubelet reads for pods/log:
//
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\n
//
// "F" marks the end of a line of output, "P" a piece of a longer line (or output that ended without a
// newline); the reader joins P pieces onto the following entry. Hand-written because the format is four
// fields and no npm package implements it.

import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Writable } from "node:stream";

export type LogStream = "stdout" | "stderr";

/** Lines longer than this are split into P entries, as containerd does, so one entry stays bounded. */
export const MAX_LOG_ENTRY_BYTES = 16 * 1024;

// Date has millisecond resolution; the format wants nanoseconds and entries must never go backwards, so the
// wall clock is read once and advanced by the monotonic high-resolution clock.
const wallAtStartNs = BigInt(Date.now()) * 1_000_000n;
const hrAtStart = process.hrtime.bigint();

export function nowNs(): bigint {
  return wallAtStartNs + (process.hrtime.bigint() - hrAtStart);
}

/** Formats nanoseconds since the epoch as RFC3339 with nine fraction digits in UTC. */
export function formatTimestamp(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const seconds = new Date(ms).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${seconds}.${fraction}Z`;
}

/** Parses an RFC3339 timestamp with any fraction length and offset into nanoseconds since the epoch. */
export function parseTimestamp(text: string): bigint | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) return undefined;
  const [, base, fraction = "", zone] = match;
  const ms = Date.parse(`${base}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, "0"));
}

export interface CriLogEntry {
  timestamp: string;
  timeNs: bigint;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

/** Parses one line of a CRI log file (without its trailing newline); undefined if malformed. */
export function parseCriLogLine(line: Buffer | string): CriLogEntry | undefined {
  const buffer = typeof line === "string" ? Buffer.from(line) : line;
  const firstSpace = buffer.indexOf(0x20);
  const secondSpace = firstSpace < 0 ? -1 : buffer.indexOf(0x20, firstSpace + 1);
  const thirdSpace = secondSpace < 0 ? -1 : buffer.indexOf(0x20, secondSpace + 1);
  if (thirdSpace < 0) return undefined;
  const timestamp = buffer.subarray(0, firstSpace).toString();
  const stream = buffer.subarray(firstSpace + 1, secondSpace).toString();
  const tag = buffer.subarray(secondSpace + 1, thirdSpace).toString();
  const timeNs = parseTimestamp(timestamp);
  if (timeNs === undefined || (stream !== "stdout" && stream !== "stderr") || (tag !== "F" && tag !== "P")) {
    return undefined;
  }
  return { timestamp, timeNs, stream, partial: tag === "P", content: buffer.subarray(thirdSpace + 1) };
}

/**
 * Appends a container's stdout and stderr to one CRI log file. Each entry is written with a single write so
 * entries of the two streams interleave only at entry boundaries.
 */
export class CriLogWriter {
  readonly path: string;
  private readonly file: WriteStream;
  private openStreams = 0;
  private readonly closed: Promise<void>;

  /** Makes the log's directory without blocking the event loop, then opens the log. */
  static async open(path: string): Promise<CriLogWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new CriLogWriter(path, false);
  }

  constructor(path: string, makeDirectory = true) {
    this.path = path;
    if (makeDirectory) mkdirSync(dirname(path), { recursive: true });
    this.file = createWriteStream(path, { flags: "a" });
    this.closed = new Promise((resolve) => this.file.on("close", () => resolve()));
    this.file.on("error", () => {
      // A vanished log directory must not take the runtime down; output is lost, the container is not.
    });
  }

  /** A writable for one stream; call once per stream. The file closes after every stream has ended. */
  stream(name: LogStream): Writable {
    this.openStreams++;
    let pending: Buffer = Buffer.alloc(0);
    const writeEntry = (content: Buffer, partial: boolean): void => {
      const prefix = `${formatTimestamp(nowNs())} ${name} ${partial ? "P" : "F"} `;
      this.file.write(Buffer.concat([Buffer.from(prefix), content, Buffer.from("\n")]));
    };
    const drainLines = (): void => {
      let newline: number;
      while ((newline = pending.indexOf(0x0a)) >= 0) {
        let line = pending.subarray(0, newline);
        while (line.length > MAX_LOG_ENTRY_BYTES) {
          writeEntry(line.subarray(0, MAX_LOG_ENTRY_BYTES), true);
          line = line.subarray(MAX_LOG_ENTRY_BYTES);
        }
        writeEntry(line, false);
        pending = pending.subarray(newline + 1);
      }
      while (pending.length > MAX_LOG_ENTRY_BYTES) {
        writeEntry(pending.subarray(0, MAX_LOG_ENTRY_BYTES), true);
        pending = pending.subarray(MAX_LOG_ENTRY_BYTES);
      }
    };
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        drainLines();
        callback();
      },
      final: (callback) => {
        // Output that ended without a newline stays a partial entry so readers reproduce the exact bytes.
        if (pending.length > 0) writeEntry(pending, true);
        pending = Buffer.alloc(0);
        if (--this.openStreams === 0) this.file.end();
        callback();
      },
    });
  }

  /** Resolves once everything written so far is on disk and the file is closed. */
  whenClosed(): Promise<void> {
    return this.closed;
  }
}
