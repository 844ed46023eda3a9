// Service-account tokens: TokenRequest (serviceaccounts/<name>/token) issues an ES256-signed JWT
// with the claims real clusters use; the authenticator accepts it while it has not expired and
// the service account (and the pod it is bound to, if any) still exists with the same uid.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import type { Authenticator, UserInfo } from "./auth.ts";
import { fieldErrors, invalid } from "./status.ts";
import type { Storage } from "./storage.ts";
import { formatTime, isRecord, type JsonRecord, type KubeObject } from "./types.ts";

export const DEFAULT_AUDIENCE = "https://kubernetes.default.svc.cluster.local";
const ISSUER = DEFAULT_AUDIENCE;
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 365 * 24 * 3600;

interface Claims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  "kubernetes.io": {
    namespace: string;
    serviceaccount: { name: string; uid: string };
    pod?: { name: string; uid: string };
  };
}

const b64 = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

export class ServiceAccountTokens implements Authenticator {
  readonly #storage: Storage;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #now: () => Date;

  constructor(storage: Storage, signingKeyPem: string, now: () => Date = () => new Date()) {
    this.#storage = storage;
    this.#privateKey = createPrivateKey(signingKeyPem);
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#now = now;
  }

  /** Answers a TokenRequest for an existing service account. */
  issue(namespace: string, serviceAccount: KubeObject, request: JsonRecord): JsonRecord {
    const spec = isRecord(request.spec) ? request.spec : {};
    const expirationSeconds = spec.expirationSeconds === undefined || spec.expirationSeconds === null ? 3600 : Number(spec.expirationSeconds);
    const name = serviceAccount.metadata.name ?? "";
    if (!Number.isInteger(expirationSeconds) || expirationSeconds < MIN_EXPIRATION_SECONDS) {
      throw invalid("TokenRequest", "authentication.k8s.io", name, [fieldErrors.invalid("spec.expirationSeconds", spec.expirationSeconds, "may not specify a duration less than 10 minutes")]);
    }
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? spec.audiences.map(String) : [DEFAULT_AUDIENCE];
    const now = Math.floor(this.#now().getTime() / 1000);
    const exp = now + Math.min(expirationSeconds, MAX_EXPIRATION_SECONDS);
    const claims: Claims = {
      iss: ISSUER,
      sub: `system:serviceaccount:${namespace}:${name}`,
      aud: audiences,
      exp,
      iat: now,
      nbf: now,
      "kubernetes.io": { namespace, serviceaccount: { name, uid: serviceAccount.metadata.uid ?? "" } },
    };
    const bound = isRecord(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
    if (bound?.kind === "Pod") {
      const pod = this.#storage.get("pods", namespace, String(bound.name));
      if (!pod) throw invalid("TokenRequest", "authentication.k8s.io", name, [fieldErrors.notFound("spec.boundObjectRef.name", bound.name)]);
      claims["kubernetes.io"].pod = { name: String(bound.name), uid: pod.metadata.uid ?? "" };
    }
    return {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      metadata: { name, namespace, creationTimestamp: formatTime(this.#now()) },
      spec: { audiences, expirationSeconds: exp - now, ...(bound ? { boundObjectRef: bound } : {}) },
      status: { token: this.sign(claims), expirationTimestamp: formatTime(new Date(exp * 1000)) },
    };
  }

  sign(claims: Claims): string {
    const input = `${b64(JSON.stringify({ alg: "ES256", typ: "JWT", kid: "berth-sa" }))}.${b64(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(input), { key: this.#privateKey, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64(signature)}`;
  }

  authenticate(token: string): UserInfo | undefined {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    const valid = verify("sha256", Buffer.from(`${header}.${payload}`), { key: this.#publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"));
    if (!valid) return undefined;
    let claims: Claims;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Claims;
    } catch {
      return undefined;
    }
    const now = this.#now().getTime() / 1000;
    if (claims.iss !== ISSUER || typeof claims.exp !== "number" || claims.exp < now) return undefined;
    const info = claims["kubernetes.io"];
    if (!info?.serviceaccount) return undefined;
    const sa = this.#storage.get("serviceaccounts", info.namespace, info.serviceaccount.name);
    if (!sa || sa.metadata.uid !== info.serviceaccount.uid) return undefined;
    if (info.pod) {
      const pod = this.#storage.get("pods", info.namespace, info.pod.name);
      if (!pod || pod.metadata.uid !== info.pod.uid) return undefined;
    }
    return {
      username: claims.sub,
      uid: info.serviceaccount.uid,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${info.namespace}`, "system:authenticated"],
      ...(info.pod ? { extra: { "authentication.kubernetes.io/pod-name": [info.pod.name], "authentication.kubernetes.io/pod-uid": [info.pod.uid] } } : {}),
    };
  }
}
