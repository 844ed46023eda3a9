import { test } from "node:test";
import assert from "node:assert/strict";
import { CapacityQueue, describeShortage, hasRoom } from "../../src/controller/capacity.ts";

test("room: the cloud's containerCap and the template's instanceCap both apply; unset means unlimited", () => {
  assert.ok(hasRoom({}, { cloud: 1000, template: 1000 }));
  assert.ok(!hasRoom({ cloudCap: 2 }, { cloud: 2, template: 0 }));
  assert.ok(!hasRoom({ templateCap: 1 }, { cloud: 0, template: 1 }));
  assert.ok(hasRoom({ cloudCap: 3, templateCap: 2 }, { cloud: 2, template: 1 }));
  assert.equal(describeShortage({ cloudCap: 2 }, { cloud: 2, template: 0 }, "k8s", "maven"), "cloud k8s has 2 of at most 2 agent pods (containerCap)");
  assert.equal(describeShortage({ templateCap: 1 }, { cloud: 0, template: 1 }, "k8s", "maven"), "template maven has 1 of at most 1 agent pods (instanceCap)");
});

test("queue: served in order per template, never over the cap, others not held up", async () => {
  const queue = new CapacityQueue();
  const used = new Map<string, number>([["a", 0], ["b", 0]]);
  const caps = new Map([["a", 1], ["b", 1]]);
  const take = (key: string) => () => {
    if (used.get(key)! >= caps.get(key)!) return false;
    used.set(key, used.get(key)! + 1);
    return true;
  };
  const order: string[] = [];
  const request = (key: string, name: string) => queue.acquire(key, take(key)).then(() => void order.push(name));
  const all = [request("a", "a1"), request("a", "a2"), request("a", "a3"), request("b", "b1")];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ["a1", "b1"]);
  assert.equal(queue.length, 2);
  used.set("a", 0);
  queue.poke();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ["a1", "b1", "a2"]);
  used.set("a", 0);
  queue.poke();
  await Promise.all(all);
  assert.deepEqual(order, ["a1", "b1", "a2", "a3"]);
});

test("a cancelled waiter leaves the queue", async () => {
  const queue = new CapacityQueue();
  const controller = new AbortController();
  const waiting = queue.acquire("a", () => false, controller.signal);
  controller.abort(new Error("build aborted"));
  await assert.rejects(waiting, /build aborted/);
  assert.equal(queue.length, 0);
});
