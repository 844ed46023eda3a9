// Provenance: which template (and whether its fields or its raw YAML) supplied each value, and which
// values lost to another. Paths name pod fields the way a reader would: `spec.containers[maven].image`,
// with list items keyed by their natural key (container name, env name, mount path, volume name).
// Template-only settings (label, instanceCap, ...) live under `template.`.
//
// Merges report to a MergeTrace; the NO_TRACE one does nothing, so resolution without --explain pays
// nothing for this.

export interface Origin {
  template: string;
  via: "fields" | "yaml" | "default";
}

export interface Shadow {
  path: string;
  value: unknown;
  from: Origin;
  by: Origin;
}

export function describeOrigin(o: Origin): string {
  return o.via === "default" ? o.template : `${o.template} (${o.via})`;
}

/** Origins of one side of a merge: explicit entries by path, the rest inherited from the nearest ancestor. */
export class OriginMap {
  readonly entries = new Map<string, Origin>();
  readonly fallback: Origin;

  constructor(fallback: Origin) {
    this.fallback = fallback;
  }

  originOf(path: string): Origin {
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const o = this.entries.get(p);
      if (o) return o;
    }
    return this.fallback;
  }

  /** Entries at or below `path`, plus the effective origin of `path` itself. */
  *subtree(path: string): Iterable<[string, Origin]> {
    yield [path, this.originOf(path)];
    for (const [p, o] of this.entries) if (p !== path && isBelow(p, path)) yield [p, o];
  }
}

function isBelow(p: string, ancestor: string): boolean {
  return p.startsWith(ancestor) && (p[ancestor.length] === "." || p[ancestor.length] === "[");
}

export function parentPath(path: string): string | undefined {
  // A key in brackets may itself hold dots (`labels[kubernetes.io/os]`); a trailing field name never does.
  const cut = path.endsWith("]") ? path.lastIndexOf("[") : path.lastIndexOf(".");
  return cut > 0 ? path.slice(0, cut) : undefined;
}

// Objects whose keys are data (label keys, resource names), written in brackets like list keys.
const MAP_FIELDS = new Set(["labels", "annotations", "nodeSelector", "requests", "limits"]);

/** The path of `key` inside the value at `path`. */
export function childPath(path: string, key: string): string {
  if (path === "") return key;
  const last = path.slice(path.lastIndexOf(".") + 1);
  return MAP_FIELDS.has(last) ? `${path}[${key}]` : `${path}.${key}`;
}

/** A record of how a merge of a parent and a child produced its result. */
export interface MergeTrace {
  /** False for NO_TRACE: merges skip the work (value comparisons) that only a trace needs. */
  readonly recording: boolean;
  /** The value at `path` came from `side` (with everything below it). */
  take(path: string, side: "parent" | "child"): void;
  /** The parent's `value` at `path` lost to the child's. */
  shadow(path: string, value: unknown): void;
  /** Record an origin directly (defaults, generated values). */
  set(path: string, origin: Origin): void;
}

export const NO_TRACE: MergeTrace = { recording: false, take() {}, shadow() {}, set() {} };

/** The full trace of a resolution: the result's origins and every shadowed value. */
export class Provenance {
  readonly origins: OriginMap;
  readonly shadows: Shadow[];

  constructor(origins: OriginMap, shadows: Shadow[] = []) {
    this.origins = origins;
    this.shadows = shadows;
  }
}

/** Traces one merge into `result` from the origins of its two sides. */
export class RecordingMerge implements MergeTrace {
  readonly recording = true;
  private readonly parent: OriginMap;
  private readonly child: OriginMap;
  readonly result: Provenance;

  constructor(parent: OriginMap, child: OriginMap, result: Provenance) {
    this.parent = parent;
    this.child = child;
    this.result = result;
  }

  take(path: string, side: "parent" | "child"): void {
    const from = side === "parent" ? this.parent : this.child;
    const entries = this.result.origins.entries;
    for (const p of entries.keys()) if (isBelow(p, path)) entries.delete(p);
    for (const [p, o] of from.subtree(path)) entries.set(p, o);
  }

  shadow(path: string, value: unknown): void {
    this.result.shadows.push({ path, value, from: this.parent.originOf(path), by: this.child.originOf(path) });
  }

  set(path: string, origin: Origin): void {
    this.result.origins.entries.set(path, origin);
  }
}
