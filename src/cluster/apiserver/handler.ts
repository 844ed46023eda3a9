// The HTTP request handler: authentication, routing, body decoding, content negotiation and
// dispatch to the REST store. Every failure leaves as a metav1.Status with the real code; the
// handler never lets an exception escape to the server.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { forbiddenReason, impersonatedUser, impersonationChecks, impersonationRequest, userFromClientCertificate, type PeerCertificateSource, type Attributes, type Authenticator, type Authorizer, type UserInfo } from "./auth.ts";
import {
  aggregatedContentType,
  aggregatedDiscovery,
  apiGroupList,
  apiResourceList,
  apiVersions,
  openApiV2Json,
  OPENAPI_V2_PROTOBUF_TYPE,
  preferredAggregatedVersion,
  versionInfo,
} from "./discovery.ts";
import { decodeProtobufObject, isProtobuf } from "./protobuf.ts";
import type { PolicyRule } from "./rbac.ts";
import type { KubeletProxy } from "./kubelet-proxy.ts";
import { jsonText, parseBool, resourceName, type DeleteOptions, type RestStore } from "./rest.ts";
import { groupVersionOf, RESOURCE_TYPES, type ResourceType } from "./resources.ts";
import { route, verbOf, type Route } from "./router.ts";
import { ApiError, badRequest, forbidden, internalError, methodNotAllowed, pathNotFound, tooLarge, unauthorized } from "./status.ts";
import { buildTable, type IncludeObject } from "./tables.ts";
import { isRecord, type JsonRecord, type KubeObject } from "./types.ts";
import { startWatch } from "./watch.ts";

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface HandlerOptions {
  store: RestStore;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** host:port that /api advertises. */
  serverAddress: () => string;
  bookmarkIntervalMs?: number;
  /** Handles TokenRequest (serviceaccounts/<name>/token). */
  issueToken?: (namespace: string, serviceAccount: KubeObject, request: JsonRecord) => JsonRecord;
  /** The RBAC rules of a user in a namespace, for SelfSubjectRulesReview. */
  rulesFor?: (user: UserInfo, namespace: string | undefined) => PolicyRule[];
  /** Proxies pods/log, exec and attach to the pod's kubelet (kubelet-proxy.ts). */
  kubeletProxy?: KubeletProxy;
}

const ANONYMOUS_PATHS = new Set(["/version", "/healthz", "/livez", "/readyz"]);

interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
}

function json(status: number, body: unknown): Reply {
  return { status, body };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(jsonText(reply.body));
  res.writeHead(reply.status, { "Content-Type": reply.contentType ?? "application/json", "Content-Length": payload.length, "Cache-Control": "no-cache, private" });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      // Drain what the client still sends, so it reads our 413 instead of a reset.
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(tooLarge());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Decodes a request body by its content type: JSON, YAML (apply patches) or Kubernetes protobuf. */
export function decodeBody(raw: Buffer, contentType: string): unknown {
  if (raw.length === 0) return undefined;
  if (isProtobuf(raw, contentType)) return decodeProtobufObject(raw);
  const text = raw.toString("utf8");
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  try {
    if (type.endsWith("yaml")) return parseYaml(text, { maxAliasCount: 100 }) as unknown;
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`error decoding request body: ${(error as Error).message.split("\n")[0]}`);
  }
}

function hasImpersonation(headers: IncomingMessage["headers"]): boolean {
  for (const name in headers) if (name.startsWith("impersonate-")) return true;
  return false;
}

/** The real server's default field manager: the User-Agent up to its first slash ("kubectl/v1.31…"). */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = (userAgent ?? "").split("/")[0]?.trim() ?? "";
  return prefix.slice(0, 128) || "unknown";
}

function tableMode(req: IncomingMessage, query: URLSearchParams): IncludeObject | undefined {
  const accept = String(req.headers.accept ?? "");
  if (!/as=Table/.test(accept)) return undefined;
  const include = query.get("includeObject");
  return include === "None" || include === "Object" ? include : "Metadata";
}

function deleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
  if (isRecord(body)) {
    const options: DeleteOptions = {};
    if (body.gracePeriodSeconds !== undefined && body.gracePeriodSeconds !== null) options.gracePeriodSeconds = Number(body.gracePeriodSeconds);
    if (typeof body.propagationPolicy === "string") options.propagationPolicy = body.propagationPolicy;
    if (typeof body.orphanDependents === "boolean") options.orphanDependents = body.orphanDependents;
    if (Array.isArray(body.dryRun)) options.dryRun = body.dryRun.map(String);
    if (isRecord(body.preconditions)) options.preconditions = body.preconditions as DeleteOptions["preconditions"];
    if (options.gracePeriodSeconds !== undefined && !Number.isInteger(options.gracePeriodSeconds)) throw badRequest("gracePeriodSeconds must be an integer");
    return options;
  }
  const options: DeleteOptions = {};
  const grace = query.get("gracePeriodSeconds");
  if (grace !== null) {
    options.gracePeriodSeconds = Number(grace);
    if (!Number.isInteger(options.gracePeriodSeconds)) throw badRequest(`invalid gracePeriodSeconds: ${grace}`);
  }
  const policy = query.get("propagationPolicy");
  if (policy) options.propagationPolicy = policy;
  const orphan = parseBool(query.get("orphanDependents"));
  if (orphan !== undefined) options.orphanDependents = orphan;
  return options;
}

