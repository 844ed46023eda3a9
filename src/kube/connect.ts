// Where a cloud's API server is and how to authenticate to it. "If Kubernetes URL is not set, the
// connection options will be autoconfigured from service account or kube config file" (seed 001):
// an explicit URL first, then a named kubeconfig, then the pod's service account, then the default
// kubeconfig ($KUBECONFIG or ~/.kube/config).
import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

export interface ConnectionSettings {
  /** API server URL; unset: autoconfigure. */
  serverUrl?: string;
  /** PEM (or base64 of a PEM) of the CA that signed the server's certificate. */
  serverCertificate?: string;
  skipTlsVerify?: boolean;
  /** Bearer token, or a file holding one. */
  token?: string;
  tokenFile?: string;
  /** Client certificate and key, PEM. */
  clientCertificate?: string;
  clientKey?: string;
  /** A kubeconfig file and, optionally, which of its contexts. */
  kubeconfig?: string;
  context?: string;
  /** The namespace to work in; unset: the context's, the service account's, or "default". */
  namespace?: string;
}

export interface Connection {
  kubeConfig: KubeConfig;
  namespace: string;
  /** How the connection was found, for logs: "url", "kubeconfig <file>", "service account", "default kubeconfig". */
  source: string;
}

export class ConnectionError extends Error {}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function connect(settings: ConnectionSettings, env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): Connection {
  const kc = new KubeConfig();
  let source: string;
  if (settings.serverUrl) {
    const inCluster = !settings.token && !settings.tokenFile && !settings.clientCertificate && inClusterAvailable(env, serviceAccountDir);
    kc.loadFromOptions({
      clusters: [{ name: "cloud", server: settings.serverUrl, skipTLSVerify: settings.skipTlsVerify ?? false, ...caOf(settings) }],
      users: [{ name: "cloud", ...credentialsOf(settings, inCluster ? serviceAccountDir : undefined) }],
      contexts: [{ name: "cloud", cluster: "cloud", user: "cloud" }],
      currentContext: "cloud",
    });
    source = "url";
  } else if (settings.kubeconfig) {
    if (!existsSync(settings.kubeconfig)) throw new ConnectionError(`kubeconfig ${settings.kubeconfig} does not exist`);
    kc.loadFromFile(settings.kubeconfig);
    source = `kubeconfig ${settings.kubeconfig}`;
  } else if (inClusterAvailable(env, serviceAccountDir)) {
    loadServiceAccount(kc, env, serviceAccountDir);
    source = "service account";
  } else {
    kc.loadFromDefault();
    if (!kc.getCurrentCluster()) {
      throw new ConnectionError("no Kubernetes connection: set serverUrl or kubeconfig, run in a pod with a service account, or provide ~/.kube/config");
    }
    source = "default kubeconfig";
  }
  if (settings.context) {
    if (!kc.getContextObject(settings.context)) throw new ConnectionError(`kubeconfig has no context '${settings.context}'`);
    kc.setCurrentContext(settings.context);
  }
  if (!kc.getCurrentCluster()) throw new ConnectionError(`${source}: no current cluster`);
  return { kubeConfig: kc, namespace: settings.namespace || namespaceOf(kc, source, serviceAccountDir) || "default", source };
}

function inClusterAvailable(env: NodeJS.ProcessEnv, dir: string): boolean {
  return Boolean(env["KUBERNETES_SERVICE_HOST"]) && existsSync(`${dir}/token`);
}

/** What a pod's service account gives: the API server's address from the environment, CA and token from files. */
function loadServiceAccount(kc: KubeConfig, env: NodeJS.ProcessEnv, dir: string): void {
  const host = env["KUBERNETES_SERVICE_HOST"]!;
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443";
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  kc.loadFromOptions({
    clusters: [{ name: "in-cluster", server, ...(existsSync(`${dir}/ca.crt`) ? { caFile: `${dir}/ca.crt` } : {}) }],
    users: [{ name: "in-cluster", token: readFileSync(`${dir}/token`, "utf8").trim() }],
    contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster" }],
    currentContext: "in-cluster",
  });
}

function namespaceOf(kc: KubeConfig, source: string, dir: string): string | undefined {
  if (source === "service account" && existsSync(`${dir}/namespace`)) return readFileSync(`${dir}/namespace`, "utf8").trim();
  return kc.getContextObject(kc.getCurrentContext())?.namespace;
}

function caOf(settings: ConnectionSettings): { caData?: string } {
  const cert = settings.serverCertificate?.trim();
  if (!cert) return {};
  // The plugin accepts the PEM itself or its base64; the kubeconfig field wants base64.
  return { caData: cert.startsWith("-----BEGIN") ? Buffer.from(cert).toString("base64") : cert };
}

function credentialsOf(settings: ConnectionSettings, serviceAccountDir: string | undefined): Record<string, string> {
  if (settings.token) return { token: settings.token };
  if (settings.tokenFile) return { token: readFileSync(settings.tokenFile, "utf8").trim() };
  if (settings.clientCertificate && settings.clientKey) {
    return { certData: Buffer.from(settings.clientCertificate).toString("base64"), keyData: Buffer.from(settings.clientKey).toString("base64") };
  }
  if (serviceAccountDir) return { token: readFileSync(`${serviceAccountDir}/token`, "utf8").trim() };
  return {};
}
