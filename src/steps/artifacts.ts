// archiveArtifacts: files of the pod's workspace that match Ant-style patterns (relative to the step's
// working directory) are copied to a directory on the controller's disk, keeping their relative paths.
// They travel as one tar stream from the agent container and are written file by file as they arrive
// (see transfer.ts), so an archive of any size needs little memory. With `fingerprint`, the sha256 of each
// file is computed on the way and recorded beside the archive directory (`readFingerprints`).
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, posix } from "node:path";
import type { BuildLog } from "../controller/provisioner.ts";
import type { FileContext } from "./files.ts";
import { FilePatterns, splitPatterns } from "./patterns.ts";
import { StepError } from "./sh.ts";
import { TarEntries, listMatching, packFiles } from "./transfer.ts";

export interface ArchiveOptions {
  artifacts: string;
  excludes?: string;
  allowEmptyArchive?: boolean;
  fingerprint?: boolean;
  caseSensitive?: boolean;
  defaultExcludes?: boolean;
}

/** Archives the matching files; returns their paths relative to the working directory, as archived. */
export async function archiveArtifacts(ctx: FileContext & { log: BuildLog }, archiveDir: string, options: ArchiveOptions): Promise<string[]> {
  const includes = splitPatterns(options.artifacts);
  if (includes.length === 0) throw new StepError("archiveArtifacts: no artifacts pattern given");
  const defaultExcludes = options.defaultExcludes ?? true;
  const patterns = new FilePatterns(includes, splitPatterns(options.excludes), { caseSensitive: options.caseSensitive ?? true, defaultExcludes });
  ctx.log.line("Archiving artifacts");
  const files = await listMatching(ctx, patterns, { defaultExcludes, step: "archiveArtifacts" });
  if (files.length === 0) {
    const message = `No artifacts found that match the file pattern "${options.artifacts}". Configuration error?`;
    if (!options.allowEmptyArchive) throw new StepError(message);
    ctx.log.line(message);
    return [];
  }
  await mkdir(archiveDir, { recursive: true });
  const fingerprints = options.fingerprint ? new Map<string, string>() : undefined;
  const archived = extraction(archiveDir, fingerprints);
  try {
    await packFiles(ctx, files, { dereference: true, step: "archiveArtifacts" }, (data) => archived.entries.write(data));
  } finally {
    await archived.entries.end();
  }
  if (fingerprints) {
    ctx.log.line("Recording fingerprints");
    const record = fingerprintsFile(archiveDir);
    const known = await readFingerprints(archiveDir);
    await writeFile(`${record}.tmp`, `${JSON.stringify({ ...known, ...Object.fromEntries(fingerprints) }, null, 2)}\n`);
    await rename(`${record}.tmp`, record);
  }
  return archived.files;
}

/** Where the sha256 of each fingerprinted artifact is kept: a JSON object from relative path to hex digest. */
export function fingerprintsFile(archiveDir: string): string {
  const dir = archiveDir.replace(/\/+$/, "");
  return join(dirname(dir), `${basename(dir)}.fingerprints.json`);
}

export async function readFingerprints(archiveDir: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(fingerprintsFile(archiveDir), "utf8")) as Record<string, string>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
}

/** A relative path inside the archive, or an error for one that would leave it. */
function safePath(name: string): string {
  const path = posix.normalize(name.replace(/^(\.\/)+/, ""));
  if (path.startsWith("/") || path === ".." || path.startsWith("../")) throw new StepError(`archiveArtifacts: refusing to write ${JSON.stringify(name)} outside the archive`);
  return path;
}

/** Writes packFiles' tar stream into a directory, file by file as it comes; only regular files are kept. */
function extraction(dir: string, fingerprints: Map<string, string> | undefined): { entries: TarEntries; files: string[] } {
  const files: string[] = [];
  const entries = new TarEntries("archiveArtifacts", async (entry) => {
    const type = entry.header.type;
    if (type !== "file" && type !== "contiguous-file" && type !== "link") {
      entry.resume(); // directories (a followed link to one), devices: not artifacts
      return;
    }
    const path = safePath(entry.header.name);
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true, recursive: true });
    if (type === "link") {
      // The same file listed twice through hard links: tar sends it once.
      const source = safePath(entry.header.linkname);
      await copyFile(join(dir, source), target);
      const known = fingerprints?.get(source);
      if (known) fingerprints!.set(path, known);
      entry.resume();
    } else {
      const hash = fingerprints ? createHash("sha256") : undefined;
      const out = createWriteStream(target);
      for await (const chunk of entry) {
        hash?.update(chunk);
        if (!out.write(chunk)) await once(out, "drain");
      }
      out.end();
      await once(out, "close");
      if (hash) fingerprints!.set(path, hash.digest("hex"));
    }
    files.push(path);
  });
  return { entries, files };
}
