import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket, parseRetryAfter, retryDelay, DEFAULT_RETRY } from "../../src/kube/rate-limit.ts";

test("token bucket: a burst goes at once, then the rate applies", () => {
  const bucket = new TokenBucket({ qps: 10, burst: 3 }, 0);
  assert.deepEqual([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)], [0, 0, 0]);
  assert.equal(bucket.reserve(0), 100);
  assert.equal(bucket.reserve(0), 200);
  // After a second the bucket has refilled by 10 tokens, capped at the burst.
  assert.equal(bucket.reserve(10_000), 0);
  assert.throws(() => new TokenBucket({ qps: 0, burst: 1 }, 0));
});

test("retries: 429 and 5xx with doubling back-off, Retry-After honoured, others not retried", () => {
  const policy = { ...DEFAULT_RETRY, maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 1000 };
  assert.equal(retryDelay(policy, 1, 429), 100);
  assert.equal(retryDelay(policy, 2, 503), 200);
  assert.equal(retryDelay(policy, 3, "network"), 400);
  assert.equal(retryDelay(policy, 4, 503), undefined);
  assert.equal(retryDelay(policy, 1, 429, "2"), 1000);
  assert.equal(retryDelay(policy, 1, 429, "0"), 0);
  for (const status of [200, 201, 400, 401, 403, 404, 409, 422]) assert.equal(retryDelay(policy, 1, status), undefined);
});

test("Retry-After: seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(parseRetryAfter("soon"), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});
