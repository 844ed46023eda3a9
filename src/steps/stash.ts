// stash and unstash: files of one pod's workspace saved with the controller for the rest of the build and
// restored into another pod's (or the same) workspace. A stash is one tar file per name under the build's
// stash directory, written as it streams out of the agent container and streamed back into `tar -x` in
// the other pod with flow control both ways, so stashes of any size need little controller memory.
// Stashing a name again replaces it, as in Jenkins. Symbolic links are kept as links.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { access, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BuildLog } from "../controller/provisioner.ts";
import type { FileContext } from "./files.ts";
import { FilePatterns, splitPatterns } from "./patterns.ts";
import { StepError } from "./sh.ts";
import { drainingWriter, listMatching, packFiles, unpackInto } from "./transfer.ts";

export interface StashOptions {
  name: string;
  includes?: string;
  excludes?: string;
  useDefaultExcludes?: boolean;
  allowEmpty?: boolean;
}

const UNSAFE = /[?*/\\%!@#$^&|<>[\]:;]/;

/** Jenkins' rule for names (Jenkins.checkGoodName); the name is also the stash's file name. */
function checkName(name: string): void {
  if (typeof name !== "string" || name.trim() === "") throw new StepError("stash: a name is required");
  const unsafe = UNSAFE.exec(name);
  if (unsafe) throw new StepError(`‘${unsafe[0]}’ is an unsafe character`);
  if (name === "." || name === "..") throw new StepError(`“${name}” is not allowed as a name`);
}

function stashFile(stashDir: string, name: string): string {
  return join(stashDir, `${name}.tar`);
}

/** Saves the matching files under the name; returns how many were stashed. */
export async function stash(ctx: FileContext & { log: BuildLog }, stashDir: string, options: StashOptions): Promise<number> {
  checkName(options.name);
  const includes = splitPatterns(options.includes);
  const defaultExcludes = options.useDefaultExcludes ?? true;
  const patterns = new FilePatterns(includes.length > 0 ? includes : ["**"], splitPatterns(options.excludes), { defaultExcludes });
  const files = await listMatching(ctx, patterns, { defaultExcludes, step: "stash" });
  if (files.length === 0 && !options.allowEmpty) throw new StepError(`No files included in stash ‘${options.name}’`);
  await mkdir(stashDir, { recursive: true });
  const target = stashFile(stashDir, options.name);
  const partial = `${target}.part`;
  const out = createWriteStream(partial);
  const closed = once(out, "close");
  try {
    await packFiles(ctx, files, { dereference: false, step: "stash" }, drainingWriter(out));
    if (out.errored) throw new StepError(`stash: cannot write ${target}: ${out.errored.message}`);
    out.end();
    await closed;
    await rename(partial, target);
  } catch (e) {
    out.destroy();
    await rm(partial, { force: true });
    throw e;
  }
  ctx.log.line(`Stashed ${files.length} file(s)`);
  return files.length;
}

/** Restores a stash into the working directory, over what is there. */
export async function unstash(ctx: FileContext & { log: BuildLog }, stashDir: string, name: string): Promise<void> {
  checkName(name);
  const file = stashFile(stashDir, name);
  try {
    await access(file);
  } catch {
    throw new StepError(`No such saved stash ‘${name}’`);
  }
  await unpackInto(ctx, file, `unstash ‘${name}’`);
}
