// junit: records JUnit XML test reports from the pod's workspace, as the JUnit plugin's step does. The
// reports are the files that the comma-separated Ant patterns of `testResults` select under the step's
// working directory (Ant's default excludes apply, case-sensitive, symbolic links followed); they travel as
// one tar stream from the agent container (see transfer.ts) and are parsed one at a time as they arrive, so
// only a single report is ever held in memory. Counting follows the plugin: every <testcase> is one test,
// found in a <testsuite> at any depth (nested suites, a <testsuites> root or none); it is skipped if it has
// <skipped>, else failed if it has <failure> or <error>, else passed. A suite's own <error> (its class did
// not load) is one failed test `<init>.<suite>`, and an empty report file one failed test `<file>.[empty]`.
// Suite counts in attributes (tests=, failures=) are ignored, as the plugin ignores them.
//
// No matching file fails the step ("No test report files were found. Configuration error?"), and so do
// reports without any test ("None of the test reports contained any result"), unless allowEmptyResults. A
// report that is not well-formed XML fails the step with the file's path and the place of the error.
// The step returns the counts; the caller marks the build UNSTABLE when `markUnstable` (some test failed
// and skipMarkingBuildUnstable is not set). keepLongStdio is accepted and ignored: output is not kept.
import { posix } from "node:path";
import { TextDecoder } from "node:util";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { BuildLog } from "../controller/provisioner.ts";
import type { FileContext } from "./files.ts";
import { FilePatterns, splitPatterns } from "./patterns.ts";
import { StepError } from "./sh.ts";
import { TarEntries, listMatching, packFiles } from "./transfer.ts";

export interface JunitOptions {
  testResults: string;
  allowEmptyResults?: boolean;
  skipMarkingBuildUnstable?: boolean;
  keepLongStdio?: boolean;
}

export interface JunitSummary {
  totalCount: number;
  failCount: number;
  skipCount: number;
  passCount: number;
  markUnstable: boolean;
}

/** What one report file holds: its counts and the full names (`class.test`) of its failed tests. */
export interface JunitReport {
  totalCount: number;
  failCount: number;
  skipCount: number;
  passCount: number;
  failed: string[];
}

export const NO_REPORTS_MESSAGE = "No test report files were found. Configuration error?";
export const EMPTY_RESULT_MESSAGE = "None of the test reports contained any result";

/** A report larger than this is refused rather than read into memory. */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

/** Records the reports that `testResults` selects; see the header of this file. */
export async function junit(ctx: FileContext & { log: BuildLog }, options: JunitOptions): Promise<JunitSummary> {
  const includes = splitPatterns(options.testResults);
  if (includes.length === 0) throw new StepError("junit: no testResults pattern given");
  ctx.log.line("Recording test results");
  const files = await listMatching(ctx, new FilePatterns(includes, []), { defaultExcludes: true, step: "junit" });
  if (files.length === 0 && !options.allowEmptyResults) throw new StepError(NO_REPORTS_MESSAGE);

  const total: JunitReport = { totalCount: 0, failCount: 0, skipCount: 0, passCount: 0, failed: [] };
  if (files.length > 0) {
    const reading = reportReader(ctx.cwd, (report) => {
      total.totalCount += report.totalCount;
      total.failCount += report.failCount;
      total.skipCount += report.skipCount;
      total.passCount += report.passCount;
      for (const name of report.failed) total.failed.push(name);
    });
    try {
      await packFiles(ctx, files, { dereference: true, step: "junit" }, (data) => reading.write(data));
    } finally {
      await reading.end();
    }
  }

  if (total.totalCount === 0) {
    if (!options.allowEmptyResults) throw new StepError(EMPTY_RESULT_MESSAGE);
    ctx.log.line(EMPTY_RESULT_MESSAGE);
    return { totalCount: 0, failCount: 0, skipCount: 0, passCount: 0, markUnstable: false };
  }
  ctx.log.line(`Tests: ${total.totalCount}, failures: ${total.failCount}, skipped: ${total.skipCount}`);
  for (const name of total.failed) ctx.log.line(`FAILED: ${name}`);
  return {
    totalCount: total.totalCount,
    failCount: total.failCount,
    skipCount: total.skipCount,
    passCount: total.passCount,
    markUnstable: total.failCount > 0 && !options.skipMarkingBuildUnstable,
  };
}

// ---------------------------------------------------------------------------------------------------
// Parsing one report (pure).

/** An element as fast-xml-parser gives it with preserveOrder: `{ name: children, ":@": attributes }`. */
type OrderedNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 1000,
  // Only the names of suites and cases are used: their entities are decoded below, numeric ones included
  // (the parser would leave those as they are); the text of output and stack traces is never looked at.
  processEntities: false,
});

function tagOf(node: OrderedNode): string | undefined {
  for (const key of Object.keys(node)) if (key !== ":@" && key !== "#text" && key !== "#comment" && key !== "#cdata") return key;
  return undefined;
}

function childrenOf(node: OrderedNode, tag: string): OrderedNode[] {
  const children = node[tag];
  return Array.isArray(children) ? (children as OrderedNode[]) : [];
}

const PREDEFINED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** XML's predefined entities and character references; anything else is left as written. */
function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z]+));/g, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return PREDEFINED_ENTITIES[name] ?? whole;
    const code = hex !== undefined ? Number.parseInt(hex, 16) : Number(dec);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
  });
}

