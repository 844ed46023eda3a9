// The HTTP layer under @kubernetes/client-node's generated API classes: every call waits for a token of
// the cloud's bucket, is retried on 429/5xx and network errors (honouring Retry-After), and is counted,
// reads and writes apart, so a build's API cost can be measured.
import type { ResponseContext} from "@kubernetes/client-node";
import { IsomorphicFetchHttpLibrary, type PromiseHttpLibrary, type RequestContext } from "@kubernetes/client-node";
import { DEFAULT_RATE_LIMIT, DEFAULT_RETRY, TokenBucket, retryDelay, type RateLimit, type RetryPolicy } from "./rate-limit.ts";

export interface ApiCallStats {
  reads: number;
  writes: number;
  retries: number;
  /** Milliseconds spent waiting for the rate limiter. */
  throttledMs: number;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface FlowControlOptions {
  rateLimit?: RateLimit;
  retry?: RetryPolicy;
  /** Replaces the real transport (tests). */
  inner?: PromiseHttpLibrary;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class FlowControlledHttp implements PromiseHttpLibrary {
  readonly stats: ApiCallStats = { reads: 0, writes: 0, retries: 0, throttledMs: 0 };
  private readonly bucket: TokenBucket;
  private readonly retry: RetryPolicy;
  private readonly inner: PromiseHttpLibrary;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private dispatcher: ReturnType<RequestContext["getDispatcher"]>;

  constructor(options: FlowControlOptions = {}) {
    this.now = options.now ?? Date.now;
    this.bucket = new TokenBucket(options.rateLimit ?? DEFAULT_RATE_LIMIT, this.now());
    this.retry = options.retry ?? DEFAULT_RETRY;
    const fetchLibrary = new IsomorphicFetchHttpLibrary();
    this.inner = options.inner ?? { send: (request) => fetchLibrary.send(request).toPromise() };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async send(request: RequestContext): Promise<ResponseContext> {
    // The client builds a new connection pool (undici Agent) for every request, so every call paid a
    // TLS handshake. All requests of one client share the cluster's TLS settings: keep the first pool.
    const dispatcher = request.getDispatcher();
    if (dispatcher) {
      this.dispatcher ??= dispatcher;
      request.setDispatcher(this.dispatcher);
    }
    const write = WRITE_METHODS.has(String(request.getHttpMethod()));
    for (let attempt = 1; ; attempt++) {
      const wait = this.bucket.reserve(this.now());
      if (wait > 0) {
        this.stats.throttledMs += wait;
        await this.sleep(wait);
      }
      if (write) this.stats.writes++;
      else this.stats.reads++;
      let response: ResponseContext | undefined;
      let failure: unknown;
      try {
        response = await this.inner.send(request);
      } catch (e) {
        failure = e;
      }
      const delay = retryDelay(this.retry, attempt, response ? response.httpStatusCode : "network", response?.headers["retry-after"]);
      if (delay === undefined || request.getSignal()?.aborted) {
        if (response) return response;
        throw failure;
      }
      this.stats.retries++;
      await this.sleep(delay);
    }
  }
}
