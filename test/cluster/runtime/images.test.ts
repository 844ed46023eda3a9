import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeError } from "../../../src/cluster/runtime/cri.ts";
import { parseImageReference } from "../../../src/cluster/runtime/image-reference.ts";
import { ProcessImageService } from "../../../src/cluster/runtime/process/process-images.ts";

const digest = `sha256:${"a".repeat(64)}`;

test("references are parsed and normalized like the kubelet does", () => {
  assert.deepEqual(parseImageReference("nginx"), { domain: "docker.io", repository: "library/nginx", tag: "latest", normalized: "docker.io/library/nginx:latest" });
  assert.equal(parseImageReference("jenkins/inbound-agent:3283.v92c105e0f819-7").normalized, "docker.io/jenkins/inbound-agent:3283.v92c105e0f819-7");
  assert.equal(parseImageReference("localhost:5000/team/app:1").domain, "localhost:5000");
  const pinned = parseImageReference(`quay.io/org/app:1.0@${digest}`);
  assert.equal(pinned.tag, "1.0");
  assert.equal(pinned.digest, digest);
  assert.equal(parseImageReference(`app@${digest}`).tag, undefined);
});

test("invalid references fail with InvalidImageName", () => {
  for (const bad of ["Nginx", "nginx:", "nginx@sha256:abc", ""]) {
    assert.throws(() => parseImageReference(bad), (error: unknown) => error instanceof RuntimeError && error.reason === "InvalidImageName", bad);
  }
});

test("pulling records the image; the policy makes matching images unavailable", async () => {
  const images = new ProcessImageService({ unavailable: ["docker.io/library/private-*", "*:broken"] });
  assert.equal(await images.imageStatus({ image: "busybox" }), null);
  assert.equal(await images.pullImage({ image: "busybox" }), "docker.io/library/busybox:latest");
  assert.deepEqual((await images.imageStatus({ image: "busybox:latest" }))?.repoTags, ["docker.io/library/busybox:latest"]);
  await assert.rejects(images.pullImage({ image: "private-thing:1" }), (error: unknown) => {
    assert.ok(error instanceof RuntimeError);
    assert.equal(error.reason, "ErrImagePull");
    assert.match(error.message, /image policy \(pattern "docker.io\/library\/private-\*"\)/);
    return true;
  });
  await assert.rejects(images.pullImage({ image: "quay.io/x/y:broken" }), /unavailable/);
  assert.equal((await images.listImages()).length, 1);
  await images.removeImage({ image: "busybox" });
  assert.equal((await images.listImages()).length, 0);
});

test("the default policy lets every valid reference pull", async () => {
  const images = new ProcessImageService();
  assert.equal(await images.pullImage({ image: `x/y@${digest}` }), `docker.io/x/y@${digest}`);
});
