// Generic object-metadata validation shared by every kind (reference §6.2): names, labels,
// annotations. Returns field errors; the caller turns them into one 422.
import { fieldErrors, type FieldError } from "./status.ts";
import type { ObjectMeta } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export function dns1123LabelErrors(field: string, value: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 63) errors.push(fieldErrors.invalid(field, value, "must be no more than 63 characters"));
  if (!DNS1123_LABEL.test(value)) errors.push(fieldErrors.invalid(field, value, LABEL_MESSAGE));
  return errors;
}

export function dns1123SubdomainErrors(field: string, value: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 253) errors.push(fieldErrors.invalid(field, value, "must be no more than 253 characters"));
  if (!DNS1123_SUBDOMAIN.test(value)) errors.push(fieldErrors.invalid(field, value, SUBDOMAIN_MESSAGE));
  return errors;
}

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

function qualifiedNameErrors(field: string, key: string): FieldError[] {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const errors: FieldError[] = [];
  if (slash >= 0 && (prefix === "" || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    errors.push(fieldErrors.invalid(field, key, "prefix part " + SUBDOMAIN_MESSAGE));
  }
  if (name === "" || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    errors.push(
      fieldErrors.invalid(
        field,
        key,
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      ),
    );
  }
  return errors;
}

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Validates the metadata every kind shares. `nameIsLabel` is true for namespaces and the like. */
export function validateObjectMeta(meta: ObjectMeta, options: { namespaced: boolean; nameIsLabel?: boolean }): FieldError[] {
  const errors: FieldError[] = [];
  if (!meta.name && !meta.generateName) {
    errors.push(fieldErrors.required("metadata.name", "name or generateName is required"));
  } else if (meta.name) {
    errors.push(...(options.nameIsLabel ? dns1123LabelErrors("metadata.name", meta.name) : dns1123SubdomainErrors("metadata.name", meta.name)));
  }
  if (options.namespaced && !meta.namespace) errors.push(fieldErrors.required("metadata.namespace"));
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    errors.push(...qualifiedNameErrors("metadata.labels", key));
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      errors.push(
        fieldErrors.invalid(
          "metadata.labels",
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
      );
    }
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(meta.annotations ?? {})) {
    errors.push(...qualifiedNameErrors("metadata.annotations", key.toLowerCase()));
    if (typeof value !== "string") errors.push(fieldErrors.typeInvalid(`metadata.annotations.${key}`, "must be a string"));
    annotationBytes += key.length + String(value).length;
  }
  if (annotationBytes > MAX_ANNOTATIONS_BYTES) errors.push(fieldErrors.tooLong("metadata.annotations", MAX_ANNOTATIONS_BYTES));
  for (const [i, finalizer] of (meta.finalizers ?? []).entries()) {
    if (typeof finalizer !== "string" || finalizer === "") errors.push(fieldErrors.invalid(`metadata.finalizers[${i}]`, finalizer, "must be a non-empty string"));
  }
  return errors;
}
