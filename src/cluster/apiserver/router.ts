// Maps a request path to what it addresses (reference §3.1). Pure: no I/O, no storage.
import { findResource, RESOURCE_TYPES, type ResourceType } from "./resources.ts";

export type Route =
  | { kind: "root" }
  | { kind: "version" }
  | { kind: "health" }
  | { kind: "openapiV2" }
  | { kind: "api" }
  | { kind: "apis" }
  | { kind: "group"; group: string }
  | { kind: "groupVersion"; group: string; version: string }
  | { kind: "resource"; rt: ResourceType; namespace: string | undefined; name: string | undefined; subresource: string | undefined };

function resourceRoute(group: string, version: string, rest: string[]): Route | undefined {
  if (rest.length === 0) {
    return RESOURCE_TYPES.some((rt) => rt.group === group && rt.version === version) ? { kind: "groupVersion", group, version } : undefined;
  }
  const [first, second, third, ...more] = rest as [string, string?, string?, ...string[]];
  // namespaces/<ns>/<plural>[/<name>[/<subresource>]] when <plural> is a namespaced kind; otherwise
  // namespaces/<name>/<subresource> addresses the namespace itself (status, finalize).
  if (first === "namespaces" && second !== undefined && third !== undefined) {
    const namespaced = findResource(group, version, third);
    if (namespaced?.namespaced) {
      if (more.length > 2) return undefined;
      return { kind: "resource", rt: namespaced, namespace: second, name: more[0], subresource: more[1] };
    }
  }
  const rt = findResource(group, version, first);
  if (!rt || more.length > 0) return undefined;
  // A namespaced kind has no per-object path outside a namespace.
  if (rt.namespaced && second !== undefined) return undefined;
  return { kind: "resource", rt, namespace: undefined, name: second, subresource: third };
}

export function route(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname.split("/").filter((s) => s !== "");
    if (pathname.includes("%")) segments = segments.map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [head, ...rest] = segments;
  if (head === undefined) return { kind: "root" };
  if (segments.length === 1 && head === "version") return { kind: "version" };
  if (segments.length === 1 && (head === "healthz" || head === "livez" || head === "readyz")) return { kind: "health" };
  if (head === "openapi" && rest.length === 1 && rest[0] === "v2") return { kind: "openapiV2" };
  if (head === "api") {
    if (rest.length === 0) return { kind: "api" };
    if (rest[0] !== "v1") return undefined;
    return resourceRoute("", "v1", rest.slice(1));
  }
  if (head === "apis") {
    if (rest.length === 0) return { kind: "apis" };
    const [group, version, ...tail] = rest as [string, string?, ...string[]];
    if (version === undefined) return RESOURCE_TYPES.some((rt) => rt.group === group) ? { kind: "group", group } : undefined;
    return resourceRoute(group, version, tail);
  }
  return undefined;
}

/** The RBAC verb of a request on a resource route. */
export function verbOf(method: string, route: { name: string | undefined }, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      return route.name === undefined ? (watch ? "watch" : "list") : watch ? "watch" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return route.name === undefined ? "deletecollection" : "delete";
    default:
      return method.toLowerCase();
  }
}
