// The API server alone (no scheduler, no kubelets), as a process for bench/apiserver.ts: pods
// stay Pending, so the figures are the API server's own.
import { startApiServer } from "../src/cluster/apiserver/index.ts";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: apiserver-process.ts <data-dir>");
const server = await startApiServer({ dataDir, port: 0, nodes: 1 });
console.log(`ready ${server.kubeconfigPath}`);
const stop = (): void => void server.stop();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// `kill -USR2 <pid>` prints the process's memory figures (for investigating the RSS figure).
process.on("SIGUSR2", () => console.error(JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 2 ** 20)])))));
