import { test } from "node:test";
import assert from "node:assert/strict";
import { SecretMasker } from "../../src/steps/masker.ts";

function stream(masker: SecretMasker, chunks: string[]): string {
  return chunks.map((c) => masker.push(c)).join("") + masker.flush();
}

test("masks secrets in a whole text, longest first", () => {
  const m = new SecretMasker(["s3cret", "s3cret-longer", ""]);
  assert.equal(m.mask("a s3cret-longer and s3cret."), "a **** and ****.");
});

test("a secret split across chunks is masked; text that only looked like one is released", () => {
  const m = new SecretMasker(["hunter2"]);
  assert.equal(stream(m, ["password: hun", "ter2\n", "hunt", "ing season\n"]), "password: ****\nhunting season\n");
});

test("every split point of every chunking masks the same", () => {
  const secret = "abc123";
  const text = `x${secret}y${secret}${secret}z ab`;
  for (let i = 0; i <= text.length; i++) {
    for (let j = i; j <= text.length; j++) {
      const m = new SecretMasker([secret]);
      assert.equal(stream(m, [text.slice(0, i), text.slice(i, j), text.slice(j)]), "x****y********z ab", `${i},${j}`);
    }
  }
});

test("nothing is held back when there are no secrets", () => {
  const m = new SecretMasker([]);
  assert.equal(m.push("abc"), "abc");
  assert.equal(m.flush(), "");
});
