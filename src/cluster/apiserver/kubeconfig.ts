// The kubeconfig that kubectl and client-node use to reach the embedded cluster (reference §1.2).
import { stringify } from "yaml";

export function renderKubeconfig(server: string, caCertPem: string, token: string, name = "berth"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": Buffer.from(caCertPem).toString("base64") } }],
    users: [{ name: `${name}-admin`, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: "default" } }],
    "current-context": name,
    preferences: {},
  });
}
