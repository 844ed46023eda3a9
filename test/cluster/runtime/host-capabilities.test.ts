import { test } from "node:test";
import assert from "node:assert/strict";
import { findExecutable, listHostSubmounts } from "../../../src/cluster/runtime/process/host-capabilities.ts";
import { shellQuote } from "../../../src/cluster/runtime/process/launch-scripts.ts";
import { execFileSync } from "node:child_process";

test("host submounts: top-level mounts other than /proc, /sys and /dev, nested ones left to their parent", () => {
  const mountinfo = [
    "22 27 0:21 / /proc rw,relatime - proc proc rw",
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw",
    "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw",
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
    "40 27 0:30 / /mnt/data rw,relatime - ext4 /dev/vdb rw",
    "41 40 0:31 / /mnt/data/inner rw,relatime - tmpfs tmpfs rw",
    "42 27 0:32 / /srv/with\\040space rw,relatime - tmpfs tmpfs rw",
    "43 27 0:33 / /devices rw,relatime - tmpfs tmpfs rw",
  ].join("\n");
  assert.deepEqual(listHostSubmounts(mountinfo), ["/devices", "/mnt/data", "/srv/with space"]);
});

test("executables are found on the PATH", () => {
  assert.match(findExecutable("sh") ?? "", /\/sh$/);
  assert.equal(findExecutable("no-such-program-berth"), undefined);
});

test("shell quoting survives any string", () => {
  const nasty = `it's "quoted" $HOME \`x\` \\ ; rm -rf /`;
  assert.equal(execFileSync("sh", ["-c", `printf '%s' ${shellQuote(nasty)}`], { encoding: "utf8" }), nasty);
});
