// List + watch with a local cache, the pattern every Kubernetes controller uses: list once, then watch
// from the list's resourceVersion, resume from the last seen version when the stream ends, and list
// again when the server says that version is gone (410). Callbacks see every change exactly once.
import type { ApiClient, Obj, WatchEvent, WatchHandle } from "./api.ts";

export interface InformerHandlers {
  add?(obj: Obj): void;
  update?(oldObj: Obj, newObj: Obj): void;
  delete?(obj: Obj): void;
}

export function keyOf(obj: Obj): string {
  const meta = (obj.metadata ?? {}) as Obj;
  return meta.namespace ? `${String(meta.namespace)}/${String(meta.name)}` : String(meta.name);
}

export class Informer {
  readonly cache = new Map<string, Obj>();
  private readonly client: ApiClient;
  private readonly path: string;
  private readonly query: URLSearchParams;
  private readonly handlers: InformerHandlers;
  private resourceVersion = "";
  private current: WatchHandle | undefined;
  private stopped = false;
  private syncedResolve: (() => void) | undefined;
  /** Resolves after the first list has been delivered. */
  readonly synced: Promise<void>;

  constructor(client: ApiClient, path: string, query: Record<string, string>, handlers: InformerHandlers) {
    this.client = client;
    this.path = path;
    this.query = new URLSearchParams(query);
    this.handlers = handlers;
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.current?.stop();
  }

  private async list(): Promise<void> {
    const list = await this.client.get(`${this.path}?${this.query.toString()}`);
    const seen = new Set<string>();
    for (const item of (list.items ?? []) as Obj[]) {
      const key = keyOf(item);
      seen.add(key);
      this.apply("MODIFIED", item);
    }
    for (const [key, obj] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.handlers.delete?.(obj);
      }
    }
    this.resourceVersion = String(list.metadata?.resourceVersion ?? "");
    this.syncedResolve?.();
  }

  private apply(type: WatchEvent["type"], obj: Obj): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (type === "DELETED") {
      this.cache.delete(key);
      if (old) this.handlers.delete?.(obj);
      return;
    }
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) return;
    this.cache.set(key, obj);
    if (old) this.handlers.update?.(old, obj);
    else this.handlers.add?.(obj);
  }

  private async run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        let expired = false;
        const query = new URLSearchParams(this.query);
        query.set("resourceVersion", this.resourceVersion);
        this.current = this.client.watch(this.path, query, (event) => {
          if (event.type === "ERROR") {
            expired = true;
            return;
          }
          const rv = event.object?.metadata?.resourceVersion;
          if (rv) this.resourceVersion = String(rv);
          if (event.type !== "BOOKMARK") this.apply(event.type, event.object);
        });
        await this.current.done;
        if (expired) needList = true;
        failures = expired ? failures + 1 : 0;
      } catch {
        failures++;
        needList = true;
      }
      // Back off only after failures (server restarting, history expired twice); a clean end resumes at once.
      if (failures > 0 && !this.stopped) await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5000)));
    }
  }
}
