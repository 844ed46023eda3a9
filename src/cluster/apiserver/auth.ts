// Who is calling (bearer tokens) and what they may do. The admin token belongs to the
// system:masters group, which every authorizer allows, as on a real cluster.
import { timingSafeEqual } from "node:crypto";

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}

export type Attributes = ({ kind: "resource" } & ResourceAttributes) | ({ kind: "nonResource" } & NonResourceAttributes);

export interface Decision {
  allowed: boolean;
  reason: string;
}

export interface Authenticator {
  authenticate(token: string): UserInfo | undefined;
}

export interface Authorizer {
  authorize(user: UserInfo, attributes: Attributes): Decision;
}

export const ADMIN_USER: UserInfo = { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] };

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Looks a token up in a fixed table (the admin token) and then in any further authenticators. */
export class TokenAuthenticator implements Authenticator {
  readonly #tokens: [string, UserInfo][];
  readonly #others: Authenticator[];

  constructor(tokens: [string, UserInfo][], others: Authenticator[] = []) {
    this.#tokens = tokens;
    this.#others = others;
  }

  authenticate(token: string): UserInfo | undefined {
    for (const [known, user] of this.#tokens) if (sameSecret(known, token)) return user;
    for (const other of this.#others) {
      const user = other.authenticate(token);
      if (user) return user;
    }
    return undefined;
  }
}

/** Allows system:masters everything, then asks the next authorizer (RBAC) if there is one. */
export class MastersAuthorizer implements Authorizer {
  readonly #next: Authorizer | undefined;

  constructor(next?: Authorizer) {
    this.#next = next;
  }

  authorize(user: UserInfo, attributes: Attributes): Decision {
    if (user.groups.includes("system:masters")) return { allowed: true, reason: "" };
    return this.#next?.authorize(user, attributes) ?? { allowed: false, reason: "" };
  }
}

/** The Forbidden text of the real server: `User "x" cannot get resource "pods" in API group "" ...`. */
export function forbiddenReason(user: UserInfo, a: Attributes): string {
  if (a.kind === "nonResource") return `User "${user.username}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? ` in the namespace "${a.namespace}"` : " at the cluster scope";
  return `User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.group}"${scope}`;
}

/** What the TLS layer tells about a client certificate (a subset of tls.TLSSocket). */
export interface PeerCertificateSource {
  authorized?: boolean;
  getPeerCertificate?(): { subject?: Record<string, string | string[] | undefined> } | null;
}

/**
 * A client certificate signed by the cluster CA names its user as Kubernetes does: the subject's CN
 * is the user name and each O is a group.
 */
export function userFromClientCertificate(socket: PeerCertificateSource): UserInfo | undefined {
  if (socket.authorized !== true || !socket.getPeerCertificate) return undefined;
  const subject = socket.getPeerCertificate()?.subject;
  const cn = subject?.CN;
  const username = Array.isArray(cn) ? cn[0] : cn;
  if (!username) return undefined;
  const organisations = subject?.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
  return { username, groups: [...organisations, "system:authenticated"] };
}
