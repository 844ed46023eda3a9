import { test } from "node:test";
import assert from "node:assert/strict";
import { route } from "../../../src/cluster/apiserver/router.ts";

function describe(path: string): string {
  const r = route(path);
  if (!r) return "none";
  if (r.kind !== "resource") return r.kind;
  return [r.rt.group || "core", r.rt.plural, r.namespace ?? "-", r.name ?? "-", r.subresource ?? "-"].join(" ");
}

test("paths map to what they address", () => {
  assert.equal(describe("/api/v1/namespaces/default/pods"), "core pods default - -");
  assert.equal(describe("/api/v1/namespaces/default/pods/web/status"), "core pods default web status");
  assert.equal(describe("/api/v1/pods"), "core pods - - -");
  assert.equal(describe("/api/v1/pods/web"), "none", "a namespaced object needs its namespace");
  assert.equal(describe("/api/v1/namespaces/default"), "core namespaces - default -");
  assert.equal(describe("/api/v1/namespaces/default/finalize"), "core namespaces - default finalize");
  assert.equal(describe("/api/v1/nodes/node-1/status"), "core nodes - node-1 status");
  assert.equal(describe("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"), "coordination.k8s.io leases kube-node-lease node-1 -");
  assert.equal(describe("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), "authorization.k8s.io selfsubjectaccessreviews - - -");
  assert.equal(describe("/api/v1/namespaces/default/pods/web/status/extra"), "none");
  assert.equal(describe("/apis/nope/v1/things"), "none");
  assert.equal(describe("/api/v1"), "groupVersion");
  assert.equal(describe("/apis/events.k8s.io"), "group");
  assert.equal(describe("/version"), "version");
  assert.equal(describe("/%E0%A4%A"), "none");
});
