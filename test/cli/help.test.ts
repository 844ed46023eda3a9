import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

test("berth --help lists the command", () => {
  const out = execFileSync(process.execPath, ["bin/berth.js", "--help"], { encoding: "utf8" });
  assert.match(out, /Usage: berth/);
});
