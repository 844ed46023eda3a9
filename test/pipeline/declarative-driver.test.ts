// Declarative pipelines run on the interpreter against the fake runtime: the kubernetes agent
// expansion, environment and credentials, when, stage failure and skipping, post order, results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Interpreter } from "../../src/pipeline/runtime/interpreter.ts";
import { parseOrThrow } from "../../src/pipeline/parser.ts";
import { PipelineError } from "../../src/pipeline/runtime/values.ts";
import { FakeRuntime } from "./fake-runtime.ts";
import { SEED_FILES } from "./seed-files.ts";

async function run(src: string, env: Record<string, string> = {}) {
  const runtime = new FakeRuntime();
  const interpreter = new Interpreter(parseOrThrow("Jenkinsfile", src), { runtime, env });
  let error: unknown = null;
  try {
    await interpreter.run();
  } catch (e) {
    error = e;
  }
  return { log: runtime.log, error, result: interpreter.currentBuild.result ?? "SUCCESS" };
}

test("seed 001's declarative pipeline: podTemplate → node(POD_LABEL) → container per step", async () => {
  const { log, error } = await run(readFileSync(SEED_FILES["seed-001-declarative-yaml.groovy"]!, "utf8"));
  assert.equal(error, null);
  assert.deepEqual(log, [
    "podTemplate label,yaml,inheritFrom",
    "node mypod",
    "[Run maven]",
    "+ mvn -version [in maven]",
    "+ /bin/busybox [in busybox]",
  ]);
});

test("defaultContainer wraps the body; environment values see earlier ones; credentials are bound by the runtime", async () => {
  const { log } = await run(`
def prefix = 'v'
pipeline {
  agent { kubernetes { yaml 'x'; defaultContainer 'tools' } }
  environment {
    VERSION = "\${prefix}1"
    TAG = "\${VERSION}-\${BUILD_NUMBER}"
    REG = credentials('registry')
  }
  stages {
    stage('Build') { steps { sh "echo $TAG $REG_USR" } }
  }
}`, { BUILD_NUMBER: "9" });
  assert.deepEqual(log, ["podTemplate yaml,inheritFrom", "node pod-1", "[Build]", "+ echo v1-9 user [in tools]"]);
});

test("when: branch glob, expression, not; a false when skips the stage but not the next", async () => {
  const { log } = await run(`
pipeline {
  agent none
  stages {
    stage('Release') { when { branch 'release/*' }; steps { echo 'releasing' } }
    stage('Main') { when { allOf { branch 'main'; not { environment name: 'SKIP', value: 'yes' } } }; steps { echo 'on main' } }
    stage('Expr') { when { expression { return BRANCH_NAME.startsWith('ma') } }; steps { echo 'expr' } }
  }
}`, { BRANCH_NAME: "main" });
  assert.deepEqual(log, ["[Release]", 'Stage "Release" skipped due to when conditional', "[Main]", "on main", "[Expr]", "expr"]);
});

test("a failing stage fails the build, skips later stages, and every applicable post block runs in order", async () => {
  const { log, error, result } = await run(`
pipeline {
  agent any
  stages {
    stage('One') {
      steps { sh 'exit 1' }
      post { failure { echo 'stage one failed' }; success { echo 'never' } }
    }
    stage('Two') { steps { echo 'not run' } }
  }
  post {
    cleanup { echo 'cleanup' }
    success { echo 'success' }
    always { echo 'always' }
    failure { echo 'failure' }
  }
}`);
  assert.ok(error instanceof PipelineError && error.message === "script returned exit code 1" && error.line === 6);
  assert.equal(result, "FAILURE");
  assert.deepEqual(log, ["node null", "[One]", "+ exit 1", "stage one failed", 'Stage "Two" skipped due to earlier failure(s)', "always", "failure", "cleanup"]);
});

test("nested and parallel stages run; unstable results reach post conditions", async () => {
  const { log, result } = await run(`
pipeline {
  agent none
  stages {
    stage('Outer') {
      stages {
        stage('Inner') { steps { script { currentBuild.result = 'UNSTABLE' } } }
      }
    }
    stage('Fan out') {
      parallel {
        stage('A') { steps { echo 'a' } }
        stage('B') { steps { echo 'b' } }
      }
    }
  }
  post { unstable { echo 'unstable' }; unsuccessful { echo 'unsuccessful' } }
}`);
  assert.equal(result, "UNSTABLE");
  assert.deepEqual(log.filter((l) => !l.startsWith("[")), ["a", "b", "unsuccessful", "unstable"]);
});

test("script-level code runs before the pipeline, and its methods are callable from steps", async () => {
  const { log } = await run("def greet(n) { echo \"hi $n\" }\necho 'before'\npipeline {\n agent none\n stages { stage('s') { steps { greet('x') } } }\n}");
  assert.deepEqual(log, ["before", "[s]", "hi x"]);
});

