// junit in a real agent pod on the embedded cluster: reports found by Ant patterns, streamed from the pod
// and counted; the summary and failed tests in the log; the errors Jenkins gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sh, StepError } from "../../src/steps/sh.ts";
import { writeFile } from "../../src/steps/files.ts";
import { junit, EMPTY_RESULT_MESSAGE, NO_REPORTS_MESSAGE } from "../../src/steps/junit.ts";
import { Log } from "../controller/helpers.ts";
import { WORKSPACE, agentContext } from "./helpers.ts";

const SUREFIRE = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.FooTest" tests="4" failures="1" skipped="1">
  <testcase name="ok" classname="com.example.FooTest" time="0.01"/>
  <testcase name="bar" classname="com.example.FooTest"><failure message="expected &lt;1&gt;">trace</failure><system-out><![CDATA[<log>]]></system-out></testcase>
  <testcase name="later" classname="com.example.FooTest"><skipped/></testcase>
  <testcase name="ok2" classname="com.example.FooTest"/>
</testsuite>
`;

const NESTED = `<testsuites>
  <testsuite name="all">
    <testsuite name="unit"><testcase classname="pkg.Unit" name="a"/><testcase classname="pkg.Unit" name="b"><error message="boom"/></testcase></testsuite>
    <testsuite name="lint"><testcase name="style"><skipped/></testcase></testsuite>
  </testsuite>
