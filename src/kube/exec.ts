// A short command in a pod's container through the API server's pods/exec (WebSocket), collecting its
// output and exit code. Berth uses it only to start or signal things (a step's launcher returns at once):
// it never holds an exec stream open for a whole step, the source of the plugin's hangs and -1 codes.
import { Readable, Writable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      into.push(Buffer.from(chunk));
      done();
    },
  });
}

/** The exit code a pods/exec status reports: 0 on Success, the ExitCode cause otherwise. */
export function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = cause?.message !== undefined ? Number.parseInt(cause.message, 10) : NaN;
  return Number.isNaN(code) ? 126 : code;
}

export async function execInContainer(kc: KubeConfig, namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<ExecResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let status: V1Status | undefined;
  const socket = await new Exec(kc).exec(namespace, pod, container, command, collector(out), collector(err), stdin === undefined ? null : Readable.from([Buffer.from(stdin)]), false, (s) => (status = s));
  await new Promise<void>((resolve, reject) => {
    socket.on("close", () => resolve());
    socket.on("error", (e: Error) => reject(e));
  });
  const stderr = Buffer.concat(err).toString("utf8");
  if (!status) throw new Error(`exec in ${namespace}/${pod} container ${container} ended without a status${stderr ? `: ${stderr.trim()}` : ""}`);
  // A failure without an exit code (the command could not start: no such file, container not running) is
  // said only in the status's message: keep it where callers look for the reason.
  const code = exitCodeOf(status);
  const unsaid = code !== 0 && !status.details?.causes?.some((c) => c.reason === "ExitCode") && status.message && !stderr.includes(status.message);
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: unsaid ? `${stderr}${stderr && !stderr.endsWith("\n") ? "\n" : ""}${status.message}\n` : stderr };
}
