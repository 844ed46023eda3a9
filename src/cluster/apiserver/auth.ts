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

/** What Impersonate-* headers ask for (kubectl --as, --as-group, --as-uid; client-go's ImpersonationConfig). */
export interface ImpersonationRequest {
  username?: string;
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

/** Reads the Impersonate-* headers (each given once per value); undefined when there are none. */
export function impersonationRequest(headers: Record<string, string[] | undefined>): ImpersonationRequest | undefined {
  const request: ImpersonationRequest = { groups: [], extra: {} };
  let any = false;
  for (const [name, values] of Object.entries(headers)) {
    if (!values || !name.startsWith("impersonate-")) continue;
    any = true;
    if (name === "impersonate-user") request.username = values[0];
    else if (name === "impersonate-group") request.groups.push(...values);
    else if (name === "impersonate-uid") request.uid = values[0];
    else if (name.startsWith("impersonate-extra-")) {
      const key = decodeURIComponent(name.slice("impersonate-extra-".length));
      request.extra[key] = [...(request.extra[key] ?? []), ...values];
    }
  }
  return any ? request : undefined;
}

/**
 * The checks an impersonation needs, each an RBAC `impersonate` on what is impersonated: users (or a
 * service account in its namespace), groups, uids and user extras.
 */
export function impersonationChecks(request: ImpersonationRequest): Attributes[] {
  const checks: Attributes[] = [];
  const username = request.username ?? "";
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (sa) checks.push({ kind: "resource", verb: "impersonate", group: "", resource: "serviceaccounts", namespace: sa[1], name: sa[2] });
  else checks.push({ kind: "resource", verb: "impersonate", group: "", resource: "users", name: username });
  for (const group of request.groups) checks.push({ kind: "resource", verb: "impersonate", group: "", resource: "groups", name: group });
  if (request.uid !== undefined) checks.push({ kind: "resource", verb: "impersonate", group: "authentication.k8s.io", resource: "uids", name: request.uid });
  for (const [key, values] of Object.entries(request.extra)) {
    for (const value of values) checks.push({ kind: "resource", verb: "impersonate", group: "authentication.k8s.io", resource: "userextras", subresource: key, name: value });
  }
  return checks;
}

/** The user a permitted impersonation acts as, with the groups the real server adds. */
export function impersonatedUser(request: ImpersonationRequest): UserInfo {
  const username = request.username ?? "";
  const groups = [...request.groups];
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (sa && request.groups.length === 0) groups.push("system:serviceaccounts", `system:serviceaccounts:${sa[1]}`);
  if (username === "system:anonymous") {
    if (!groups.includes("system:unauthenticated")) groups.push("system:unauthenticated");
  } else if (!groups.includes("system:authenticated")) groups.push("system:authenticated");
  return { username, groups, ...(request.uid !== undefined ? { uid: request.uid } : {}), ...(Object.keys(request.extra).length > 0 ? { extra: request.extra } : {}) };
}
