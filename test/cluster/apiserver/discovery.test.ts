import { test } from "node:test";
import assert from "node:assert/strict";
import { aggregatedDiscovery, apiResourceList, preferredAggregatedVersion } from "../../../src/cluster/apiserver/discovery.ts";

test("aggregated discovery is chosen only for an exact version in Accept, in the client's order", () => {
  const v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
  const v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
  assert.equal(preferredAggregatedVersion(`${v2},${v2beta1},application/json`), "v2");
  assert.equal(preferredAggregatedVersion(`${v2beta1},application/json`), "v2beta1");
  assert.equal(preferredAggregatedVersion("application/json, */*"), undefined);
  assert.equal(preferredAggregatedVersion("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"), undefined);
});

test("discovery lists each resource before its subresources, with the reference's verbs", () => {
  const core = apiResourceList("", "v1") as { resources: { name: string; verbs: string[]; shortNames?: string[] }[] };
  const names = core.resources.map((r) => r.name);
  assert.ok(names.indexOf("pods") < names.indexOf("pods/status"));
  const pods = core.resources.find((r) => r.name === "pods");
  assert.deepEqual(pods?.shortNames, ["po"]);
  assert.ok(pods?.verbs.includes("watch"));
  const groups = aggregatedDiscovery("groups", "v2") as { items: { metadata: { name: string } }[] };
  assert.ok(groups.items.some((g) => g.metadata.name === "authorization.k8s.io"));
  const coreAggregated = aggregatedDiscovery("core", "v2") as { items: { metadata: { name: string }; versions: { resources: { resource: string; scope: string }[] }[] }[] };
  assert.deepEqual(coreAggregated.items.map((g) => g.metadata.name), [""]);
  assert.equal(coreAggregated.items[0]?.versions[0]?.resources.find((r) => r.resource === "nodes")?.scope, "Cluster");
});
