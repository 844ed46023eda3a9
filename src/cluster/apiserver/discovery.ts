// Legacy discovery documents, /version and the OpenAPI stand-in (reference §2). Built from the
// resource catalogue, so what clients discover is exactly what the router serves.
import { createHash } from "node:crypto";
import { RESOURCE_TYPES, groupVersions, type ResourceType } from "./resources.ts";
import type { JsonRecord } from "./types.ts";

/** The Kubernetes release whose API this server follows. */
export const KUBERNETES_VERSION = { major: "1", minor: "33", gitVersion: "v1.33.0+berth" };

export function versionInfo(): JsonRecord {
  return {
    major: KUBERNETES_VERSION.major,
    minor: KUBERNETES_VERSION.minor,
    gitVersion: KUBERNETES_VERSION.gitVersion,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: "go1.24.0",
    compiler: "gc",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

export function apiVersions(serverAddress: string): JsonRecord {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

export function apiGroupList(): JsonRecord {
  const groups = new Map<string, string[]>();
  for (const { group, version } of groupVersions()) {
    if (group === "") continue;
    groups.set(group, [...(groups.get(group) ?? []), version]);
  }
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups].map(([name, versions]) => {
      const gv = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions: gv, preferredVersion: gv[0] };
    }),
  };
}

function storageVersionHash(rt: ResourceType): string {
  return createHash("sha256").update(`${rt.group}/${rt.version}/${rt.kind}`).digest("base64").slice(0, 11);
}

/** The APIResourceList of one group-version; each resource comes before its subresources. */
export function apiResourceList(group: string, version: string): JsonRecord | undefined {
  const types = RESOURCE_TYPES.filter((rt) => rt.group === group && rt.version === version);
  if (types.length === 0) return undefined;
  const resources: JsonRecord[] = [];
  for (const rt of [...types].sort((a, b) => a.plural.localeCompare(b.plural))) {
    resources.push({
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: rt.verbs,
      ...(rt.shortNames ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories ? { categories: rt.categories } : {}),
      ...(rt.virtual ? {} : { storageVersionHash: storageVersionHash(rt) }),
    });
    for (const [sub, info] of Object.entries(rt.subresources).sort(([a], [b]) => a.localeCompare(b))) {
      resources.push({
        name: `${rt.plural}/${sub}`,
        singularName: "",
        namespaced: rt.namespaced,
        ...(info.group !== undefined ? { group: info.group, version: info.version } : {}),
        kind: info.kind,
        verbs: info.verbs,
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version, resources };
}

/**
 * OpenAPI v2 as kubectl needs it to run `apply` and `create -f` (reference §2.6): an empty protobuf
 * document, which is a valid empty Document, so kubectl finds no schema and validates nothing.
 */
export const OPENAPI_V2_PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

export function openApiV2Json(): JsonRecord {
  return { swagger: "2.0", info: { title: "Kubernetes", version: KUBERNETES_VERSION.gitVersion }, paths: {}, definitions: {} };
}

// ------------------------------------------------------------------------------------------------
// Aggregated discovery (apidiscovery.k8s.io): all resources of /api or /apis in one document, which
// kubectl 1.26+ asks for first. Served only when the exact version appears in the Accept header, and
// always with that version echoed in the Content-Type: that is how clients tell it from the legacy form.

export type AggregatedVersion = "v2" | "v2beta1";

/** The aggregated-discovery version the Accept header prefers, if any. */
export function preferredAggregatedVersion(accept: string): AggregatedVersion | undefined {
  for (const mediaType of accept.split(",")) {
    const [type, ...rawParams] = mediaType.split(";").map((part) => part.trim());
    if (type !== "application/json") continue;
    const params = new Map(rawParams.map((p) => p.split("=").map((s) => s.trim()) as [string, string]));
    if (params.get("g") !== "apidiscovery.k8s.io" || params.get("as") !== "APIGroupDiscoveryList") continue;
    const version = params.get("v");
    if (version === "v2" || version === "v2beta1") return version;
  }
  return undefined;
}

export function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

function discoveryResource(rt: ResourceType): JsonRecord {
  return {
    resource: rt.plural,
    responseKind: { group: rt.group, version: rt.version, kind: rt.kind },
    scope: rt.namespaced ? "Namespaced" : "Cluster",
    singularResource: rt.singular,
    verbs: rt.verbs,
    ...(rt.shortNames ? { shortNames: rt.shortNames } : {}),
    ...(rt.categories ? { categories: rt.categories } : {}),
    ...(Object.keys(rt.subresources).length > 0
      ? {
          subresources: Object.entries(rt.subresources)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([subresource, info]) => ({ subresource, responseKind: { group: info.group ?? rt.group, version: info.version ?? rt.version, kind: info.kind }, verbs: info.verbs })),
        }
      : {}),
  };
}

/** The aggregated document of the core group (/api) or of every named group (/apis). */
export function aggregatedDiscovery(scope: "core" | "groups", version: AggregatedVersion): JsonRecord {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const rt of RESOURCE_TYPES) {
    if ((scope === "core") !== (rt.group === "")) continue;
    const versions = groups.get(rt.group) ?? new Map<string, ResourceType[]>();
    versions.set(rt.version, [...(versions.get(rt.version) ?? []), rt]);
    groups.set(rt.group, versions);
  }
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: [...groups].map(([group, versions]) => ({
      metadata: { name: group },
      versions: [...versions].map(([v, types]) => ({
        version: v,
        freshness: "Current",
        resources: [...types].sort((a, b) => a.plural.localeCompare(b.plural)).map(discoveryResource),
      })),
    })),
  };
}
