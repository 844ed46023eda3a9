// The interpreter against a fake step runtime: values, scoping, closures, GStrings, env fallback,
// control flow, exceptions and Jenkins' step argument binding — no Kubernetes involved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runScript } from "../../src/pipeline/runtime/interpreter.ts";
import { PipelineError, toStr, type Value } from "../../src/pipeline/runtime/values.ts";
import type { StepRuntime } from "../../src/pipeline/runtime/steps.ts";
import { FakeRuntime } from "./fake-runtime.ts";
import { PipelineSyntaxError } from "../../src/pipeline/diagnostics.ts";
import { SEED_FILES } from "./seed-files.ts";

async function run(src: string, options: { env?: Record<string, string>; params?: Record<string, Value> } = {}) {
  const runtime = new FakeRuntime();
  const value = await runScript("Jenkinsfile", src, { runtime, ...options });
  return { log: runtime.log, value, runtime };
}

test("podTemplate → node(POD_LABEL) → container: POD_LABEL and POD_CONTAINER resolve through the env fallback", async () => {
  const { log } = await run("podTemplate(yaml: 'x') {\n  node(POD_LABEL) {\n    container('maven') { sh \"mvn -v # $POD_LABEL\" }\n    sh 'ls'\n  }\n}");
  assert.deepEqual(log, ["podTemplate yaml", "node pod-1", "+ mvn -v # pod-1 [in maven]", "+ ls"]);
});

test("GStrings interpolate ${expr}, $name and $a.b; \\$ stays a dollar; env.X reads and writes", async () => {
  const { log } = await run("def who = [name: 'world']\nenv.GREETING = 'hi'\necho \"${env.GREETING}, $who.name! \\$HOME ${1 + 2} ${BUILD_NUMBER}\"\necho env.greeting", { env: { BUILD_NUMBER: "7" } });
  assert.deepEqual(log, ["hi, world! $HOME 3 7", "hi"]);
});

test("unknown bare names fail with Jenkins' MissingPropertyException message", async () => {
  await assert.rejects(run("echo NOPE"), (e: unknown) => e instanceof PipelineError && e.message === "No such property: NOPE for class: WorkflowScript" && e.line === 1);
});

test("step argument binding: sole parameter, named map, positional map, and the error for two positionals", async () => {
  const { runtime } = await run("sh 'a'\nsh script: 'b', returnStdout: true\nsh([script: 'c'])");
  assert.deepEqual(runtime.calls.map((c) => Object.fromEntries(c.args)), [{ script: "a" }, { script: "b", returnStdout: true }, { script: "c" }]);
  await assert.rejects(run("echo 'a', 'b'"), /Expected named arguments/);
});

test("sh returnStdout with .trim(), string and list methods, closures with it and params", async () => {
  const { log } = await run(`
def v = sh(script: 'cat VERSION', returnStdout: true).trim()
echo v.toUpperCase()
def parts = 'a,b,,c'.split(',').findAll { it }.collect { p -> p * 2 }
echo parts.join('-')
def m = [b: 2, a: 1]
m.each { k, val -> echo "$k=$val" }
echo m.collect { it.key }.sort().toString()
echo "\${[1, 2, 3].inject(0) { acc, x -> acc + x }}"
`);
  assert.deepEqual(log, ["+ cat VERSION", "OUT OF CAT VERSION", "aa-bb-cc", "b=2", "a=1", "[a, b]", "6"]);
});

test("scoping: script def locals are not visible in methods; the binding is", async () => {
  const { log } = await run("def local = 'L'\nbound = 'B'\ndef show() { echo bound\n try { echo local } catch (MissingPropertyException e) { echo 'no local' } }\nshow()");
  assert.deepEqual(log, ["B", "no local"]);
});

test("closures capture loop variables by value only through a fresh def, as in Jenkins", async () => {
  const { log, value } = await run("def branches = [:]\nfor (int i = 0; i < 3; i++) {\n  def index = i\n  branches[\"b${i}\"] = { echo \"branch ${index}\"; return index * 10 }\n}\nreturn parallel(branches)");
  assert.deepEqual(log, ["branch 0", "branch 1", "branch 2"]);
  assert.deepEqual(value, new Map([["b0", 0], ["b1", 10], ["b2", 20]]));
});

test("control flow: if/else, for-in over lists and maps, while with break, switch with fallthrough and regex", async () => {
  const { log } = await run(`
for (x in [1, 2, 3, 4]) { if (x % 2 == 0) { continue }; echo "odd $x" }
def n = 0
while (true) { n++; if (n > 2) break }
echo "n=$n"
for (e in [a: 1]) { echo "\${e.key}:\${e.value}" }
switch ('release-1.2') {
  case 'main': echo 'main'; break
  case ~/release-.*/: echo 'release'
  case 'x': echo 'fell through'; break
  default: echo 'default'
}
echo (n > 2 ? 'big' : 'small')
echo (null ?: 'elvis')
echo ('abc' ==~ /a.c/ ? 'matches' : 'no')
def m = ('version 12.3' =~ /(\\d+)\\.(\\d+)/)
echo m[0][1]
echo "\${[1, 2, 3][-1] + (0..2).size()}"
`);
  assert.deepEqual(log, ["odd 1", "odd 3", "n=3", "a:1", "release", "fell through", "big", "elvis", "matches", "12", "6"]);
});

