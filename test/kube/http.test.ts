import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpMethod, RequestContext, ResponseContext } from "@kubernetes/client-node";
import { FlowControlledHttp } from "../../src/kube/http.ts";

function response(status: number, headers: Record<string, string> = {}): ResponseContext {
  return new ResponseContext(status, headers, { text: async () => "", binary: async () => Buffer.alloc(0), stream: () => null as never });
}

function fake(script: (ResponseContext | Error)[]) {
  const calls: string[] = [];
  return {
    calls,
    send: async (request: RequestContext) => {
      calls.push(`${request.getHttpMethod()} ${request.getUrl()}`);
      const next = script.shift() ?? response(200);
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

test("429 with Retry-After is retried after the time the server asked for", async () => {
  const inner = fake([response(429, { "retry-after": "1" }), response(200)]);
  const sleeps: number[] = [];
  const http = new FlowControlledHttp({ inner, sleep: async (ms) => void sleeps.push(ms), now: () => 0 });
  const res = await http.send(new RequestContext("https://k/api/v1/pods", HttpMethod.GET));
  assert.equal(res.httpStatusCode, 200);
  assert.equal(inner.calls.length, 2);
  assert.deepEqual(sleeps, [1000]);
  assert.deepEqual(http.stats, { reads: 2, writes: 0, retries: 1, throttledMs: 0 });
});

test("5xx and network errors are retried with back-off; the last answer is returned when attempts run out", async () => {
  const inner = fake([new Error("ECONNRESET"), response(503), response(503), response(503), response(503)]);
  const sleeps: number[] = [];
  const http = new FlowControlledHttp({ inner, retry: { maxAttempts: 4, initialBackoffMs: 10, maxBackoffMs: 100 }, sleep: async (ms) => void sleeps.push(ms), now: () => 0 });
  const res = await http.send(new RequestContext("https://k/api/v1/namespaces/ns/pods", HttpMethod.POST));
  assert.equal(res.httpStatusCode, 503);
  assert.deepEqual(sleeps, [10, 20, 40]);
  assert.equal(http.stats.writes, 4);
});

test("a network error that outlasts the retries is thrown", async () => {
  const inner = fake([new Error("boom"), new Error("boom")]);
  const http = new FlowControlledHttp({ inner, retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 }, sleep: async () => {}, now: () => 0 });
  await assert.rejects(http.send(new RequestContext("https://k/api", HttpMethod.GET)), /boom/);
});

test("client errors are not retried", async () => {
  const inner = fake([response(409)]);
  const http = new FlowControlledHttp({ inner, sleep: async () => assert.fail("no sleep"), now: () => 0 });
  assert.equal((await http.send(new RequestContext("https://k/api", HttpMethod.POST))).httpStatusCode, 409);
  assert.equal(inner.calls.length, 1);
});

test("calls beyond the burst wait for the rate limiter", async () => {
  let clock = 0;
  const sleeps: number[] = [];
  const http = new FlowControlledHttp({
    inner: fake([]),
    rateLimit: { qps: 10, burst: 2 },
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
  });
  for (let i = 0; i < 5; i++) await http.send(new RequestContext("https://k/api", HttpMethod.DELETE));
  assert.deepEqual(sleeps, [100, 100, 100]);
  assert.equal(http.stats.throttledMs, 300);
  assert.equal(http.stats.writes, 5);
});
