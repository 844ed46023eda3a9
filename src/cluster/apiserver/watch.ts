// Watch streams (reference §5): synthetic ADDED events for resourceVersion 0 or unset, resume from
// the change log for a given resourceVersion, 410 Expired when that is compacted, selector
// transitions delivered as ADDED/DELETED, bookmarks, and timeoutSeconds.
//
// Storage is synchronous and single-threaded, so taking the snapshot (or reading the log) and
// subscribing to live changes in the same tick leaves no gap and no duplicate. What the start reads
// may include writes not yet on disk (storage.ts syncs while the next batch forms), so it is held
// back until they are.
import { jsonText, matchesFilter, parseBool, parseListFilter, type RestStore } from "./rest.ts";
import type { ResourceType } from "./resources.ts";
import { expired } from "./status.ts";
import type { Change, Storage } from "./storage.ts";
import { buildTable, type IncludeObject } from "./tables.ts";
import type { KubeObject } from "./types.ts";

export interface WatchSink {
  /** Writes one line; returns false when the peer is not keeping up. */
  write(line: string): boolean;
  /** How many bytes are queued for the peer. */
  backlog(): number;
  end(): void;
  onClose(callback: () => void): void;
}

export interface WatchOptions {
  asTable: IncludeObject | undefined;
  bookmarkIntervalMs: number;
  /** A peer this far behind is cut off rather than buffered without bound. */
  maxBacklogBytes: number;
}

type EventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/**
 * Rendered event lines, per stored object and served form: a change goes to every watcher of its kind
 * as the same object, so a hundred watchers serialise it once.
 */
const renderedLines = new WeakMap<KubeObject, Map<string, string>>();

function defaultTimeoutSeconds(): number {
  // Upstream picks 30 to 60 minutes at random when the client gives no timeout.
  return 1800 + Math.floor(Math.random() * 1800);
}

/** The sink, holding every line back until the writes made so far are durable (if any are not yet). */
function afterDurable(storage: Storage, sink: WatchSink): WatchSink {
  if (storage.durableRV >= storage.currentRV) return sink;
  let held: string[] | undefined = [];
  let ended = false;
  storage.durable().then(
    () => {
      const lines = held ?? [];
      held = undefined;
      for (const line of lines) sink.write(line);
      if (ended) sink.end();
    },
    () => sink.end(),
  );
  return {
    write: (line) => (held ? held.push(line) > 0 : sink.write(line)),
    backlog: () => sink.backlog(),
    end: () => (held ? (ended = true) : sink.end()),
    onClose: (callback) => sink.onClose(callback),
  };
}

export function startWatch(store: RestStore, rt: ResourceType, namespace: string | undefined, query: URLSearchParams, durableSink: WatchSink, options: WatchOptions): void {
  const sink = afterDurable(store.storage, durableSink);
  const filter = parseListFilter(rt, namespace, query);
  const matches = (obj: KubeObject | undefined): boolean => obj !== undefined && matchesFilter(rt, filter, obj);
  const requestedRV = query.get("resourceVersion") ?? "";
  const sendInitial = parseBool(query.get("sendInitialEvents"));
  const bookmarks = parseBool(query.get("allowWatchBookmarks")) ?? false;
  const timeoutText = query.get("timeoutSeconds");
  const timeoutSeconds = timeoutText ? Math.max(0, Number(timeoutText) || 0) : defaultTimeoutSeconds();
  let lastRV = store.storage.currentRV;
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => {};

  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    sink.end();
  };

  const render = (type: EventType, obj: KubeObject): string => {
    if (!options.asTable) {
      let lines = renderedLines.get(obj);
      if (!lines) renderedLines.set(obj, (lines = new Map()));
      const key = `${rt.group}/${rt.version}/${rt.kind}/${type}`;
      let line = lines.get(key);
      if (line === undefined) lines.set(key, (line = `{"type":${JSON.stringify(type)},"object":${jsonText(store.served(rt, obj))}}\n`));
      return line;
    }
    const served = store.served(rt, obj);
    const object = options.asTable ? buildTable(rt, [served], { resourceVersion: served.metadata.resourceVersion ?? "" }, options.asTable) : served;
    return JSON.stringify({ type, object }) + "\n";
  };

  const send = (type: EventType, obj: KubeObject): void => {
    if (closed) return;
    sink.write(render(type, obj));
    if (sink.backlog() > options.maxBacklogBytes) close();
  };

  const sendBookmark = (annotations?: Record<string, string>): void => {
    if (closed) return;
    const metadata = { resourceVersion: String(lastRV), ...(annotations ? { annotations } : {}) };
    sink.write(JSON.stringify({ type: "BOOKMARK", object: { kind: rt.kind, apiVersion: store.served(rt, { metadata: {} }).apiVersion, metadata } }) + "\n");
  };

  /** Delivers one change as this watcher sees it through its selectors. */
  const deliver = (change: Change): void => {
    if (change.storageKey !== rt.storageKey || change.rv <= lastRV) return;
    lastRV = change.rv;
    const now = matches(change.object);
    if (change.type === "ADDED") {
      if (now) send("ADDED", change.object);
    } else if (change.type === "DELETED") {
      if (now || matches(change.previous)) send("DELETED", change.object);
    } else {
      const before = matches(change.previous);
      if (before && now) send("MODIFIED", change.object);
      else if (now) send("ADDED", change.object);
      else if (before) send("DELETED", change.object);
    }
  };

  sink.onClose(close);

  if (requestedRV === "" || requestedRV === "0" || sendInitial) {
    lastRV = store.storage.currentRV;
    for (const obj of store.storage.list(rt.storageKey, namespace)) if (matches(obj)) send("ADDED", obj);
    if (sendInitial && bookmarks) sendBookmark({ "k8s.io/initial-events-end": "true" });
  } else {
    const from = Number(requestedRV);
    if (!Number.isInteger(from) || from < 0) {
      send("ERROR", expired(`too old resource version: ${requestedRV} (${store.storage.compactedRV + 1})`).toStatus() as unknown as KubeObject);
      close();
      return;
    }
    if (from < store.storage.compactedRV) {
      // The real server answers 200 and an ERROR event rather than an HTTP 410.
      sink.write(JSON.stringify({ type: "ERROR", object: expired(`too old resource version: ${from} (${store.storage.compactedRV + 1})`).toStatus() }) + "\n");
      close();
      return;
    }
    lastRV = from;
    for (const change of store.storage.changesSince(rt.storageKey, from)) deliver(change);
  }
  if (closed) return;
  unsubscribe = store.storage.subscribe(deliver);

  if (bookmarks) {
    const tick = (): void => {
      lastRV = Math.max(lastRV, store.storage.durableRV);
      sendBookmark();
      timers[0] = setTimeout(tick, options.bookmarkIntervalMs).unref();
    };
    timers[0] = setTimeout(tick, options.bookmarkIntervalMs).unref();
  }
  timers.push(
    setTimeout(() => {
      if (bookmarks) {
        lastRV = Math.max(lastRV, store.storage.durableRV);
        sendBookmark();
      }
      close();
    }, timeoutSeconds * 1000).unref(),
  );
}