</testsuites>
`;

const PASSING = `<testsuite name="p"><testcase classname="pkg.Pass" name="one"/><testcase classname="pkg.Pass" name="two"/></testsuite>`;

test("junit: reports from several patterns, nested suites, links followed, default excludes; summary, failed tests, unstable flag", async (t) => {
  const ctx = await agentContext(t);
  await writeFile(ctx, { file: "target/surefire-reports/TEST-com.example.FooTest.xml", text: SUREFIRE });
  await writeFile(ctx, { file: "build/test-results/unit/results.xml", text: NESTED });
  await writeFile(ctx, { file: "build/test-results/.git/stale.xml", text: SUREFIRE }); // default excludes
  await writeFile(ctx, { file: "build/other.xml", text: SUREFIRE }); // not selected
  await writeFile(ctx, { file: "passing/TEST-p.xml", text: PASSING });
  await sh(ctx, { script: "#!/bin/sh\nset -e\nmkdir -p linked && ln -s ../passing/TEST-p.xml linked/TEST-link.xml\n: > target/surefire-reports/TEST-crashed.xml" });

  const summary = await junit(ctx, { testResults: "target/surefire-reports/*.xml, build/test-results/**/*.xml,linked/*.xml", keepLongStdio: true });
  // FooTest 4 (1 failed, 1 skipped) + crashed 1 (failed) + nested 3 (1 failed, 1 skipped) + linked 2.
  assert.deepEqual(summary, { totalCount: 10, failCount: 3, skipCount: 2, passCount: 5, markUnstable: true });
  assert.equal(ctx.log.lines[0], "Recording test results");
  assert.equal(ctx.log.lines[1], "Tests: 10, failures: 3, skipped: 2");
  assert.deepEqual(ctx.log.lines.slice(2).sort(), ["FAILED: TEST-crashed.xml.[empty]", "FAILED: com.example.FooTest.bar", "FAILED: pkg.Unit.b"]);

  // Failures without marking the build unstable; and a run where everything passed.
  assert.equal((await junit(ctx, { testResults: "target/**/*.xml", skipMarkingBuildUnstable: true })).markUnstable, false);
  const passing = new Log();
  assert.deepEqual(await junit({ ...ctx, log: passing }, { testResults: "passing/*.xml" }), { totalCount: 2, failCount: 0, skipCount: 0, passCount: 2, markUnstable: false });
  assert.deepEqual(passing.lines, ["Recording test results", "Tests: 2, failures: 0, skipped: 0"]);
  // Patterns are relative to the step's working directory.
  assert.equal((await junit({ ...ctx, cwd: `${WORKSPACE}/build` }, { testResults: "test-results/**/*.xml" })).totalCount, 3);
});

test("junit: no report files, reports without tests, and a report that is not XML, as Jenkins words them", async (t) => {
  const ctx = await agentContext(t);
  await assert.rejects(junit(ctx, { testResults: "**/TEST-*.xml" }), (e: unknown) => e instanceof StepError && e.message === NO_REPORTS_MESSAGE);
  assert.equal(NO_REPORTS_MESSAGE, "No test report files were found. Configuration error?");
  assert.deepEqual(await junit(ctx, { testResults: "**/TEST-*.xml", allowEmptyResults: true }), { totalCount: 0, failCount: 0, skipCount: 0, passCount: 0, markUnstable: false });
  assert.match(ctx.log.text, /^None of the test reports contained any result$/m);
  // A working directory that does not exist holds no reports either.
  await assert.rejects(junit({ ...ctx, cwd: "/no/such/dir" }, { testResults: "*.xml" }), (e: unknown) => e instanceof StepError && e.message === NO_REPORTS_MESSAGE);

  await writeFile(ctx, { file: "reports/TEST-none.xml", text: `<testsuites><testsuite name="empty"/></testsuites>` });
  await assert.rejects(junit(ctx, { testResults: "reports/*.xml" }), (e: unknown) => e instanceof StepError && e.message === EMPTY_RESULT_MESSAGE);
  assert.equal((await junit(ctx, { testResults: "reports/*.xml", allowEmptyResults: true })).totalCount, 0);

  await writeFile(ctx, { file: "reports/TEST-ok.xml", text: PASSING });
  await writeFile(ctx, { file: "reports/TEST-truncated.xml", text: PASSING.slice(0, 60) });
  await assert.rejects(
    junit(ctx, { testResults: "reports/*.xml" }),
    (e: unknown) => e instanceof StepError && e.message.includes(`${WORKSPACE}/reports/TEST-truncated.xml`) && /not well-formed XML at line 1/.test(e.message),
  );
  await assert.rejects(junit(ctx, { testResults: "" }), /no testResults pattern/);
});

test("junit: many report files and a large one are streamed from the pod and counted", async (t) => {
  const ctx = await agentContext(t);
  await sh(ctx, {
    script: [
      "#!/bin/sh",
      "set -e",
      "mkdir -p reports/many",
      'out=$(head -c 600 /dev/zero | tr "\\0" x)',
      "for i in $(seq 1 300); do",
      '  { echo "<testsuite name=\\"s$i\\">"; for j in 1 2 3 4 5 6 7 8 9; do echo "<testcase classname=\\"pkg.T$i\\" name=\\"t$j\\"><system-out>$out</system-out></testcase>"; done',
      '    echo "<testcase classname=\\"pkg.T$i\\" name=\\"odd\\"><skipped/></testcase></testsuite>"; } > reports/many/TEST-$i.xml',
      "done",
      "echo '<testsuite name=\"big\">' > reports/TEST-big.xml",
      "seq 1 40000 | sed 's/.*/<testcase classname=\"big.T\" name=\"t&\"><system-out>some output of test &amp; more<\\/system-out><\\/testcase>/' >> reports/TEST-big.xml",
      "echo '<testcase classname=\"big.T\" name=\"last\"><failure/></testcase></testsuite>' >> reports/TEST-big.xml",
    ].join("\n"),
  });
  const size = Number(await sh(ctx, { script: "#!/bin/sh\ncat reports/TEST-big.xml | wc -c", returnStdout: true }));
  assert.ok(size > 3_000_000, `big report is ${size} bytes`);
  const started = performance.now();
  const summary = await junit(ctx, { testResults: "reports/**/TEST-*.xml" });
  t.diagnostic(`junit read ${size} + 300 reports in ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(summary, { totalCount: 300 * 10 + 40_001, failCount: 1, skipCount: 300, passCount: 300 * 9 + 40_000, markUnstable: true });
  assert.deepEqual(ctx.log.lines, ["Recording test results", "Tests: 43001, failures: 1, skipped: 300", "FAILED: big.T.last"]);
});
