// npm run bench:pipeline — how fast Berth reads Jenkinsfiles: parse, and parse + declarative model +
// lint, in lines per second, on a generated Jenkinsfile of about 5,000 lines mixing script-level
// methods and a declarative pipeline with many stages (kubernetes agent, when, parallel, script, post).
import { parse } from "../src/pipeline/parser.ts";
import { lintSource } from "../src/pipeline/lint.ts";

const TARGET_LINES = 5000;

function generate(): string {
  const head = [
    "def label = \"bench-${UUID.randomUUID().toString()}\"",
    "def shards = [:]",
    "def describe(String name, Map opts = [:]) {",
    "  def parts = name.split('-').collect { it.capitalize() }",
    "  return \"${parts.join(' ')} (${opts.size()} options)\"",
    "}",
    "pipeline {",
    "  agent {",
    "    kubernetes {",
    "      yaml '''",
    "apiVersion: v1",
    "kind: Pod",
    "spec:",
    "  containers:",
    "  - name: build",
    "    image: alpine:3.20",
    "    command: [sleep, 99d]",
    "'''",
    "      defaultContainer 'build'",
    "    }",
    "  }",
    "  environment { MODE = 'bench' }",
    "  options { timeout(time: 1, unit: 'HOURS') }",
    "  stages {",
  ];
  const stage = (i: number) => [
    `    stage('stage-${i}') {`,
    "      when { anyOf { branch 'main'; expression { return env.MODE == 'bench' } } }",
    "      steps {",
    `        sh "echo stage ${i} \${env.MODE} && ls -la | wc -l"`,
    `        container('build') { sh 'make test-${i}' }`,
    "        script {",
    `          def n = ${i} * 2 + (params.EXTRA ? 1 : 0)`,
    "          if (n % 3 == 0) { echo describe('stage-" + i + "', [n: n]) } else { echo \"n=${n}\" }",
    `          shards["shard-${i}"] = { echo 'shard ${i}' }`,
    "        }",
    "      }",
    "      post { failure { echo 'failed' } }",
    "    }",
  ];
  const lines = [...head];
  let i = 0;
  while (lines.length < TARGET_LINES - 3) lines.push(...stage(i++));
  lines.push("  }", "  post { always { echo 'done' } }", "}");
  return `${lines.join("\n")}\n`;
}

function measure(label: string, text: string, run: () => void): void {
  const lines = text.split("\n").length - 1;
  for (let w = 0; w < 5; w++) run(); // warm up the JIT
  const times: number[] = [];
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const rate = Math.round(lines / (median / 1000));
  console.log(`${label.padEnd(34)} ${lines} lines  median ${median.toFixed(1)} ms  ${rate.toLocaleString("en-US")} lines/s`);
}

const text = generate();
const check = lintSource("bench.Jenkinsfile", text);
if (check.diagnostics.length > 0) throw new Error(`generated Jenkinsfile is not lint-clean: ${check.diagnostics[0]!.message}`);
measure("parse", text, () => parse("bench.Jenkinsfile", text));
measure("parse + declarative model + lint", text, () => lintSource("bench.Jenkinsfile", text));
