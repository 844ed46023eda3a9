// Errors that render themselves as metav1.Status, worded as the real API server words them
// (reference §3.2): kubectl prints `message`, and builds its 422 text from `details.causes`.
import type { JsonRecord } from "./types.ts";

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): JsonRecord {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** How an error names a resource: the plural, qualified by its group unless it is core. */
export interface ResourceName {
  resource: string;
  group: string;
}

function qualified(r: ResourceName): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function detailsFor(r: ResourceName, name: string): StatusDetails {
  return { name, ...(r.group ? { group: r.group } : {}), kind: r.resource };
}

export function notFound(r: ResourceName, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(r)} "${name}" not found`, detailsFor(r, name));
}

export function alreadyExists(r: ResourceName, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualified(r)} "${name}" already exists`, detailsFor(r, name));
}

export function conflict(r: ResourceName, name: string, why: string): ApiError {
  return new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, detailsFor(r, name));
}

export const STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again";

export function forbidden(r: ResourceName, name: string, why: string): ApiError {
  const subject = name ? `${qualified(r)} "${name}"` : qualified(r);
  return new ApiError(403, "Forbidden", `${subject} is forbidden: ${why}`, detailsFor(r, name));
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, "Unauthorized", "Unauthorized");
}

export function methodNotAllowed(verb: string, r: ResourceName): ApiError {
  return new ApiError(405, "MethodNotAllowed", `${verb} is not supported on resources of kind "${qualified(r)}"`, {
    kind: r.resource,
  });
}

export function pathNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
}

export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

export function unsupportedPatchType(): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
  );
}

export function tooLarge(): ApiError {
  return new ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
}

export function internalError(message: string): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Field errors (422 Invalid). Every problem is collected with its path, then reported at once.

export interface FieldError {
  type: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueDuplicate" | "FieldValueNotSupported" | "FieldValueForbidden" | "FieldValueNotFound" | "FieldValueTooLong" | "FieldValueTypeInvalid";
  field: string;
  detail: string;
}

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
}

export const fieldErrors = {
  required: (field: string, detail = ""): FieldError => ({ type: "FieldValueRequired", field, detail: detail ? `Required value: ${detail}` : "Required value" }),
  invalid: (field: string, value: unknown, detail: string): FieldError => ({ type: "FieldValueInvalid", field, detail: `Invalid value: ${quote(value)}: ${detail}` }),
  duplicate: (field: string, value: unknown): FieldError => ({ type: "FieldValueDuplicate", field, detail: `Duplicate value: ${quote(value)}` }),
  notSupported: (field: string, value: unknown, supported: string[]): FieldError => ({
    type: "FieldValueNotSupported",
    field,
    detail: `Unsupported value: ${quote(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ type: "FieldValueForbidden", field, detail: `Forbidden: ${detail}` }),
  notFound: (field: string, value: unknown): FieldError => ({ type: "FieldValueNotFound", field, detail: `Not found: ${quote(value)}` }),
  tooLong: (field: string, max: number): FieldError => ({ type: "FieldValueTooLong", field, detail: `Too long: may not be more than ${max} bytes` }),
  typeInvalid: (field: string, detail: string): FieldError => ({ type: "FieldValueTypeInvalid", field, detail: `Invalid value: ${detail}` }),
};

/** The 422 for a list of field errors: `Pod "web" is invalid: [a, b]`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
  const parts = errors.map((e) => `${e.field}: ${e.detail}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new ApiError(422, "Invalid", `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${summary}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })),
  });
}
