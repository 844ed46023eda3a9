// checkout and git: source code into the pod's workspace. The controller reads the source (the
// Jenkinsfile's own directory for `checkout scm`; a repository cloned on the controller for `git`) and
// streams it as a tar into the workspace through the agent, so pods need neither network access nor
// credentials for the repository, and a local path works as a repository URL (tests need no network).
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { BuildLog, LeasedAgent } from "../controller/provisioner.ts";
import type { StepCall } from "../pipeline/runtime/steps.ts";
import { abort } from "./frame.ts";
import type { BuildServices } from "./services.ts";

export interface CheckoutTarget {
  agent: LeasedAgent;
  /** The directory in the agent container to fill. */
  cwd: string;
  log: BuildLog;
  signal: AbortSignal;
}

export class CheckoutError extends Error {}

/** Runs a host command; resolves with its stdout, rejects with its stderr. */
function run(command: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(new CheckoutError(`${command}: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out).toString("utf8")) : reject(new CheckoutError(Buffer.concat(err).toString("utf8").trim() || `${command} exited with ${code}`))));
  });
}

async function gitInfo(dir: string): Promise<Record<string, string> | undefined> {
  try {
    const commit = (await run("git", ["rev-parse", "HEAD"], dir)).trim();
    const branch = (await run("git", ["rev-parse", "--abbrev-ref", "HEAD"], dir)).trim();
    const url = (await run("git", ["config", "--get", "remote.origin.url"], dir).catch(() => dir)).trim();
    return { GIT_COMMIT: commit, GIT_BRANCH: branch === "HEAD" ? "detached" : `origin/${branch}`, GIT_LOCAL_BRANCH: branch, GIT_URL: url };
  } catch {
    return undefined;
  }
}

/** The git work tree holding `dir` and the branch it is on; `dir` alone when it is in none. */
export async function sourceRepository(dir: string): Promise<{ root: string; branch?: string }> {
  const root = (await run("git", ["rev-parse", "--show-toplevel"], dir).catch(() => "")).trim();
  if (!root) return { root: dir };
  const branch = (await run("git", ["rev-parse", "--abbrev-ref", "HEAD"], dir).catch(() => "")).trim();
  return branch && branch !== "HEAD" ? { root, branch } : { root };
}

/** Streams `files` (relative to `dir`; all of it when unset) into the target directory of the pod. */
async function streamInto(target: CheckoutTarget, dir: string, files: string[] | undefined): Promise<void> {
  const tar = spawn("tar", ["-C", dir, "--ignore-failed-read", "-cf", "-", ...(files ? ["--null", "-T", "-"] : ["."])], { stdio: [files ? "pipe" : "ignore", "pipe", "pipe"] });
  tar.stdin?.on("error", () => {}); // tar's own exit status says what went wrong
  tar.stdin?.end(files?.map((f) => `${f}\0`).join(""));
  const errors: Buffer[] = [];
  tar.stderr!.on("data", (d: Buffer) => errors.push(d));
  const packed = new Promise<number | null>((resolve) => tar.on("close", resolve));
  const extract = target.agent.run(["sh", "-c", 'mkdir -p "$1" && cd "$1" && tar -xf -', "sh", target.cwd], { stdin: tar.stdout! });
  const onAbort = () => {
    tar.kill();
    extract.signal("SIGKILL");
  };
  target.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const [code, result] = await Promise.all([packed, extract.result]);
    if (code !== 0) throw new CheckoutError(`tar on the controller failed: ${Buffer.concat(errors).toString("utf8").trim() || `exit code ${code}`}`);
    if (result.error || result.code !== 0) throw new CheckoutError(`could not unpack the sources in ${target.cwd}: ${result.error ?? `tar exited with ${result.code}`}`);
  } finally {
    target.signal.removeEventListener("abort", onAbort);
  }
}

/**
 * `checkout scm`: the Jenkinsfile's directory. In a git work tree that is the files git knows (tracked,
 * or untracked and not ignored, as they are now on disk); elsewhere every file.
 */
export async function checkoutDirectory(target: CheckoutTarget, dir: string): Promise<Record<string, string>> {
  const info = await gitInfo(dir);
  const files = info ? (await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], dir)).split("\0").filter(Boolean) : undefined;
  target.log.line(info ? `Checking out ${dir} at revision ${info["GIT_COMMIT"]} (${info["GIT_LOCAL_BRANCH"]}), with local changes` : `Copying ${dir} (not a git repository)`);
  await streamInto(target, dir, files);
  return info ?? {};
}

/** `git url: …, branch: …`: cloned on the controller (a URL or a local path), then streamed, .git included. */
export async function checkoutGit(target: CheckoutTarget, url: string, branch: string | undefined): Promise<Record<string, string>> {
  const scratch = await mkdtemp(join(tmpdir(), "berth-git-"));
  try {
    target.log.line(`Cloning repository ${url}${branch ? ` (branch ${branch})` : ""}`);
    await run("git", ["clone", "--quiet", ...(branch ? ["--branch", branch] : []), "--", url, join(scratch, "src")]);
    const info = (await gitInfo(join(scratch, "src")))!;
    info["GIT_URL"] = url;
    target.log.line(`Checking out Revision ${info["GIT_COMMIT"]} (${info["GIT_BRANCH"]})`);
    await streamInto(target, join(scratch, "src"), undefined);
    return info;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A file of the Jenkinsfile's source (readTrusted, for yamlFile and load): relative to the Jenkinsfile's
 * directory, or to one above it up to the repository's root (Jenkins reads it from the repository root,
 * where a Jenkinsfile usually is). Never outside the repository.
 */
export function readTrusted(build: BuildServices, path: string, step: StepCall): { text: string; file: string } {
  const root = build.sourceRoot;
  const tried: string[] = [];
  for (let dir = build.sourceDir; ; dir = dirname(dir)) {
    const file = resolve(dir, path);
    const rel = relative(root, file);
    if (rel.startsWith("..") || isAbsolute(rel)) throw abort(`${path} is outside the repository of the Jenkinsfile (${root})`, step);
    tried.push(file);
    if (existsSync(file)) return { text: readFileSync(file, "utf8"), file };
    if (dir === root || dirname(dir) === dir) break;
  }
  throw abort(`No such file: ${path} (looked for ${tried.join(", ")})`, step);
}
