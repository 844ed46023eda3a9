// parseJunitReport and decodeReport: counting JUnit XML reports as the JUnit plugin counts them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeReport, parseJunitReport } from "../../src/steps/junit.ts";
import { StepError } from "../../src/steps/sh.ts";

test("parseJunitReport: a Surefire-style testsuite with passes, failures, errors and skips", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.example.FooTest" time="0.05" tests="5" errors="1" skipped="1" failures="1">
  <properties><property name="java.version" value="21"/></properties>
  <testcase name="passes" classname="com.example.FooTest" time="0.001"/>
  <testcase name="bar" classname="com.example.FooTest" time="0.002">
    <failure message="expected: &lt;1&gt; but was: &lt;2&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <1> but was: <2>
	at com.example.FooTest.bar(FooTest.java:12)]]></failure>
    <system-out><![CDATA[some <output> & more]]></system-out>
  </testcase>
  <testcase name="boom" classname="com.example.FooTest"><error message="NPE" type="java.lang.NullPointerException">java.lang.NullPointerException
	at com.example.FooTest.boom(FooTest.java:20)</error></testcase>
  <testcase name="later" classname="com.example.FooTest"><skipped message="not yet"/></testcase>
  <testcase name="ok2" classname="com.example.FooTest"><system-out>printed</system-out></testcase>
  <system-err/>
</testsuite>`;
  assert.deepEqual(parseJunitReport(xml, "/ws/target/surefire-reports/TEST-com.example.FooTest.xml"), {
    totalCount: 5,
    failCount: 2,
    skipCount: 1,
    passCount: 2,
    failed: ["com.example.FooTest.bar", "com.example.FooTest.boom"],
  });
});

test("parseJunitReport: <testsuites>, nested suites, a <testsuites> holding cases itself; attribute counts ignored", () => {
  const xml = `<testsuites tests="999" failures="0">
  <testsuite name="outer" tests="1">
    <testsuite name="inner">
      <testcase classname="pkg.Inner" name="a"><failure/></testcase>
      <testcase classname="pkg.Inner" name="b"/>
    </testsuite>
    <testcase classname="pkg.Outer" name="c"/>
  </testsuite>
  <testsuite name="second"><testcase classname="pkg.Second" name="d"><skipped/></testcase></testsuite>
  <testsuite name="no cases"/>
  <testcase classname="pkg.Loose" name="e"><error/></testcase>
</testsuites>`;
  // Nested suites come before the enclosing suite's own cases, as in the plugin.
  assert.deepEqual(parseJunitReport(xml, "r.xml"), {
    totalCount: 5,
    failCount: 2,
    skipCount: 1,
    passCount: 2,
    failed: ["pkg.Inner.a", "pkg.Loose.e"],
  });
});

test("parseJunitReport: missing attributes (class from the suite, from a qualified name, from the file; no name)", () => {
  const xml = `<testsuites>
  <testsuite name="SuiteName"><testcase name="fromSuite"><failure/></testcase></testsuite>
  <testsuite><testcase name="com.example.Qualified.method"><failure/></testcase><testcase name="bare"><failure/></testcase><testcase><failure/></testcase><testcase classname="C" name=""><failure/></testcase></testsuite>
