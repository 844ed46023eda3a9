import { test } from "node:test";
import assert from "node:assert/strict";
import { admitNewPod, applyPodDefaults, defaultPullPolicy, qosClass, validatePodSpec, validatePodSpecUpdate } from "../../../src/cluster/apiserver/pods.ts";
import type { JsonRecord, KubeObject } from "../../../src/cluster/apiserver/types.ts";

function newPod(spec: JsonRecord): KubeObject {
  const pod: KubeObject = { metadata: { name: "p", namespace: "default" }, spec };
  applyPodDefaults(pod);
  admitNewPod(pod);
  return pod;
}

test("defaults follow the real server: policies, grace, container fields, tolerations, status", () => {
  const pod = newPod({ containers: [{ name: "main", image: "nginx", ports: [{ containerPort: 80 }], resources: { limits: { cpu: "1", memory: "1Gi" } } }] });
  const spec = pod.spec as JsonRecord;
  assert.equal(spec.restartPolicy, "Always");
  assert.equal(spec.terminationGracePeriodSeconds, 30);
  assert.equal(spec.dnsPolicy, "ClusterFirst");
  assert.equal(spec.schedulerName, "default-scheduler");
  assert.equal(spec.serviceAccountName, "default");
  assert.equal(spec.serviceAccount, "default");
  const container = (spec.containers as JsonRecord[])[0] as JsonRecord;
  assert.equal(container.imagePullPolicy, "Always");
  assert.equal(container.terminationMessagePath, "/dev/termination-log");
  assert.deepEqual(container.ports, [{ containerPort: 80, protocol: "TCP" }]);
  assert.deepEqual((container.resources as JsonRecord).requests, { cpu: "1", memory: "1Gi" });
  assert.equal((spec.tolerations as unknown[]).length, 2);
  assert.deepEqual(pod.status, { phase: "Pending", qosClass: "Guaranteed" });
});

test("image pull policy: Always for latest or untagged, IfNotPresent otherwise", () => {
  assert.equal(defaultPullPolicy("nginx"), "Always");
  assert.equal(defaultPullPolicy("nginx:latest"), "Always");
  assert.equal(defaultPullPolicy("registry:5000/nginx"), "Always");
  assert.equal(defaultPullPolicy("nginx:1.25"), "IfNotPresent");
  assert.equal(defaultPullPolicy("nginx@sha256:abc"), "IfNotPresent");
});

test("QoS classes", () => {
  assert.equal(qosClass({ containers: [{ name: "a" }] }), "BestEffort");
  assert.equal(qosClass({ containers: [{ name: "a", resources: { requests: { cpu: "100m" } } }] }), "Burstable");
  assert.equal(qosClass({ containers: [{ name: "a", resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } }] }), "Guaranteed");
});

test("validation reports every problem with its field path", () => {
  const errors = validatePodSpec({
    restartPolicy: "Sometimes",
    volumes: [{ name: "v" }, { name: "v" }],
    containers: [
      { name: "a", ports: [{ containerPort: 0, protocol: "ICMP", name: "UPPER" }] },
      { name: "a", image: "x", volumeMounts: [{ name: "missing", mountPath: "/m" }] },
    ],
  });
  const fields = errors.map((e) => `${e.field}: ${e.type}`);
  assert.deepEqual(fields.sort(), [
    "spec.containers[0].image: FieldValueRequired",
    "spec.containers[0].ports[0].containerPort: FieldValueRequired",
    "spec.containers[0].ports[0].name: FieldValueInvalid",
    "spec.containers[0].ports[0].protocol: FieldValueNotSupported",
    "spec.containers[1].name: FieldValueDuplicate",
    "spec.containers[1].volumeMounts[0].name: FieldValueNotFound",
    "spec.restartPolicy: FieldValueNotSupported",
    "spec.volumes[1].name: FieldValueDuplicate",
  ].sort());
  assert.deepEqual(validatePodSpec({}).map((e) => `${e.field}: ${e.detail}`), ["spec.containers: Required value"]);
});

test("updates may change images, add tolerations and lower the deadline, nothing else", () => {
  const old = (newPod({ containers: [{ name: "main", image: "nginx:1" }], activeDeadlineSeconds: 100 }).spec as JsonRecord);
  const next = structuredClone(old);
  ((next.containers as JsonRecord[])[0] as JsonRecord).image = "nginx:2";
  (next.tolerations as unknown[]).push({ key: "extra", operator: "Exists" });
  next.activeDeadlineSeconds = 50;
  assert.deepEqual(validatePodSpecUpdate(old, next), []);
  const bad = structuredClone(old);
  bad.restartPolicy = "Never";
  const errors = validatePodSpecUpdate(old, bad);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.detail ?? "", /^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
  const raised = structuredClone(old);
  raised.activeDeadlineSeconds = 200;
  assert.equal(validatePodSpecUpdate(old, raised).length, 1);
});
