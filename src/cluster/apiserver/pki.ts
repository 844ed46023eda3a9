// The cluster's certificate authority and the API server's serving certificate, generated on first
// start with @peculiar/x509 over WebCrypto and kept in the data directory, so a restart serves the
// same CA that existing kubeconfigs trust. Also the admin bearer token.
import { X509Certificate, generateKeyPairSync, randomBytes, webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as X509 from "@peculiar/x509";

type X509Library = typeof X509;

/**
 * @peculiar/x509 is loaded only when a certificate must be made (first start, renewal): it costs
 * about 20 MB of memory that a restarted server does not need.
 */
async function loadX509(): Promise<X509Library> {
  // It resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  // It is typed against the DOM WebCrypto types; Node's implementation is the same API.
  x509.cryptoProvider.set(webcrypto as never);
  return x509;
}

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Pki {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  adminToken: string;
  /** Signs service-account tokens (PKCS#8 PEM). */
  serviceAccountKeyPem: string;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

async function exportKey(key: Key): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function importKey(pem: string): Promise<Key> {
  return webcrypto.subtle.importKey("pkcs8", fromPem(pem), KEY_ALGORITHM, true, ["sign"]);
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as KeyPair;
}

async function createCa(): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=berth-ca",
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await exportKey(keys.privateKey) };
}

/** A leaf certificate signed by the cluster CA: the serving certificate and client certificates. */
async function issueLeaf(caCertPem: string, caKeyPem: string, leaf: { subject: string; days: number; usage: "serverAuth" | "clientAuth"; ipAndDnsNames?: { type: "ip" | "dns"; value: string }[] }): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const ca = new x509.X509Certificate(caCertPem);
  const caKey = await importKey(caKeyPem);
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    subject: leaf.subject,
    issuer: ca.subject,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + leaf.days * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[leaf.usage]]),
      ...(leaf.ipAndDnsNames ? [new x509.SubjectAlternativeNameExtension(leaf.ipAndDnsNames)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await exportKey(keys.privateKey) };
}

function createServingCert(caCertPem: string, caKeyPem: string): Promise<{ certPem: string; keyPem: string }> {
  return issueLeaf(caCertPem, caKeyPem, {
    subject: "CN=berth-apiserver",
    days: 365,
    usage: "serverAuth",
    ipAndDnsNames: [
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
      { type: "dns", value: "localhost" },
      { type: "dns", value: "kubernetes.default.svc" },
    ],
  });
}

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
}

/** Loads the PKI from `<dataDir>/pki`, creating what is missing; renews a serving cert near expiry. */
export async function loadOrCreatePki(dataDir: string): Promise<Pki> {
  const dir = join(dataDir, "pki");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const serverCert = join(dir, "apiserver.crt");
  const serverKey = join(dir, "apiserver.key");
  const tokenFile = join(dir, "admin.token");
  if (!existsSync(caCert) || !existsSync(caKey)) {
    const ca = await createCa();
    writeSecret(caKey, ca.keyPem);
    writeFileSync(caCert, ca.certPem);
  }
  const caCertPem = readFileSync(caCert, "utf8");
  const needsServing = !existsSync(serverCert) || !existsSync(serverKey) || Date.parse(new X509Certificate(readFileSync(serverCert, "utf8")).validTo) - Date.now() < 30 * DAY_MS;
  if (needsServing) {
    const serving = await createServingCert(caCertPem, readFileSync(caKey, "utf8"));
    writeSecret(serverKey, serving.keyPem);
    writeFileSync(serverCert, serving.certPem);
  }
  if (!existsSync(tokenFile)) writeSecret(tokenFile, randomBytes(32).toString("base64url") + "\n");
  const saKey = join(dir, "sa.key");
  if (!existsSync(saKey)) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeSecret(saKey, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  }
  return {
    caCertPem,
    serverCertPem: readFileSync(serverCert, "utf8"),
    serverKeyPem: readFileSync(serverKey, "utf8"),
    adminToken: readFileSync(tokenFile, "utf8").trim(),
    serviceAccountKeyPem: readFileSync(saKey, "utf8"),
  };
}

/**
 * Issues a client certificate for a user (CN) and groups (O), signed by the cluster CA: the other way,
 * beside bearer tokens, for a kubeconfig to authenticate. `system:masters` makes an administrator.
 */
export function issueClientCertificate(dataDir: string, username: string, groups: string[] = [], days = 365): Promise<{ certPem: string; keyPem: string }> {
  const dir = join(dataDir, "pki");
  const escape = (value: string): string => value.replace(/([,+"\\<>;=])/g, "\\$1");
  return issueLeaf(readFileSync(join(dir, "ca.crt"), "utf8"), readFileSync(join(dir, "ca.key"), "utf8"), {
    subject: [...groups.map((g) => `O=${escape(g)}`), `CN=${escape(username)}`].join(", "),
    days,
    usage: "clientAuth",
  });
}
