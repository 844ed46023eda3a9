import { test } from "node:test";
import assert from "node:assert/strict";
import { ruleAllows, subjectMatches } from "../../../src/cluster/apiserver/rbac.ts";

const pods = { kind: "resource" as const, verb: "get", group: "", resource: "pods", namespace: "ns" };

test("rules match verbs, groups, resources, subresources and names", () => {
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["pods"] }, pods), true);
  assert.equal(ruleAllows({ verbs: ["list"], apiGroups: [""], resources: ["pods"] }, pods), false);
  assert.equal(ruleAllows({ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }, pods), true);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: ["apps"], resources: ["pods"] }, pods), false);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["pods"] }, { ...pods, subresource: "log" }), false);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["pods/log"] }, { ...pods, subresource: "log" }), true);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["*/log"] }, { ...pods, subresource: "log" }), true);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] }, { ...pods, name: "a" }), true);
  assert.equal(ruleAllows({ verbs: ["get"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] }, { ...pods, name: "b" }), false);
  assert.equal(ruleAllows({ verbs: ["get"], nonResourceURLs: ["/apis/*"] }, { kind: "nonResource", verb: "get", path: "/apis/x/v1" }), true);
  assert.equal(ruleAllows({ verbs: ["get"], nonResourceURLs: ["/api"] }, { kind: "nonResource", verb: "get", path: "/apis" }), false);
});

test("subjects: users, groups and service accounts", () => {
  const user = { username: "system:serviceaccount:ci:robot", groups: ["system:serviceaccounts", "system:authenticated"] };
  assert.equal(subjectMatches({ kind: "ServiceAccount", name: "robot", namespace: "ci" }, user), true);
  assert.equal(subjectMatches({ kind: "ServiceAccount", name: "robot", namespace: "other" }, user), false);
  assert.equal(subjectMatches({ kind: "Group", name: "system:serviceaccounts" }, user), true);
  assert.equal(subjectMatches({ kind: "User", name: "alice" }, user), false);
});
