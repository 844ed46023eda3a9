// Credentials in berth.yaml, in the shape Jenkins' Configuration-as-Code writes them
// (`credentials: system: domainCredentials: - credentials: [...]`), or as a plain list under
// `credentials:`. Values may name environment variables as `${NAME}`, so secrets need not be in the
// file (the variable must be set when the file is read).
import type { YamlValue } from "./yaml-reader.ts";

export type ConfiguredCredential =
  | { kind: "string"; id: string; secret: string }
  | { kind: "usernamePassword"; id: string; username: string; password: string }
  | { kind: "file"; id: string; fileName: string; content: Buffer }
  | { kind: "sshUserPrivateKey"; id: string; username: string; privateKey: string; passphrase?: string };

const KINDS: Record<string, ConfiguredCredential["kind"]> = {
  string: "string", usernamePassword: "usernamePassword", file: "file", basicSSHUserPrivateKey: "sshUserPrivateKey", sshUserPrivateKey: "sshUserPrivateKey",
};

export function readCredentials(v: YamlValue | undefined): ConfiguredCredential[] {
  if (!v || v.isNull) return [];
  let list = v;
  if (v.isMapping()) {
    const system = v.fields(["system"]).get("system") ?? v.fail("expected `system: domainCredentials:` or a list");
    const domains = system.fields(["domainCredentials"]).get("domainCredentials");
    return (domains?.items() ?? []).flatMap((d) => readCredentials(d.fields(["credentials", "domain"]).get("credentials")));
  }
  list = v;
  return list.items().map(readCredential);
}

function readCredential(item: YamlValue): ConfiguredCredential {
  const entries = item.entries();
  const [kind, body] = entries.length === 1 && KINDS[entries[0]![0]] ? [KINDS[entries[0]![0]]!, entries[0]![1]] : item.fail(`each credential is written as one of ${Object.keys(KINDS).map((k) => `${k}: {...}`).join(", ")}`);
  const f = body.fields(["id", "scope", "description", "secret", "username", "password", "usernameSecret", "fileName", "secretBytes", "content", "privateKey", "privateKeySource", "passphrase"]);
  const text = (key: string, required = true): string | undefined => {
    const value = f.get(key);
    const s = value?.string();
    if (s === undefined) return required ? body.fail(`a ${kind} credential needs ${key}`) : undefined;
    return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => process.env[name] ?? value!.fail(`environment variable ${name} is not set`));
  };
  const id = text("id")!;
  switch (kind) {
    case "string": return { kind, id, secret: text("secret")! };
    case "usernamePassword": return { kind, id, username: text("username")!, password: text("password")! };
    case "file": {
      const bytes = text("secretBytes", false);
      const content = bytes !== undefined ? Buffer.from(bytes.replace(/^\$\{base64:|\}$/g, ""), "base64") : Buffer.from(text("content")!, "utf8");
      return { kind, id, fileName: text("fileName", false) ?? id, content };
    }
    case "sshUserPrivateKey": {
      const source = f.get("privateKeySource");
      const direct = source?.fields(["directEntry"]).get("directEntry")?.fields(["privateKey"]).get("privateKey")?.string();
      const privateKey = direct ?? text("privateKey")!;
      const passphrase = text("passphrase", false);
      return { kind, id, username: text("username")!, privateKey, ...(passphrase ? { passphrase } : {}) };
    }
  }
}
