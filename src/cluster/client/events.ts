// Records core/v1 Events as kubelet and scheduler do: `<object>.<hex nanoseconds>` names, source
// component and host, and repeats of the same event folded into one object whose count goes up (the
// client-go event correlator does this so a crash loop does not flood the store).
import type { ApiClient, Obj } from "./api.ts";
import { paths } from "./api.ts";

export interface EventSource {
  component: string;
  host?: string;
}

export interface InvolvedObject {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

function nowTime(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

let lastNanos = 0n;
function uniqueHex(): string {
  let nanos = BigInt(Date.now()) * 1_000_000n;
  if (nanos <= lastNanos) nanos = lastNanos + 1n;
  lastNanos = nanos;
  return nanos.toString(16);
}

export class EventRecorder {
  private readonly client: ApiClient;
  private readonly source: EventSource;
  /** Aggregation key -> the stored event's name and count; bounded, oldest forgotten first. */
  private readonly seen = new Map<string, { name: string; count: number; uid: string }>();
  /** The aggregation keys of each object, so forgetting one pod does not scan every key. */
  private readonly keysByUid = new Map<string, Set<string>>();

  /** Aggregation keys kept (client-go's cache keeps 4,096); the oldest is forgotten first. */
  private readonly maxRemembered: number;

  constructor(client: ApiClient, source: EventSource, maxRemembered = 5000) {
    this.client = client;
    this.source = source;
    this.maxRemembered = maxRemembered;
  }

  /** Writes the event in the background; a failure (namespace gone) never affects the caller. */
  emit(object: InvolvedObject, type: "Normal" | "Warning", reason: string, message: string): void {
    void this.write(object, type, reason, message).catch(() => undefined);
  }

  /** Forgets aggregation state of an object (its events expire with it). */
  forget(uid: string): void {
    for (const key of this.keysByUid.get(uid) ?? []) this.seen.delete(key);
    this.keysByUid.delete(uid);
  }

  private remember(key: string, uid: string, name: string): void {
    this.seen.set(key, { name, count: 1, uid });
    let keys = this.keysByUid.get(uid);
    if (!keys) this.keysByUid.set(uid, (keys = new Set()));
    keys.add(key);
    if (this.seen.size <= this.maxRemembered) return;
    const [oldestKey, oldest] = this.seen.entries().next().value as [string, { uid: string }];
    this.seen.delete(oldestKey);
    const siblings = this.keysByUid.get(oldest.uid);
    siblings?.delete(oldestKey);
    if (siblings?.size === 0) this.keysByUid.delete(oldest.uid);
  }

  private async write(object: InvolvedObject, type: string, reason: string, message: string): Promise<void> {
    const key = `${object.uid}\0${object.fieldPath ?? ""}\0${reason}\0${message}`;
    const previous = this.seen.get(key);
    const now = nowTime();
    if (previous) {
      previous.count++;
      // Same key again: bump the existing object instead of creating another one.
      await this.client.event("PATCH", `${paths.events(object.namespace)}/${previous.name}`, { count: previous.count, lastTimestamp: now });
      return;
    }
    const name = `${object.name}.${uniqueHex()}`;
    this.remember(key, object.uid, name);
    const event: Obj = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: object.namespace },
      involvedObject: { apiVersion: object.apiVersion ?? "v1", ...object },
      reason,
      message,
      source: this.source.host ? { component: this.source.component, host: this.source.host } : { component: this.source.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? "",
    };
    await this.client.event("POST", paths.events(object.namespace), event);
  }
}
