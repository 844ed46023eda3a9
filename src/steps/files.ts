// The file steps, on the workspace as the agent container sees it (as Jenkins runs them on the agent's
// file system, also inside a `container` block): readFile, writeFile, fileExists, deleteDir. Relative
// paths are taken from the step's working directory.
import { posix } from "node:path";
import { TextDecoder } from "node:util";
import type { LeasedAgent } from "../controller/provisioner.ts";
import { StepError } from "./sh.ts";

export interface FileContext {
  agent: LeasedAgent;
  /** The step's working directory in the agent container. */
  cwd: string;
}

function resolvePath(ctx: FileContext, file: string): string {
  return posix.resolve(ctx.cwd, file);
}

async function runIn(ctx: FileContext, command: string[], stdin?: string | Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const result = await ctx.agent.run(command, { cwd: "/", ...(stdin !== undefined ? { stdin } : {}), onOutput: (stream, data) => (stream === "stdout" ? out : err).push(data) }).result;
  if (result.error) throw new StepError(result.error);
  return { code: result.code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8").trim() };
}

export async function readFile(ctx: FileContext, options: { file: string; encoding?: string }): Promise<string> {
  const path = resolvePath(ctx, options.file);
  const r = await runIn(ctx, ["cat", "--", path]);
  if (r.code !== 0) throw new StepError(`readFile: cannot read ${path}: ${r.stderr.replace(/^cat: /, "") || `exit code ${r.code}`}`);
  if (options.encoding?.toLowerCase() === "base64") return r.stdout.toString("base64");
  return new TextDecoder(options.encoding ?? "utf-8").decode(r.stdout);
}

export async function writeFile(ctx: FileContext, options: { file: string; text: string; encoding?: string }): Promise<void> {
  const path = resolvePath(ctx, options.file);
  const bytes = options.encoding?.toLowerCase() === "base64" ? Buffer.from(options.text, "base64") : Buffer.from(options.text, "utf8");
  const r = await runIn(ctx, ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path], bytes);
  if (r.code !== 0) throw new StepError(`writeFile: cannot write ${path}: ${r.stderr || `exit code ${r.code}`}`);
}

export async function fileExists(ctx: FileContext, options: { file: string }): Promise<boolean> {
  return (await runIn(ctx, ["test", "-e", resolvePath(ctx, options.file)])).code === 0;
}

/** Deletes the working directory and everything in it. */
export async function deleteDir(ctx: FileContext): Promise<void> {
  const r = await runIn(ctx, ["rm", "-rf", "--", ctx.cwd]);
  if (r.code !== 0) throw new StepError(`deleteDir: cannot delete ${ctx.cwd}: ${r.stderr || `exit code ${r.code}`}`);
}