function attribute(node: OrderedNode, name: string): string | undefined {
  const attributes = node[":@"] as Record<string, unknown> | undefined;
  const value = attributes?.[name];
  return value === undefined || value === null ? undefined : decodeEntities(String(value));
}

interface Element {
  tag: string;
  node: OrderedNode;
}

function elements(children: OrderedNode[]): Element[] {
  const out: Element[] = [];
  for (const node of children) {
    const tag = tagOf(node);
    if (tag !== undefined) out.push({ tag, node });
  }
  return out;
}

/**
 * Counts the tests of one JUnit XML report. `file` names the report in errors (and, by its last part,
 * the tests of a suite without a name). Throws a StepError when the text is not well-formed XML.
 */
export function parseJunitReport(xml: string, file: string): JunitReport {
  const report: JunitReport = { totalCount: 0, failCount: 0, skipCount: 0, passCount: 0, failed: [] };
  const fileName = posix.basename(file.replaceAll("\\", "/"));
  const record = (name: string, status: "passed" | "failed" | "skipped") => {
    report.totalCount++;
    if (status === "skipped") report.skipCount++;
    else if (status === "failed") {
      report.failCount++;
      report.failed.push(name);
    } else report.passCount++;
  };
  if (xml.length === 0) {
    // Typically a test JVM that died while writing it: the plugin counts one failed test.
    record(`${fileName}.[empty]`, "failed");
    return report;
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new StepError(`junit: failed to read test report ${file}: not well-formed XML at line ${line}${col !== undefined ? `, column ${col}` : ""}: ${msg}`);
  }
  let document: OrderedNode[];
  try {
    document = parser.parse(xml) as OrderedNode[];
  } catch (e) {
    throw new StepError(`junit: failed to read test report ${file}: ${(e as Error).message}`);
  }
  const root = elements(document)[0];
  if (root) parseSuite(root, fileName, record);
  return report;
}

/** As the plugin's SuiteResult.parseSuite: nested suites first, then the element's own test cases. */
function parseSuite(suite: Element, fileName: string, record: (name: string, status: "passed" | "failed" | "skipped") => void): void {
  const children = elements(childrenOf(suite.node, suite.tag));
  for (const child of children) if (child.tag === "testsuite") parseSuite(child, fileName, record);
  const cases = children.filter((c) => c.tag === "testcase");
  const suiteError = children.some((c) => c.tag === "error");
  if (cases.length === 0 && !suiteError) return;
  const suiteName = attribute(suite.node, "name");
  if (suiteError) record(`<init>.${suiteName || "(?)"}`, "failed");
  for (const testCase of cases) {
    let className = attribute(testCase.node, "classname") ?? suiteName;
    let name = attribute(testCase.node, "name") ?? "";
    if (className === undefined) {
      // Some tools write the qualified name into `name` alone.
      const dot = name.lastIndexOf(".");
      if (dot >= 0) {
        className = name.slice(0, dot);
        name = name.slice(dot + 1);
      } else className = `(${fileName})`;
    }
    const fullName = `${className}.${name === "" ? "(?)" : name}`;
    const inner = new Set(elements(childrenOf(testCase.node, testCase.tag)).map((c) => c.tag));
    record(fullName, inner.has("skipped") ? "skipped" : inner.has("failure") || inner.has("error") ? "failed" : "passed");
  }
}

/**
 * Decodes a report's bytes: a byte order mark, else the encoding its XML declaration names, else UTF-8
 * (malformed bytes become U+FFFD rather than failing the report).
 */
export function decodeReport(bytes: Uint8Array): string {
  const b = bytes;
  if (b[0] === 0xfe && b[1] === 0xff) return new TextDecoder("utf-16be").decode(b);
  if (b[0] === 0xff && b[1] === 0xfe) return new TextDecoder("utf-16le").decode(b);
  const head = Buffer.from(b.subarray(0, 200)).toString("latin1");
  const declared = /^(?:\xEF\xBB\xBF)?<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1];
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(declared ?? "utf-8");
  } catch {
    decoder = new TextDecoder("utf-8");
  }
  return decoder.decode(b);
}

// ---------------------------------------------------------------------------------------------------
// Reading reports from the tar stream.

/** Parses the regular files of packFiles' tar stream as reports, one at a time, as the stream comes. */
function reportReader(cwd: string, onReport: (report: JunitReport) => void): TarEntries {
  // Reports by path, for a file that tar sends again as a hard link to one already sent.
  const seen = new Map<string, JunitReport>();
  return new TarEntries("junit", async (entry) => {
    const { type, name, size, linkname } = entry.header;
    const path = name.replace(/^(\.\/)+/, "");
    if (type === "link") {
      entry.resume();
      const report = seen.get(linkname.replace(/^(\.\/)+/, ""));
      if (report) {
        seen.set(path, report);
        onReport(report);
      }
      return;
    }
    if (type !== "file" && type !== "contiguous-file") {
      entry.resume(); // a followed link to a directory, a device: not reports
      return;
    }
    const file = posix.join(cwd, path);
    if (size > MAX_REPORT_BYTES) throw new StepError(`junit: test report ${file} is too large to read (${size} bytes)`);
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk);
    const report = parseJunitReport(decodeReport(Buffer.concat(chunks)), file);
    seen.set(path, report);
    onReport(report);
  });
}