test("exceptions: error() is an AbortException; catch by type, finally always runs; unknown steps fail clearly", async () => {
  const { log } = await run(`
try { error 'boom' } catch (hudson.AbortException e) { echo "caught \${e.message}" } finally { echo 'finally' }
try { sh 'exit 2' } catch (Exception e) { echo e.getMessage() }
try { throw new IllegalStateException('bad') } catch (RuntimeException e) { echo e.toString() }
`);
  assert.deepEqual(log, ["caught boom", "finally", "+ exit 2", "script returned exit code 2", "java.lang.IllegalStateException: bad"]);
  await assert.rejects(run("slackSend 'x'"), /No such DSL method 'slackSend'/);
});

test("methods: defined after use, default parameters, named arguments as a leading map, return this", async () => {
  const { log } = await run("greet('a')\ngreet('b', '!')\nconfigure(name: 'x', size: 2)\ndef greet(who, end = '.') { echo \"hi $who$end\" }\ndef configure(Map opts) { echo \"${opts.name}/${opts.size}\" }\nreturn this");
  assert.deepEqual(log, ["hi a.", "hi b!", "x/2"]);
});

test("currentBuild.result only gets worse; params and UUID are available", async () => {
  const { log } = await run("currentBuild.result = 'UNSTABLE'\ncurrentBuild.result = 'SUCCESS'\necho currentBuild.result\necho currentBuild.currentResult\necho params.WHO\necho UUID.randomUUID().toString().size().toString()", { params: { WHO: "me" } });
  assert.deepEqual(log, ["UNSTABLE", "UNSTABLE", "me", "36"]);
});

test("withEnv layers are scoped to their block and win over env.X", async () => {
  const { log } = await run("env.MODE = 'global'\nwithEnv(['MODE=scoped']) { echo env.MODE; echo MODE }\necho env.MODE");
  assert.deepEqual(log, ["scoped", "scoped", "global"]);
});

test("helper symbols build descriptors for the runtime: containerTemplate, envVar, volumes", async () => {
  const { runtime } = await run("podTemplate(containers: [containerTemplate(name: 'm', image: 'maven')], envVars: [envVar(key: 'A', value: 'b')]) { }");
  const containers = runtime.calls[0]!.args.get("containers") as Map<Value, Value>[];
  assert.deepEqual(Object.fromEntries(containers[0]!), { $symbol: "containerTemplate", name: "m", image: "maven" });
});

test("a syntax error stops the script before any step runs", async () => {
  const runtime = new FakeRuntime();
  await assert.rejects(runScript("Jenkinsfile", "echo 'first'\nsh 'a' 'b'", { runtime }), PipelineSyntaxError);
  assert.equal(runtime.calls.length, 0);
});

test("the seed 002 pipeline runs against the fake runtime", async () => {
  const { readFileSync } = await import("node:fs");
  const { log } = await run(readFileSync(SEED_FILES["seed-002-pod-template-yaml.groovy"]!, "utf8"));
  assert.deepEqual(log, ["podTemplate yaml", "node pod-1", "+ hostname [in maven]"]);
});

test("println and print write to the log like echo", async () => {
  const { log } = await run("println 'a'\nprint \"b${1}\"");
  assert.deepEqual(log, ["a", "b1"]);
});

test("a Groovy gotcha kept: `echo (x).trim()` calls trim on echo's result, so it fails as in Jenkins", async () => {
  await assert.rejects(run("echo (' x ').trim()"), /Cannot invoke method trim\(\) on null object/);
});

test("load evaluates another script sharing env and currentBuild; `return this` exposes its methods", async () => {
  const files: Record<string, string> = {
    "lib.groovy": "def deploy(target) { echo \"deploying to $target as ${env.ROLE}\"; currentBuild.result = 'UNSTABLE'; return 'ok' }\nreturn this",
  };
  const runtime: StepRuntime = {
    async call(step) {
      if (step.name === "readFile") return files[toStr(step.args.get("file") ?? null)] ?? null;
      if (step.name === "echo") log.push(toStr(step.args.get("message") ?? null));
      return null;
    },
  };
  const log: string[] = [];
  const { Interpreter } = await import("../../src/pipeline/runtime/interpreter.ts");
  const { parseOrThrow } = await import("../../src/pipeline/parser.ts");
  const interpreter = new Interpreter(parseOrThrow("J", "env.ROLE = 'ci'\ndef lib = load 'lib.groovy'\necho lib.deploy('prod')"), { runtime });
  await interpreter.run();
  assert.deepEqual(log, ["deploying to prod as ci", "ok"]);
  assert.equal(interpreter.currentBuild.result, "UNSTABLE");
});

test("a failing step's error carries the position of the call", async () => {
  await assert.rejects(run("node {\n  sh 'exit 3'\n}"), (e: unknown) => e instanceof PipelineError && e.line === 2 && e.column === 3 && e.javaClass === "hudson.AbortException");
});

test("\\$ and \\\\ in a GString reach the shell as $ and \\ (reference §2.3); env values keep their dollars", async () => {
  const { log, runtime } = await run([
    "env.PRICE = \"\\$cost\\$tax\"",
    "echo \"groovy sees ${env.PRICE}\"",
    "sh \"\"\"",
    "  echo \\$(ls) -exec cat {} \\\\;",
    "\"\"\"",
  ].join("\n"));
  assert.equal(log[0], "groovy sees $cost$tax");
  assert.equal(runtime.calls[1]!.args.get("script"), "\n  echo $(ls) -exec cat {} \\;\n");
});
