// Plain data types of the objects the API server stores. Objects stay loosely typed JSON: the server
// must keep every field a client sends, including ones it does not understand.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Record<string, unknown>[];
  managedFields?: unknown[];
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy of JSON data (objects here are always JSON; this is faster than structuredClone). */
export function deepClone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Structural equality of JSON values, ignoring key order. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const aKeys = Object.keys(a).filter((k) => a[k] !== undefined);
    const bKeys = Object.keys(b).filter((k) => b[k] !== undefined);
    return aKeys.length === bKeys.length && aKeys.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** metav1.Time: RFC 3339, UTC, whole seconds. */
export function formatTime(date: Date): string {
  // A create formats the time twice and most writes fall in the same second as the previous one.
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastFormatted.second) return lastFormatted.text;
  // "2026-01-01T00:00:00.000Z" → "2026-01-01T00:00:00Z" (years 0–9999 are 24 characters long).
  const iso = date.toISOString();
  const text = iso.length === 24 ? `${iso.slice(0, 19)}Z` : iso.replace(/\.\d{3}Z$/, "Z");
  lastFormatted = { second, text };
  return text;
}

let lastFormatted = { second: Number.NaN, text: "" };

/** metav1.MicroTime: exactly six fractional digits, which Go parses strictly. */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
