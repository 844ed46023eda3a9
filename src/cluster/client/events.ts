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

/** One event write waiting for its turn; a repeat of the same event updates it in place until it is sent. */
interface PendingWrite {
  method: "POST" | "PATCH";
  path: string;
  body: Obj;
  folding: Folding;
}

/** What the recorder remembers of one event it recorded. */
interface Folding {
  name: string;
  count: number;
  uid: string;
  /** The write of this event not yet sent, if any. */
  pending?: PendingWrite;
}

export class EventRecorder {
  private readonly client: ApiClient;
  private readonly source: EventSource;
  /** Aggregation key -> the stored event's name and count; bounded, oldest forgotten first. */
  private readonly seen = new Map<string, Folding>();
  /** The aggregation keys of each object, so forgetting one pod does not scan every key. */
  private readonly keysByUid = new Map<string, Set<string>>();
  /** Aggregation keys kept (client-go's cache keeps 4,096); the oldest is forgotten first. */
  private readonly maxRemembered: number;
  /**
   * Writes in the order the events happened, sent one at a time as client-go's broadcaster sends them:
   * a count update never overtakes the event it updates, and in a burst the backlog waits behind the
   * writes that start pods instead of taking the API server's time from them.
   */
  private readonly queue: PendingWrite[] = [];
  private head = 0;
  private writing: Promise<void> | undefined;
  private closed = false;

  constructor(client: ApiClient, source: EventSource, maxRemembered = 5000) {
    this.client = client;
    this.source = source;
    this.maxRemembered = maxRemembered;
  }

  /** Records the event; it is written in the background and a failure (namespace gone) never reaches the caller. */
  emit(object: InvolvedObject, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.closed) return;
    const key = `${object.uid}\0${object.fieldPath ?? ""}\0${reason}\0${message}`;
    const previous = this.seen.get(key);
    const now = nowTime();
    if (previous) {
      previous.count++;
      if (previous.pending) {
        // Not sent yet: the write already queued carries the new count.
        previous.pending.body.count = previous.count;
        previous.pending.body.lastTimestamp = now;
        return;
      }
      // Same key again: bump the stored object instead of creating another one.
      this.enqueue({ method: "PATCH", path: `${paths.events(object.namespace)}/${previous.name}`, body: { count: previous.count, lastTimestamp: now }, folding: previous });
      return;
    }
    const name = `${object.name}.${uniqueHex()}`;
    const folding = this.remember(key, object.uid, name);
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
    this.enqueue({ method: "POST", path: paths.events(object.namespace), body: event, folding });
  }

  /** Resolves once every event recorded so far has been written (or failed). */
  flushed(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  /** The component stops: events not sent yet are dropped (the API server may be going away too). */
  close(): void {
    this.closed = true;
    this.head = this.queue.length;
  }

  /** Forgets aggregation state of an object (its events expire with it). */
  forget(uid: string): void {
    for (const key of this.keysByUid.get(uid) ?? []) this.seen.delete(key);
    this.keysByUid.delete(uid);
  }

  private remember(key: string, uid: string, name: string): Folding {
    const folding: Folding = { name, count: 1, uid };
    this.seen.set(key, folding);
    let keys = this.keysByUid.get(uid);
    if (!keys) this.keysByUid.set(uid, (keys = new Set()));
    keys.add(key);
    if (this.seen.size > this.maxRemembered) {
      const [oldestKey, oldest] = this.seen.entries().next().value as [string, Folding];
      this.seen.delete(oldestKey);
      const siblings = this.keysByUid.get(oldest.uid);
      siblings?.delete(oldestKey);
      if (siblings?.size === 0) this.keysByUid.delete(oldest.uid);
    }
    return folding;
  }

  private enqueue(write: PendingWrite): void {
    write.folding.pending = write;
    this.queue.push(write);
    this.writing ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.head < this.queue.length) {
      const write = this.queue[this.head++] as PendingWrite;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (write.folding.pending === write) write.folding.pending = undefined;
      try {
        await this.client.event(write.method, write.path, write.body);
      } catch {
        // Best effort, as upstream: an event that cannot be written (namespace gone) is dropped.
      }
    }
    this.queue.length = 0;
    this.head = 0;
    this.writing = undefined;
  }
}
