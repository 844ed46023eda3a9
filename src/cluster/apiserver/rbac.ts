// RBAC (rbac.authorization.k8s.io/v1): Roles and ClusterRoles grant rules; RoleBindings grant them
// in one namespace, ClusterRoleBindings everywhere. Pure rule matching plus a reader over storage.
import type { Attributes, Authorizer, Decision, UserInfo } from "./auth.ts";
import type { Storage } from "./storage.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function rulesOf(role: KubeObject | undefined): PolicyRule[] {
  if (!role || !Array.isArray(role.rules)) return [];
  return role.rules.filter(isRecord).map((r: JsonRecord) => ({
    verbs: strings(r.verbs),
    apiGroups: strings(r.apiGroups),
    resources: strings(r.resources),
    resourceNames: strings(r.resourceNames),
    nonResourceURLs: strings(r.nonResourceURLs),
  }));
}

const has = (list: string[] | undefined, value: string): boolean => (list ?? []).some((item) => item === "*" || item === value);

/** Whether one rule allows the request. */
export function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (a.kind === "nonResource") {
    return (rule.nonResourceURLs ?? []).some((url) => url === "*" || url === a.path || (url.endsWith("*") && a.path.startsWith(url.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.group)) return false;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resources = rule.resources ?? [];
  const resourceMatch = resources.some((r) => r === "*" || r === resource || (a.subresource !== undefined && r === `*/${a.subresource}`));
  if (!resourceMatch) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== undefined && names.includes(a.name));
}

export function subjectMatches(subject: Subject, user: UserInfo): boolean {
  switch (subject.kind) {
    case "User":
      return subject.name === user.username;
    case "Group":
      return user.groups.includes(subject.name);
    case "ServiceAccount":
      return user.username === `system:serviceaccount:${subject.namespace ?? ""}:${subject.name}`;
    default:
      return false;
  }
}

/** A RoleBinding's service-account subject without a namespace means the binding's own namespace. */
function subjectsOf(binding: KubeObject): Subject[] {
  if (!Array.isArray(binding.subjects)) return [];
  return binding.subjects.filter(isRecord).map((s) => ({ kind: String(s.kind), name: String(s.name), namespace: typeof s.namespace === "string" && s.namespace ? s.namespace : binding.metadata.namespace }));
}

/** What every authenticated user may do, as the real server's system:basic-user and system:discovery roles grant. */
export const BASIC_USER_RULES: PolicyRule[] = [
  { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
  { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
  { verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"] },
];

export class RbacAuthorizer implements Authorizer {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** The rules that apply to a user in a namespace (or cluster-wide when namespace is undefined). */
  rulesFor(user: UserInfo, namespace: string | undefined): PolicyRule[] {
    const rules: PolicyRule[] = user.groups.includes("system:authenticated") ? [...BASIC_USER_RULES] : [];
    const clusterRole = (name: unknown): KubeObject | undefined => this.#storage.get("clusterroles.rbac.authorization.k8s.io", "", String(name));
    for (const binding of this.#storage.list("clusterrolebindings.rbac.authorization.k8s.io", undefined)) {
      if (!subjectsOf(binding).some((s) => subjectMatches(s, user))) continue;
      const ref = isRecord(binding.roleRef) ? binding.roleRef : {};
      if (ref.kind === "ClusterRole") rules.push(...rulesOf(clusterRole(ref.name)));
    }
    if (namespace) {
      for (const binding of this.#storage.list("rolebindings.rbac.authorization.k8s.io", namespace)) {
        if (!subjectsOf(binding).some((s) => subjectMatches(s, user))) continue;
        const ref = isRecord(binding.roleRef) ? binding.roleRef : {};
        const role = ref.kind === "ClusterRole" ? clusterRole(ref.name) : this.#storage.get("roles.rbac.authorization.k8s.io", namespace, String(ref.name));
        rules.push(...rulesOf(role).filter((r) => (r.nonResourceURLs ?? []).length === 0));
      }
    }
    return rules;
  }

  authorize(user: UserInfo, attributes: Attributes): Decision {
    const namespace = attributes.kind === "resource" ? attributes.namespace : undefined;
    const allowed = this.rulesFor(user, namespace).some((rule) => ruleAllows(rule, attributes));
    return { allowed, reason: "" };
  }
}
