// Moving files between the pod's workspace and the controller's disk, streamed: the agent lists the
// working directory (`find`), the controller picks the files that match the step's patterns, and `tar` in
// the agent container packs exactly those onto its standard output, which the controller takes with flow
// control (the agent keeps at most 4 MB unconfirmed, and confirms only what the consumer wrote). The other
// way, a tar file on the controller's disk is streamed into `tar -x` in the pod. No tree is ever held in
// memory, only the list of paths. Needs `find` and tar: GNU tar, bsdtar or BusyBox's (names with a line
// break in them need one of the first two).
import { createReadStream } from "node:fs";
import { TextDecoder } from "node:util";
import { extract, type Header } from "tar-stream";
import type { FileContext } from "./files.ts";
import { DEFAULT_EXCLUDED_DIRECTORIES, type FilePatterns } from "./patterns.ts";
import { StepError } from "./sh.ts";

/** A file of the working directory: its relative path, and its name as the file system spells it. */
export interface ListedFile {
  path: string;
  /** `./path` in the file system's bytes, for tar's file list. */
  raw: Buffer;
}

const STDERR_KEPT = 8 * 1024;

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The files (and symbolic links) under the working directory that the patterns select, in `find` order. */
export async function listMatching(ctx: FileContext, patterns: FilePatterns, options: { defaultExcludes: boolean; step: string }): Promise<ListedFile[]> {
  // Directories the default excludes drop entirely are not even entered.
  const prune = options.defaultExcludes ? `\\( ${DEFAULT_EXCLUDED_DIRECTORIES.map((d) => `-name ${quote(d)}`).join(" -o ")} \\) -prune -o ` : "";
  const script = `[ -d "$1" ] || exit 0\ncd "$1" || exit 2\nexec find . ${prune}\\( -type f -o -type l \\) -print0`;
  const matched: ListedFile[] = [];
  const decoder = new TextDecoder("utf-8");
  let rest = Buffer.alloc(0);
  const stderr = new Capped();
  const result = await ctx.agent.run(["sh", "-c", script, "sh", ctx.cwd], {
    cwd: "/",
    onOutput: (stream, data) => {
      if (stream === "stderr") return stderr.add(data);
      let buffer = rest.length ? Buffer.concat([rest, data]) : data;
      for (let end; (end = buffer.indexOf(0)) >= 0; buffer = buffer.subarray(end + 1)) {
        const raw = Buffer.from(buffer.subarray(0, end));
        const path = decoder.decode(raw).replace(/^\.\//, "");
        if (patterns.matches(path)) matched.push({ path, raw });
      }
      rest = Buffer.from(buffer);
    },
  }).result;
  if (result.error) throw new StepError(`${options.step}: could not list ${ctx.cwd}: ${result.error}`);
  if (result.code !== 0) throw new StepError(`${options.step}: could not list ${ctx.cwd}: ${stderr.text() || `find exited with code ${result.code}`}`);
  return matched;
}

/**
 * Runs tar in the working directory, packing exactly `files` (symbolic links followed if `dereference`),
 * and hands the archive to `consume` as it comes; a promise from `consume` holds the agent back.
 */
export async function packFiles(ctx: FileContext, files: ListedFile[], options: { dereference: boolean; step: string }, consume: (data: Buffer) => unknown): Promise<void> {
  const list = Buffer.concat(files.flatMap((f) => [f.raw, Buffer.from([0])]));
  const stderr = new Capped();
  // BusyBox tar (Alpine images, Berth's default agent image) knows neither --null nor --no-recursion: it
  // gets the list one name per line (the names are files, so recursion does not matter).
  const h = options.dereference ? "-h" : "";
  const pack = `if tar --help 2>&1 | grep -q -e --null; then exec tar -c -f - ${h} --null --no-recursion -T -; else tr '\\0' '\\n' | tar -c -f - ${h} -T -; fi`;
  const running = ctx.agent.run(["sh", "-c", pack], {
    cwd: ctx.cwd,
    stdin: (async function* () {
      yield list; // streamed: a long list is sent in pieces
    })(),
    onOutput: (stream, data) => (stream === "stderr" ? stderr.add(data) : consume(data)),
  });
  const result = await running.result;
  if (result.error) throw new StepError(`${options.step}: tar could not run in ${ctx.cwd}: ${result.error}`);
  // GNU tar exits 1 when a file changed while it was read: the archive is still whole. Any other tar
  // failing, or failing otherwise, is an incomplete archive.
  const changedWhileRead = result.code === 1 && /changed as we read it/.test(stderr.text()) && !/Error|Cannot/.test(stderr.text());
  if (result.code !== 0 && !changedWhileRead) throw new StepError(`${options.step}: tar failed in ${ctx.cwd}: ${stderr.text() || `exit code ${result.code ?? result.signal}`}`);
}

/** Streams a tar file from the controller's disk into the working directory (created if missing). */
export async function unpackInto(ctx: FileContext, tarFile: string, step: string): Promise<void> {
  const stderr = new Capped();
  const result = await ctx.agent.run(["sh", "-c", 'mkdir -p "$1" && cd "$1" && exec tar -x -o -f -', "sh", ctx.cwd], {
    cwd: "/",
    stdin: createReadStream(tarFile, { highWaterMark: 256 * 1024 }),
    onOutput: (_stream, data) => stderr.add(data),
  }).result;
  if (result.error) throw new StepError(`${step}: ${result.error}`);
  if (result.code !== 0) throw new StepError(`${step}: tar failed in ${ctx.cwd}: ${stderr.text() || `exit code ${result.code ?? result.signal}`}`);
}

/** One member of a tar stream: its header, and its content to read (or `resume()` to skip). */
export type TarEntry = AsyncIterable<Buffer> & { header: Header; resume(): unknown };

/**
 * packFiles' output taken member by member as it comes (tar-stream's extractor), for the steps that bring
 * files home: `onEntry` reads or skips each one. A failure stops the stream and is thrown by `end()`.
 */
export class TarEntries {
  private readonly extractor = extract();
  private readonly feed = drainingWriter(this.extractor);
  private readonly done: Promise<void>;
  private readonly step: string;
  private failure: unknown;

  constructor(step: string, onEntry: (entry: TarEntry) => Promise<void>) {
    this.step = step;
    this.done = (async () => {
      for await (const entry of this.extractor) await onEntry(entry as unknown as TarEntry);
    })().catch((e: unknown) => {
      this.failure = e;
      this.extractor.destroy();
    });
  }

  /** Feeds the stream; a promise when the writer should wait. */
  write(data: Buffer): Promise<void> | undefined {
    return this.failure === undefined ? this.feed(data) : undefined;
  }

  async end(): Promise<void> {
    if (this.failure === undefined) this.extractor.end(null);
    await this.done;
    if (this.failure !== undefined) throw this.failure instanceof StepError ? this.failure : new StepError(`${this.step}: ${(this.failure as Error).message}`);
  }
}

/**
 * A consumer for packFiles that writes into a stream: undefined while the stream takes more, else one
 * promise (shared by the chunks that arrive meanwhile) that resolves when it drains, or closes.
 */
export function drainingWriter(stream: { write(data: Buffer): boolean; once(event: "drain" | "close" | "error", listener: () => void): unknown; off(event: "drain" | "close" | "error", listener: () => void): unknown }): (data: Buffer) => Promise<void> | undefined {
  let waiting: Promise<void> | undefined;
  return (data) => {
    if (stream.write(data)) return waiting;
    waiting ??= new Promise<void>((resolve) => {
      const go = () => {
        stream.off("drain", go);
        stream.off("close", go);
        stream.off("error", go);
        waiting = undefined;
        resolve();
      };
      stream.once("drain", go);
      stream.once("close", go);
      stream.once("error", go);
    });
    return waiting;
  };
}

/** The first few KB of a command's error output. */
class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(data: Buffer): void {
    if (this.size >= STDERR_KEPT) return;
    this.chunks.push(data);
    this.size += data.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8").slice(0, STDERR_KEPT).trim();
  }
}