export function createHandler(options: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { store } = options;

  const authorize = (user: UserInfo, attributes: Attributes, rt: ResourceType | undefined, name: string): void => {
    const decision = options.authorizer.authorize(user, attributes);
    if (decision.allowed) return;
    const reason = forbiddenReason(user, attributes) + (decision.reason ? `: ${decision.reason}` : "");
    if (!rt || attributes.kind === "nonResource") throw new ApiError(403, "Forbidden", `forbidden: ${reason}`, {});
    const subject = attributes.subresource ? { resource: `${rt.plural}/${attributes.subresource}`, group: rt.group } : resourceName(rt);
    throw forbidden(subject, name, reason);
  };

  /** Impersonate-* headers: every part must be allowed by the `impersonate` verb (reference §1.2). */
  const impersonate = (user: UserInfo, request: NonNullable<ReturnType<typeof impersonationRequest>>): UserInfo => {
    if (request.username === undefined || request.username === "") {
      if (request.groups.length > 0 || request.uid !== undefined || Object.keys(request.extra).length > 0) {
        throw badRequest("requested impersonation of groups, uid or extras without impersonating a user");
      }
      throw badRequest("Impersonate-User must not be empty");
    }
    for (const check of impersonationChecks(request)) {
      if (check.kind !== "resource") continue;
      const decision = options.authorizer.authorize(user, check);
      if (decision.allowed) continue;
      const resource = check.subresource ? `${check.resource}/${check.subresource}` : check.resource;
      throw forbidden({ resource, group: check.group }, check.name ?? "", forbiddenReason(user, check) + (decision.reason ? `: ${decision.reason}` : ""));
    }
    return impersonatedUser(request);
  };

  const handleVirtualCreate = (rt: ResourceType, user: UserInfo, body: unknown): Reply => {
    if (!isRecord(body)) throw badRequest("a request body is required");
    const spec = isRecord(body.spec) ? body.spec : {};
    const base = { ...body, apiVersion: groupVersionOf(rt), kind: rt.kind, metadata: isRecord(body.metadata) ? body.metadata : {} };
    switch (rt.plural) {
      case "selfsubjectaccessreviews": {
        const ra = isRecord(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
        const nra = isRecord(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
        if (!ra && !nra) throw new ApiError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified');
        const attributes: Attributes = ra
          ? { kind: "resource", verb: String(ra.verb ?? ""), group: String(ra.group ?? ""), resource: String(ra.resource ?? ""), subresource: String(ra.subresource ?? "") || undefined, namespace: String(ra.namespace ?? "") || undefined, name: String(ra.name ?? "") || undefined }
          : { kind: "nonResource", verb: String(nra?.verb ?? ""), path: String(nra?.path ?? "") };
        const decision = options.authorizer.authorize(user, attributes);
        return json(201, { ...base, status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) } });
      }
      case "selfsubjectrulesreviews": {
        const masters = user.groups.includes("system:masters");
        const rules = masters ? [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }, { verbs: ["*"], nonResourceURLs: ["*"] }] : (options.rulesFor?.(user, String(spec.namespace ?? "") || undefined) ?? []);
        const resourceRules = rules.filter((r) => (r.nonResourceURLs ?? []).length === 0).map(({ verbs, apiGroups, resources, resourceNames }) => ({ verbs, apiGroups: apiGroups ?? [], resources: resources ?? [], ...(resourceNames?.length ? { resourceNames } : {}) }));
        const nonResourceRules = rules.filter((r) => (r.nonResourceURLs ?? []).length > 0).map(({ verbs, nonResourceURLs }) => ({ verbs, nonResourceURLs }));
        return json(201, { ...base, status: { resourceRules, nonResourceRules, incomplete: false } });
      }
      case "selfsubjectreviews":
        return json(201, { ...base, status: { userInfo: { username: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(user.extra ? { extra: user.extra } : {}) } } });
      default:
        throw methodNotAllowed("create", resourceName(rt));
    }
  };

  const handleResource = async (req: IncomingMessage, res: ServerResponse, r: Extract<Route, { kind: "resource" }>, query: URLSearchParams, user: UserInfo): Promise<Reply | undefined> => {
    const { rt, namespace, name, subresource } = r;
    const method = req.method ?? "GET";
    const watch = parseBool(query.get("watch")) ?? false;
    const verb = verbOf(method, r, watch);
    authorize(user, { kind: "resource", verb, group: rt.group, resource: rt.plural, subresource, namespace, name }, rt, name ?? "");
    if (subresource !== undefined && !(subresource in rt.subresources)) throw pathNotFound();
    const contentType = String(req.headers["content-type"] ?? "application/json");
    // A write names its field manager, or the real server takes one from the User-Agent (managed-fields.ts).
    const tracked = !rt.virtual && (subresource === undefined || subresource === "status");
    if (tracked && (method === "POST" || method === "PUT" || method === "PATCH") && !query.get("fieldManager") && !contentType.startsWith("application/apply-patch")) {
      query.set("fieldManager", managerFromUserAgent(req.headers["user-agent"]));
    }
    const needsBody = method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
    const body = needsBody ? decodeBody(await readBody(req), contentType) : undefined;
    const table = tableMode(req, query);
    const asTable = (objects: KubeObject[], metadata: JsonRecord): Reply => json(200, buildTable(rt, objects, metadata, table ?? "Metadata"));

    if (rt.virtual) {
      if (method !== "POST") throw methodNotAllowed(verb, resourceName(rt));
      if (rt.plural === "bindings") {
        if (!namespace) throw pathNotFound();
        const target = isRecord(body) && isRecord(body.metadata) ? String(body.metadata.name ?? "") : "";
        return json(201, store.bind(namespace, target, body));
      }
      return handleVirtualCreate(rt, user, body);
    }

    if (name === undefined) {
      switch (method) {
        case "GET":
          if (watch) {
            await store.storage.durable();
            res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
            res.flushHeaders();
            startWatch(store, rt, namespace, query, {
              write: (line) => res.write(line),
              backlog: () => res.writableLength,
              end: () => res.end(),
              onClose: (callback) => res.on("close", callback),
            }, { asTable: table, bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000, maxBacklogBytes: 64 * 1024 * 1024 });
            return undefined;
          }
          if (table) {
            const list = store.list(rt, namespace, query);
            return asTable(list.items as KubeObject[], list.metadata as JsonRecord);
          }
          return json(200, store.list(rt, namespace, query));
        case "POST":
          if (rt.namespaced && namespace === undefined) throw methodNotAllowed("create", resourceName(rt));
          return json(201, store.create(rt, namespace, body, query));
        case "DELETE":
          return json(200, store.deleteCollection(rt, namespace, deleteOptions(body, query), query));
        default:
          throw methodNotAllowed(verb, resourceName(rt));
      }
    }

    if (subresource === undefined || subresource === "status") {
      switch (method) {
        case "GET": {
          if (!table) return { status: 200, body: Buffer.from(store.getText(rt, namespace, name)) };
          const obj = store.get(rt, namespace, name);
          return asTable([obj], { resourceVersion: obj.metadata.resourceVersion ?? "" });
        }
        case "PUT":
          return json(200, store.update(rt, namespace, name, body, query, subresource));
        case "PATCH": {
          const result = store.patch(rt, namespace, name, contentType, body, query, subresource);
          return json(result.created ? 201 : 200, result.object);
        }
        case "DELETE":
          if (subresource) throw methodNotAllowed("delete", resourceName(rt));
          return json(200, store.delete(rt, namespace, name, deleteOptions(body, query), query));
        default:
          throw methodNotAllowed(verb, resourceName(rt));
      }
    }

    switch (`${rt.plural}/${subresource}`) {
      case "pods/binding":
        if (method !== "POST") throw methodNotAllowed(verb, resourceName(rt));
        return json(201, store.bind(namespace ?? "", name, body));
      case "namespaces/finalize":
        if (method !== "PUT") throw methodNotAllowed(verb, resourceName(rt));
        return json(200, store.finalizeNamespace(name, body));
      case "serviceaccounts/token": {
        if (method !== "POST") throw methodNotAllowed(verb, resourceName(rt));
        const sa = store.getStored(rt, namespace, name);
        if (!options.issueToken) throw new ApiError(501, "NotImplemented", "service account tokens are not enabled on this server");
        return json(201, options.issueToken(namespace ?? "", sa, isRecord(body) ? body : {}));
      }
      case "pods/log":
      case "pods/exec":
      case "pods/attach":
      case "pods/portforward": {
        const pod = store.getStored(rt, namespace, name);
        const node = isRecord(pod.spec) ? pod.spec.nodeName : undefined;
        if (!node) throw badRequest(`pod ${name} does not have a host assigned`);
        if (options.kubeletProxy) return options.kubeletProxy(req, res, pod, subresource, query);
        throw new ApiError(503, "ServiceUnavailable", `no kubelet is serving node "${String(node)}"`);
      }
      default:
        throw methodNotAllowed(verb, resourceName(rt));
    }
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse): Promise<Reply | undefined> => {
    const url = new URL(req.url ?? "/", "https://localhost");
    const query = url.searchParams;
    let user: UserInfo | undefined;
    const header = String(req.headers.authorization ?? "");
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) user = options.authenticator.authenticate(bearer[1] as string);
    else user = userFromClientCertificate(req.socket as PeerCertificateSource);
    if (!user) {
      if (bearer || !ANONYMOUS_PATHS.has(url.pathname)) throw unauthorized();
      user = { username: "system:anonymous", groups: ["system:unauthenticated"] };
    }
    const impersonation = hasImpersonation(req.headers) ? impersonationRequest(req.headersDistinct) : undefined;
    if (impersonation) user = impersonate(user, impersonation);
    const r = route(url.pathname);
    if (r?.kind === "resource") return handleResource(req, res, r, query, user);
    // Version and health are public, as the real server's system:public-info-viewer role makes them.
    if (!ANONYMOUS_PATHS.has(url.pathname)) authorize(user, { kind: "nonResource", verb: (req.method ?? "GET").toLowerCase() === "head" ? "get" : (req.method ?? "GET").toLowerCase(), path: url.pathname }, undefined, "");
    if (!r) throw pathNotFound();
    if (req.method !== "GET" && req.method !== "HEAD") throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
    switch (r.kind) {
      case "root":
        return json(200, { paths: ["/api", "/api/v1", "/apis", ...new Set(RESOURCE_TYPES.filter((t) => t.group).map((t) => `/apis/${t.group}/${t.version}`)), "/healthz", "/livez", "/openapi/v2", "/readyz", "/version"] });
      case "version":
        return json(200, versionInfo());
      case "health":
        return { status: 200, body: Buffer.from("ok"), contentType: "text/plain; charset=utf-8" };
      case "openapiV2":
        if (String(req.headers.accept ?? "").includes("protobuf")) return { status: 200, body: Buffer.alloc(0), contentType: OPENAPI_V2_PROTOBUF_TYPE };
        return json(200, openApiV2Json());
      case "api":
      case "apis": {
        const aggregated = preferredAggregatedVersion(String(req.headers.accept ?? ""));
        if (aggregated) return { status: 200, body: aggregatedDiscovery(r.kind === "api" ? "core" : "groups", aggregated), contentType: aggregatedContentType(aggregated) };
        return json(200, r.kind === "api" ? apiVersions(options.serverAddress()) : apiGroupList());
      }
      case "group": {
        const group = (apiGroupList().groups as JsonRecord[]).find((g) => g.name === r.group);
        return json(200, { kind: "APIGroup", apiVersion: "v1", ...group });
      }
      case "groupVersion":
        return json(200, apiResourceList(r.group, r.version));
    }
  };

  const fail = (res: ServerResponse, error: unknown): void => {
    const apiError = error instanceof ApiError ? error : internalError((error as Error)?.message ?? String(error));
    if (!(error instanceof ApiError)) console.error("berth apiserver: unexpected error", error);
    send(res, json(apiError.code, apiError.toStatus()));
  };

  // Nothing is answered before the writes it may reflect are on disk (group commit, storage.ts).
  return (req, res) => {
    dispatch(req, res).then(
      (reply) => {
        if (reply) store.storage.durable().then(() => send(res, reply), (error: unknown) => fail(res, error));
      },
      (error: unknown) => store.storage.durable().then(() => fail(res, error), (commitError: unknown) => fail(res, commitError)),
    );
  };
}