test("every runnable seed snippet runs against the fake runtime; the two that cannot fail as Jenkins would", async () => {
  const fragments = new Set(["seed-001-jnlp-image-line.groovy", "seed-001-inherit-from.groovy", "seed-001-container-options.groovy", "seed-001-declarative-yamlfile.groovy", "seed-001-declarative-container-template.groovy"]);
  const outcomes: Record<string, string> = {};
  for (const f of Object.keys(SEED_FILES).filter((x) => !fragments.has(x)).sort()) {
    const { error } = await run(readFileSync(SEED_FILES[f]!, "utf8"), { BUILD_NUMBER: "1" });
    outcomes[f] = error instanceof Error ? error.message : "ok";
  }
  assert.deepEqual(outcomes, {
    "seed-001-container-log.groovy": "ok",
    "seed-001-container-specific.groovy": "ok",
    "seed-001-declarative-yaml.groovy": "ok",
    "seed-001-jnlp-container.groovy": "ok",
    // a shared-library class: Berth runs no src/ classes
    "seed-001-library-consumer.groovy": "unsupported class 'PodTemplates'",
    "seed-001-library-pod-templates.groovy": "ok",
    "seed-001-liveness-probe.groovy": "ok",
    "seed-001-multiple-containers.groovy": "ok",
    "seed-001-nesting.groovy": "ok",
    // `label: my-label` is `my.minus(label)` in Groovy: Jenkins fails the same way
    "seed-001-shell.groovy": "No such property: my for class: WorkflowScript",
    "seed-001-yaml.groovy": "ok",
    "seed-002-pod-template-yaml.groovy": "ok",
  });
});

test("matrix: every cell but the excluded ones runs its stages with the axis values as env vars", async () => {
  const { log } = await run(`
pipeline {
  agent none
  stages {
    stage('Test') {
      matrix {
        axes {
          axis { name 'OS'; values 'linux', 'mac' }
          axis { name 'JDK'; values '11', '17' }
        }
        excludes { exclude { axis { name 'OS'; values 'mac' }; axis { name 'JDK'; values '11' } } }
        stages { stage('Unit') { steps { echo "unit on $OS with $JDK" } } }
      }
    }
  }
}`);
  assert.deepEqual(log.filter((l) => l.startsWith("unit")).sort(), ["unit on linux with 11", "unit on linux with 17", "unit on mac with 17"]);
  assert.ok(log.includes("[Matrix - OS = 'linux', JDK = '17']"));
});

test("options that are block steps wrap the stages (pipeline) or the stage with its agent (stage), in order", async () => {
  const runtime = new FakeRuntime();
  const interpreter = new Interpreter(parseOrThrow("J", `
pipeline {
  agent any
  options { timeout(time: 1, unit: 'HOURS'); timestamps(); retry(2) }
  stages {
    stage('s') {
      options { timeout(5) }
      agent { label 'x' }
      steps { echo 'in' }
    }
  }
}`), { runtime });
  await interpreter.run();
  assert.deepEqual(runtime.calls.map((c) => `${c.name}(${[...c.args].map(([k, v]) => `${k}=${String(v)}`).join(",")})`), [
    "node()", "checkout(scm=[object Map])", "timeout(time=1,unit=HOURS)", "retry(count=2)", "stage(name=s)", "timeout(time=5)", "node(label=x)", "checkout(scm=[object Map])", "echo(message=in)",
  ]);
});

test("skipDefaultCheckout: agents do not check out the source; parallel stages go through the parallel step with failFast", async () => {
  const runtime = new FakeRuntime();
  const interpreter = new Interpreter(parseOrThrow("J", `
pipeline {
  agent any
  options { skipDefaultCheckout() }
  stages {
    stage('p') {
      failFast true
      parallel {
        stage('a') { steps { echo 'a' } }
        stage('b') { steps { echo 'b' } }
      }
    }
  }
}`), { runtime });
  await interpreter.run();
  const names = runtime.calls.map((c) => c.name);
  assert.ok(!names.includes("checkout"));
  const parallel = runtime.calls.find((c) => c.name === "parallel")!;
  assert.deepEqual([...parallel.args.keys()], ["a", "b", "failFast"]);
  assert.deepEqual(runtime.log.filter((l) => l === "a" || l === "b").sort(), ["a", "b"]);
});

test("a stage input directive asks the runtime; the submitted value becomes an env var of the stage", async () => {
  const runtime = new FakeRuntime();
  const answering = { async call(step: Parameters<FakeRuntime["call"]>[0]) { return step.name === "input" ? "prod" : runtime.call(step); } };
  const interpreter = new Interpreter(parseOrThrow("J", "pipeline {\n agent none\n stages {\n  stage('Deploy') {\n   input { message 'Where to?'; parameters { string(name: 'TARGET', defaultValue: 'dev') } }\n   steps { echo \"deploying to $TARGET\" }\n  }\n }\n}"), { runtime: answering });
  await interpreter.run();
  assert.deepEqual(runtime.log, ["[Deploy]", "deploying to prod"]);
});
