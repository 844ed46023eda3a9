import { test } from "node:test";
import assert from "node:assert/strict";
import { TextCache } from "../../../src/cluster/apiserver/text-cache.ts";

test("the text cache keeps at most its size, dropping the longest-unwritten texts first", () => {
  const cache = new TextCache(10);
  cache.set("a", "1234");
  cache.set("b", "1234");
  cache.set("a", "12345");
  cache.set("c", "12");
  assert.deepEqual(["a", "b", "c"].map((k) => cache.get(k)), ["12345", undefined, "12"], "b was written longest ago");
  cache.set("d", "x".repeat(11));
  assert.equal(cache.get("d"), undefined, "a text longer than the whole cache is not kept");
  cache.delete("a");
  cache.set("e", "12345678");
  assert.deepEqual(["a", "c", "e"].map((k) => cache.get(k)), [undefined, "12", "12345678"]);
});
