// Decodes the few Kubernetes protobuf request bodies kubectl 1.32+ sends (reference §10): the
// `k8s\0` envelope around a runtime.Unknown, and the handful of object messages named there.
// Field numbers are those of the Kubernetes API; everything not listed here is rejected with 415.
import { ApiError, badRequest } from "./status.ts";
import type { JsonRecord } from "./types.ts";

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export function isProtobuf(raw: Buffer, contentType: string): boolean {
  return contentType.includes("application/vnd.kubernetes.protobuf") || (raw.length >= 4 && raw.subarray(0, 4).equals(MAGIC));
}

type Field = number | Buffer;

/** Reads one message into field number → values (varints as numbers, length-delimited as bytes). */
function readMessage(buf: Buffer): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw badRequest("protobuf: truncated varint");
      const byte = buf[pos++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw badRequest("protobuf: varint too long");
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: Field;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = varint();
      if (pos + length > buf.length) throw badRequest("protobuf: truncated field");
      value = buf.subarray(pos, pos + length);
      pos += length;
    } else if (wire === 1) {
      pos += 8;
      continue;
    } else if (wire === 5) {
      pos += 4;
      continue;
    } else throw badRequest(`protobuf: unsupported wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

function bytes(fields: Map<number, Field[]>, n: number): Buffer | undefined {
  const value = fields.get(n)?.at(-1);
  return Buffer.isBuffer(value) ? value : undefined;
}

function string(fields: Map<number, Field[]>, n: number): string | undefined {
  return bytes(fields, n)?.toString("utf8");
}

function strings(fields: Map<number, Field[]>, n: number): string[] {
  return (fields.get(n) ?? []).filter(Buffer.isBuffer).map((b) => b.toString("utf8"));
}

function number(fields: Map<number, Field[]>, n: number): number | undefined {
  const value = fields.get(n)?.at(-1);
  return typeof value === "number" ? value : undefined;
}

function bool(fields: Map<number, Field[]>, n: number): boolean | undefined {
  const value = number(fields, n);
  return value === undefined ? undefined : value !== 0;
}

function map(fields: Map<number, Field[]>, n: number, valueAsBase64 = false): Record<string, string> | undefined {
  const entries = (fields.get(n) ?? []).filter(Buffer.isBuffer);
  if (entries.length === 0) return undefined;
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const kv = readMessage(entry);
    const value = bytes(kv, 2) ?? Buffer.alloc(0);
    result[string(kv, 1) ?? ""] = valueAsBase64 ? value.toString("base64") : value.toString("utf8");
  }
  return result;
}

/** Drops unset fields; like Go's omitempty, also the zero values that protobuf writes out explicitly. */
function compact(record: JsonRecord): JsonRecord {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined && v !== "" && v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0)));
}

function sub(fields: Map<number, Field[]>, n: number): Map<number, Field[]> {
  const value = bytes(fields, n);
  return value ? readMessage(value) : new Map();
}

function objectMeta(f: Map<number, Field[]>): JsonRecord {
  return compact({
    name: string(f, 1),
    generateName: string(f, 2),
    namespace: string(f, 3),
    resourceVersion: string(f, 6),
    labels: map(f, 11),
    annotations: map(f, 12),
    finalizers: strings(f, 14),
  });
}

function localRefs(f: Map<number, Field[]>, n: number): JsonRecord[] {
  return (f.get(n) ?? []).filter(Buffer.isBuffer).map((b) => compact({ name: string(readMessage(b), 1) }));
}

function messages(f: Map<number, Field[]>, n: number): Map<number, Field[]>[] {
  return (f.get(n) ?? []).filter(Buffer.isBuffer).map(readMessage);
}

// rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|clusterrolebinding).
const policyRules = (f: Map<number, Field[]>): JsonRecord[] =>
  messages(f, 2).map((r) => compact({ verbs: strings(r, 1), apiGroups: strings(r, 2), resources: strings(r, 3), resourceNames: strings(r, 4), nonResourceURLs: strings(r, 5) }));

const roleBinding = (f: Map<number, Field[]>): JsonRecord => {
  const ref = sub(f, 3);
  return compact({
    metadata: objectMeta(sub(f, 1)),
    subjects: messages(f, 2).map((s) => compact({ kind: string(s, 1), apiGroup: string(s, 2), name: string(s, 3), namespace: string(s, 4) })),
    roleRef: compact({ apiGroup: string(ref, 1), kind: string(ref, 2), name: string(ref, 3) }),
  });
};

const DECODERS: Record<string, (f: Map<number, Field[]>) => JsonRecord> = {
  Role: (f) => compact({ metadata: objectMeta(sub(f, 1)), rules: policyRules(f) }),
  ClusterRole: (f) => compact({ metadata: objectMeta(sub(f, 1)), rules: policyRules(f) }),
  RoleBinding: roleBinding,
  ClusterRoleBinding: roleBinding,
  ConfigMap: (f) => compact({ metadata: objectMeta(sub(f, 1)), data: map(f, 2), binaryData: map(f, 3, true), immutable: bool(f, 4) }),
  Secret: (f) => compact({ metadata: objectMeta(sub(f, 1)), data: map(f, 2, true), type: string(f, 3), stringData: map(f, 4), immutable: bool(f, 5) }),
  Namespace: (f) => compact({ metadata: objectMeta(sub(f, 1)), spec: compact({ finalizers: strings(sub(f, 2), 1) }) }),
  ServiceAccount: (f) => compact({ metadata: objectMeta(sub(f, 1)), secrets: localRefs(f, 2), imagePullSecrets: localRefs(f, 3), automountServiceAccountToken: bool(f, 4) }),
  Service: (f) => {
    const spec = sub(f, 2);
    const ports = (spec.get(1) ?? []).filter(Buffer.isBuffer).map((b) => {
      const port = readMessage(b);
      const target = bytes(port, 4) ? sub(port, 4) : undefined;
      const targetPort = target ? (number(target, 1) === 1 ? string(target, 3) : (number(target, 2) ?? 0)) : undefined;
      return compact({ name: string(port, 1), protocol: string(port, 2), port: number(port, 3), targetPort, nodePort: number(port, 5), appProtocol: string(port, 6) });
    });
    return compact({
      metadata: objectMeta(sub(f, 1)),
      spec: compact({ ports, selector: map(spec, 2), clusterIP: string(spec, 3), type: string(spec, 4), externalIPs: strings(spec, 5), sessionAffinity: string(spec, 7) }),
    });
  },
  SelfSubjectAccessReview: (f) => {
    const spec = sub(f, 2);
    const ra = bytes(spec, 1) ? sub(spec, 1) : undefined;
    const nra = bytes(spec, 2) ? sub(spec, 2) : undefined;
    return compact({
      metadata: objectMeta(sub(f, 1)),
      spec: compact({
        resourceAttributes: ra ? compact({ namespace: string(ra, 1), verb: string(ra, 2), group: string(ra, 3), version: string(ra, 4), resource: string(ra, 5), subresource: string(ra, 6), name: string(ra, 7) }) : undefined,
        nonResourceAttributes: nra ? compact({ path: string(nra, 1), verb: string(nra, 2) }) : undefined,
      }),
    });
  },
  SelfSubjectReview: (f) => compact({ metadata: objectMeta(sub(f, 1)) }),
  SelfSubjectRulesReview: (f) => compact({ metadata: objectMeta(sub(f, 1)), spec: compact({ namespace: string(sub(f, 2), 1) }) }),
  TokenRequest: (f) => {
    const spec = sub(f, 2);
    const ref = bytes(spec, 3) ? sub(spec, 3) : undefined;
    return compact({
      metadata: objectMeta(sub(f, 1)),
      spec: compact({
        audiences: strings(spec, 1),
        expirationSeconds: number(spec, 4),
        boundObjectRef: ref ? compact({ kind: string(ref, 1), apiVersion: string(ref, 2), name: string(ref, 3), uid: string(ref, 4) }) : undefined,
      }),
    });
  },
};

/** Decodes an enveloped protobuf object into the JSON form the rest of the server handles. */
export function decodeProtobufObject(raw: Buffer): JsonRecord {
  if (!raw.subarray(0, 4).equals(MAGIC)) throw badRequest("protobuf: missing the k8s envelope");
  const unknown = readMessage(raw.subarray(4));
  const typeMeta = sub(unknown, 1);
  const apiVersion = string(typeMeta, 1) ?? "";
  const kind = string(typeMeta, 2) ?? "";
  const decode = DECODERS[kind];
  if (!decode) throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - protobuf is not supported for ${kind || "this kind"}; send application/json`);
  return { apiVersion, kind, ...decode(readMessage(bytes(unknown, 2) ?? Buffer.alloc(0))) };
}
