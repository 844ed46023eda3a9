// Client-side flow control for API calls: a token bucket (QPS with a burst) and the decision whether
// and when to try a failed call again. The official JavaScript client has neither, and a burst of CI
// builds must not flatten an API server. Pure: time comes in as numbers.

export interface RateLimit {
  /** Sustained requests per second. */
  qps: number;
  /** Requests allowed at once before the rate applies. */
  burst: number;
}

/** client-go's defaults are 5 QPS / 10 burst, tuned for controllers that mostly watch; CI bursts need more. */
export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 50, burst: 100 };

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly limit: RateLimit;

  constructor(limit: RateLimit, now: number) {
    if (!(limit.qps > 0) || !(limit.burst >= 1)) throw new Error(`invalid rate limit: qps ${limit.qps}, burst ${limit.burst}`);
    this.limit = limit;
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /** Takes a token; returns how many milliseconds the caller must wait before using it (0: go now). */
  reserve(now: number): number {
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.limit.qps);
    this.updatedAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.qps) * 1000);
  }
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Back-off before the second attempt; doubles after each further failure. */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 10_000 };

const RETRIABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * How long to wait before attempt `attempt + 1` after a response with `status`, or undefined to give up.
 * 429 and 5xx are retried for every method: a create that the server did apply before failing comes back
 * as 409 AlreadyExists on the next attempt, which callers creating named objects treat as done.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, status: number | "network", retryAfter?: string | null): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  if (status !== "network" && !RETRIABLE_STATUS.has(status)) return undefined;
  const backoff = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  const asked = parseRetryAfter(retryAfter);
  return asked === undefined ? backoff : Math.min(policy.maxBackoffMs, Math.max(asked, 0));
}

/** Retry-After as seconds (what the API server sends) or an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date - now;
}
