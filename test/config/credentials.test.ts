// Credentials in berth.yaml (the Configuration-as-Code shape, or a plain list), with ${ENV} values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/yaml-reader.ts";
import { credentialFromSecret } from "../../src/build/credentials.ts";

const CLOUDS = "clouds:\n  - kubernetes: { name: k }\n";

test("the CasC shape and a plain list; ${NAME} from the environment; an unset variable is an error at its line", () => {
  process.env["BERTH_TEST_PW"] = "from-env";
  const casc = parseConfig(`${CLOUDS}credentials:\n  system:\n    domainCredentials:\n      - credentials:\n          - usernamePassword: { id: reg, username: ci, password: "\${BERTH_TEST_PW}" }\n          - string: { id: tok, secret: abc }\n`, "b.yaml");
  assert.deepEqual(casc.credentials, [{ kind: "usernamePassword", id: "reg", username: "ci", password: "from-env" }, { kind: "string", id: "tok", secret: "abc" }]);
  const list = parseConfig(`${CLOUDS}credentials:\n  - file: { id: f, fileName: a.txt, content: hello }\n  - basicSSHUserPrivateKey: { id: k, username: git, privateKeySource: { directEntry: { privateKey: KEY } } }\n`, "b.yaml");
  assert.equal(list.credentials[0]!.kind, "file");
  assert.deepEqual(list.credentials[1], { kind: "sshUserPrivateKey", id: "k", username: "git", privateKey: "KEY" });
  assert.throws(
    () => parseConfig(`${CLOUDS}credentials:\n  - string: { id: t, secret: "\${BERTH_TEST_UNSET_VAR}" }\n`, "b.yaml"),
    (e: unknown) => e instanceof ConfigError && /^b\.yaml:4:\d+: .*BERTH_TEST_UNSET_VAR is not set/.test(e.format()),
  );
});

test("Kubernetes secrets as the Kubernetes Credentials Provider plugin writes them", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  assert.deepEqual(credentialFromSecret("t", "secretText", { text: b64("s") }), { kind: "string", id: "t", secret: "s" });
  assert.deepEqual(credentialFromSecret("u", "usernamePassword", { username: b64("a"), password: b64("b") }), { kind: "usernamePassword", id: "u", username: "a", password: "b" });
  assert.equal(credentialFromSecret("x", "certificate", {}), undefined);
});
