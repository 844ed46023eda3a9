// Credentials for a build: withCredentials bindings and declarative `credentials('id')`. They come from
// berth.yaml, then from Kubernetes secrets in the cloud's namespace written the way the Kubernetes
// Credentials Provider plugin reads them (label `jenkins.io/credentials-type`, the secret's name as the
// id), so secrets a Jenkins installation already keeps in its cluster work unchanged. Every value bound
// is added to the build's secrets, so the log shows `****` instead.
import type { ConfiguredCredential } from "../config/credentials.ts";
import type { KubeClient } from "../kube/client.ts";

export type Credential = ConfiguredCredential;

export interface CredentialStore {
  lookup(id: string): Promise<Credential | undefined>;
}

const TYPE_LABEL = "jenkins.io/credentials-type";

/** The secret's data (base64) read as one credential, by the provider plugin's key names. */
export function credentialFromSecret(id: string, type: string, data: Record<string, string>): Credential | undefined {
  const text = (key: string) => (data[key] === undefined ? undefined : Buffer.from(data[key], "base64").toString("utf8"));
  switch (type) {
    case "secretText": return text("text") === undefined ? undefined : { kind: "string", id, secret: text("text")! };
    case "usernamePassword":
      return text("username") === undefined || text("password") === undefined ? undefined : { kind: "usernamePassword", id, username: text("username")!, password: text("password")! };
    case "secretFile":
      return data["data"] === undefined ? undefined : { kind: "file", id, fileName: text("filename") ?? id, content: Buffer.from(data["data"], "base64") };
    case "basicSSHUserPrivateKey": {
      if (text("privateKey") === undefined) return undefined;
      const passphrase = text("passphrase");
      return { kind: "sshUserPrivateKey", id, username: text("username") ?? "", privateKey: text("privateKey")!, ...(passphrase ? { passphrase } : {}) };
    }
    default: return undefined;
  }
}

/** `kube` is asked for (and so connects) only when a credential is not in berth.yaml. */
export function credentialStore(configured: readonly Credential[], kube?: () => Promise<{ client: KubeClient; namespace: string }>): CredentialStore {
  const byId = new Map(configured.map((c) => [c.id, c]));
  return {
    async lookup(id) {
      const found = byId.get(id);
      if (found || !kube) return found;
      const { client, namespace } = await kube();
      const secret = await client.core.readNamespacedSecret({ name: id, namespace }).catch(() => undefined);
      const type = secret?.metadata?.labels?.[TYPE_LABEL];
      return type ? credentialFromSecret(id, type, secret.data ?? {}) : undefined;
    },
  };
}

/** The secret values of a credential, for masking. */
export function secretsOf(c: Credential): string[] {
  switch (c.kind) {
    case "string": return [c.secret];
    case "usernamePassword": return [c.password, `${c.username}:${c.password}`];
    case "file": return [];
    case "sshUserPrivateKey": return [c.privateKey, ...(c.passphrase ? [c.passphrase] : [])];
  }
}
