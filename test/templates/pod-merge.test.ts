// combinePods: reference §3.5, with Berth keeping child values the plugin drops.
import { test } from "node:test";
import assert from "node:assert/strict";
import { combinePods } from "../../src/templates/pod-merge.ts";

test("containers merge by name in parent order; child-only containers follow", () => {
  const pod = combinePods(
    { spec: { containers: [{ name: "a", image: "a1", tty: true }, { name: "b", image: "b1" }] } },
    { spec: { containers: [{ name: "c", image: "c1" }, { name: "a", image: "a2" }] } },
  );
  assert.deepEqual(pod, { spec: { containers: [{ name: "a", image: "a2", tty: true }, { name: "b", image: "b1" }, { name: "c", image: "c1" }] } });
});

test("env by name, mounts by mountPath, resources per key", () => {
  const pod = combinePods(
    {
      spec: {
        containers: [
          {
            name: "a",
            env: [{ name: "X", value: "1" }, { name: "Y", value: "1" }],
            volumeMounts: [{ name: "v1", mountPath: "/m" }],
            resources: { requests: { cpu: "1", memory: "1Gi" } },
          },
        ],
      },
    },
    {
      spec: {
        containers: [
          {
            name: "a",
            env: [{ name: "Y", value: "2" }, { name: "Z", value: "3" }],
            volumeMounts: [{ name: "v2", mountPath: "/m" }, { name: "v3", mountPath: "/n" }],
            resources: { requests: { cpu: "2" }, limits: { cpu: "4" } },
          },
        ],
      },
    },
  );
  assert.deepEqual(pod, {
    spec: {
      containers: [
        {
          name: "a",
          env: [{ name: "X", value: "1" }, { name: "Y", value: "2" }, { name: "Z", value: "3" }],
          volumeMounts: [{ name: "v2", mountPath: "/m" }, { name: "v3", mountPath: "/n" }],
          resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "4" } },
        },
      ],
    },
  });
});

test("labels, annotations and nodeSelector merge per key, the child winning", () => {
  const pod = combinePods(
    { metadata: { labels: { a: "1", b: "1" }, annotations: { x: "1" } }, spec: { nodeSelector: { disk: "ssd", zone: "a" } } },
    { metadata: { labels: { b: "2" }, annotations: { y: "2" } }, spec: { nodeSelector: { zone: "b" } } },
  );
  assert.deepEqual(pod, { metadata: { labels: { a: "1", b: "2" }, annotations: { x: "1", y: "2" } }, spec: { nodeSelector: { disk: "ssd", zone: "b" } } });
});

test("volumes are replaced whole by name; tolerations are appended; pull secrets are a union", () => {
  const pod = combinePods(
    {
      spec: {
        volumes: [{ name: "v", emptyDir: {} }, { name: "w", hostPath: { path: "/w" } }],
        tolerations: [{ key: "a", operator: "Exists" }],
        imagePullSecrets: [{ name: "one" }],
      },
    },
    {
      spec: {
        volumes: [{ name: "v", secret: { secretName: "s" } }],
        tolerations: [{ key: "a", operator: "Exists" }, { key: "b", operator: "Exists" }],
        imagePullSecrets: [{ name: "one" }, { name: "two" }],
      },
    },
  );
  assert.deepEqual(pod, {
    spec: {
      volumes: [{ name: "v", secret: { secretName: "s" } }, { name: "w", hostPath: { path: "/w" } }],
      tolerations: [{ key: "a", operator: "Exists" }, { key: "b", operator: "Exists" }],
      imagePullSecrets: [{ name: "one" }, { name: "two" }],
    },
  });
});

test("empty child command or args keep the parent's (JENKINS-72886)", () => {
  const pod = combinePods({ spec: { containers: [{ name: "a", command: ["cat"], args: ["x"] }] } }, { spec: { containers: [{ name: "a", command: [], args: [] }] } });
  assert.deepEqual(pod, { spec: { containers: [{ name: "a", command: ["cat"], args: ["x"] }] } });
});

test("Berth difference: the child's restartPolicy, affinity, ports and probes are kept", () => {
  const pod = combinePods(
    {
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "a", ports: [{ containerPort: 80 }], livenessProbe: { exec: { command: ["true"] }, periodSeconds: 5 } }],
      },
    },
    {
      spec: {
        restartPolicy: "OnFailure",
        affinity: { podAntiAffinity: {} },
        containers: [{ name: "a", ports: [{ containerPort: 80, name: "http" }, { containerPort: 81 }], livenessProbe: { httpGet: { port: 80 } } }],
      },
    },
  );
  assert.deepEqual(pod, {
    spec: {
      restartPolicy: "OnFailure",
      affinity: { podAntiAffinity: {} },
      containers: [{ name: "a", ports: [{ containerPort: 80, name: "http" }, { containerPort: 81 }], livenessProbe: { httpGet: { port: 80 } } }],
    },
  });
});

test("Berth difference: pod and container securityContext merge per field instead of losing the child's", () => {
  const pod = combinePods(
    { spec: { securityContext: { runAsUser: 1000 }, containers: [{ name: "a", securityContext: { privileged: true } }] } },
    { spec: { securityContext: { fsGroup: 2000 }, containers: [{ name: "a", securityContext: { runAsNonRoot: true } }] } },
  );
  assert.deepEqual(pod, {
    spec: { securityContext: { runAsUser: 1000, fsGroup: 2000 }, containers: [{ name: "a", securityContext: { privileged: true, runAsNonRoot: true } }] },
  });
});

test("neither input is modified", () => {
  const parent = { spec: { containers: [{ name: "a", env: [{ name: "X", value: "1" }] }] } };
  const child = { spec: { containers: [{ name: "a", env: [{ name: "X", value: "2" }] }] } };
  const before = JSON.stringify([parent, child]);
  combinePods(parent, child);
  assert.equal(JSON.stringify([parent, child]), before);
});