</testsuites>`;
  assert.deepEqual(parseJunitReport(xml, "/ws/reports/TEST-x.xml").failed, [
    "SuiteName.fromSuite",
    "com.example.Qualified.method",
    "(TEST-x.xml).bare",
    "(TEST-x.xml).(?)",
    "C.(?)",
  ]);
});

test("parseJunitReport: skipped wins over failure; a suite-level <error> is one failed test; an empty file is one failed test", () => {
  const both = `<testsuite name="S"><testcase classname="S" name="t"><skipped/><failure/></testcase></testsuite>`;
  assert.deepEqual(parseJunitReport(both, "x.xml"), { totalCount: 1, failCount: 0, skipCount: 1, passCount: 0, failed: [] });

  const suiteError = `<testsuite name="com.example.Broken" tests="0"><error message="Could not initialize class" type="java.lang.ExceptionInInitializerError"/></testsuite>`;
  assert.deepEqual(parseJunitReport(suiteError, "x.xml"), { totalCount: 1, failCount: 1, skipCount: 0, passCount: 0, failed: ["<init>.com.example.Broken"] });

  assert.deepEqual(parseJunitReport("", "/ws/target/TEST-crashed.xml"), { totalCount: 1, failCount: 1, skipCount: 0, passCount: 0, failed: ["TEST-crashed.xml.[empty]"] });
});

test("parseJunitReport: well-formed XML without tests counts nothing", () => {
  assert.deepEqual(parseJunitReport(`<?xml version="1.0"?><!-- nothing --><testsuites/>`, "a.xml"), { totalCount: 0, failCount: 0, skipCount: 0, passCount: 0, failed: [] });
  assert.deepEqual(parseJunitReport(`<project><target name="x"/></project>`, "pom.xml").totalCount, 0);
  assert.deepEqual(parseJunitReport(`<testsuite name="s"></testsuite>`, "a.xml").totalCount, 0);
});

test("parseJunitReport: entities in names are decoded; a DOCTYPE is fine", () => {
  const xml = `<?xml version="1.0"?>
<!DOCTYPE testsuite>
<testsuite name="s"><testcase classname="a.B" name="handles &lt;tags&gt; &amp; &quot;quotes&quot; &#233;"><failure/></testcase></testsuite>`;
  assert.deepEqual(parseJunitReport(xml, "a.xml").failed, ['a.B.handles <tags> & "quotes" é']);
});

test("parseJunitReport: a report that is not well-formed XML fails, naming the file and the place", () => {
  const bad = (xml: string, pattern: RegExp) =>
    assert.throws(
      () => parseJunitReport(xml, "/ws/target/TEST-bad.xml"),
      (e: unknown) => e instanceof StepError && e.message.includes("/ws/target/TEST-bad.xml") && pattern.test(e.message),
    );
  bad(`<testsuite name="s">\n  <testcase name="a">\n</testsuite>`, /line 3, column 1: .*testcase/);
  bad(`<testsuite name="s"><testcase name="a"/>`, /Unclosed tag 'testsuite'/);
  bad("this is not XML", /not well-formed XML at line 1/);
  bad("   \n", /not well-formed XML/);
  bad(`<testsuite name=s/>`, /line 1/);
});

test("parseJunitReport: a large report with many cases and long output", () => {
  const cases: string[] = [];
  for (let i = 0; i < 20_000; i++) cases.push(`<testcase classname="big.T" name="t${i}">${i % 1000 === 7 ? `<failure message="x">${"&lt;trace&gt;\n".repeat(50)}</failure>` : ""}<system-out>${"line &amp; more\n".repeat(5)}</system-out></testcase>`);
  const report = parseJunitReport(`<testsuite name="big">${cases.join("\n")}</testsuite>`, "big.xml");
  assert.equal(report.totalCount, 20_000);
  assert.equal(report.failCount, 20);
  assert.equal(report.passCount, 19_980);
  assert.equal(report.failed[0], "big.T.t7");
});

test("decodeReport: UTF-8 with and without a byte order mark, the declared encoding, UTF-16 by its mark", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><testsuite name="é"/>`;
  assert.equal(decodeReport(Buffer.from(xml, "utf8")), xml);
  assert.equal(decodeReport(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml, "utf8")])), xml);
  const latin = `<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="café"/>`;
  assert.equal(decodeReport(Buffer.from(latin, "latin1")), latin);
  const utf16 = `<?xml version="1.0" encoding="UTF-16"?><testsuite name="ü"/>`;
  assert.equal(decodeReport(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(utf16, "utf16le")])), utf16);
  // An unknown encoding name falls back to UTF-8.
  const odd = `<?xml version="1.0" encoding="x-no-such"?><a/>`;
  assert.equal(decodeReport(Buffer.from(odd)), odd);
  // Through the parser: the decoded name survives.
  assert.deepEqual(parseJunitReport(decodeReport(Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="s"><testcase classname="c" name="café"><error/></testcase></testsuite>`, "latin1")), "l.xml").failed, ["c.café"]);
});
