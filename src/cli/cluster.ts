// `berth cluster …`: runs the embedded Kubernetes-compatible cluster in the foreground.
import { resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import type { ClusterOptions } from "../cluster/index.ts";
import { defaultClusterDir, recordRunningCluster } from "./embedded.ts";

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command("cluster").description("Run the embedded Kubernetes-compatible cluster.");
  cluster
    .command("start")
    .description("Start the cluster in the foreground; stop it with Ctrl-C (SIGINT) or SIGTERM.")
    .option("--data-dir <dir>", "directory holding the cluster's state, certificates and kubeconfig (default: ~/.berth/cluster, which `berth run` finds and reuses)", defaultClusterDir())
    .option("--port <port>", "HTTPS port on 127.0.0.1 (0 picks a free one)", nonNegativeInteger, 6443)
    .option("--nodes <n>", "number of nodes to register", nonNegativeInteger, 1)
    .addOption(
      new Option("--fsync <when>", "when an acknowledged API write reaches the disk: 'interval' syncs within 100 ms (a kill -9 loses nothing, a power cut the last 100 ms), 'always' before answering (a power cut loses nothing; writes wait for the disk)")
        .choices(["interval", "always"] satisfies ClusterOptions["fsync"][])
        .default("interval"),
    )
    .action(async (opts: { dataDir: string; port: number; nodes: number; fsync: NonNullable<ClusterOptions["fsync"]> }) => {
      // Loaded on use: the cluster (certificates, SQLite, runtime) is heavy for every other command.
      const { startCluster } = await import("../cluster/index.ts");
      const running = await startCluster({ dataDir: resolve(opts.dataDir), port: opts.port, nodes: opts.nodes, fsync: opts.fsync });
      const forget = recordRunningCluster(resolve(opts.dataDir), running.url, running.kubeconfigPath);
      console.log(`berth cluster ready at ${running.url}; kubeconfig: ${running.kubeconfigPath}`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          forget();
          running.stop().then(done, done);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
