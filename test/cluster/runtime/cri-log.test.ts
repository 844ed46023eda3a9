import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CriLogWriter, MAX_LOG_ENTRY_BYTES, formatTimestamp, parseCriLogLine, parseTimestamp } from "../../../src/cluster/runtime/cri-log.ts";
import { tempDir } from "./helpers.ts";

async function writeLog(write: (out: NodeJS.WritableStream, err: NodeJS.WritableStream) => void): Promise<string[]> {
  const path = join(tempDir("berth-crilog-"), "c", "0.log");
  const writer = new CriLogWriter(path);
  const out = writer.stream("stdout");
  const err = writer.stream("stderr");
  write(out, err);
  out.end();
  err.end();
  await writer.whenClosed();
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

test("each line becomes a timestamped entry tagged with its stream", async () => {
  const lines = await writeLog((out, err) => {
    out.write("hello\nwor");
    out.write("ld\n");
    err.write("oops\n");
  });
  assert.equal(lines.length, 3);
  assert.match(lines[0] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F hello$/);
  assert.match(lines[1] as string, / stdout F world$/);
  assert.match(lines[2] as string, / stderr F oops$/);
});

test("output without a final newline stays partial, long lines are split into partial entries", async () => {
  const long = "x".repeat(MAX_LOG_ENTRY_BYTES + 10);
  const lines = await writeLog((out) => {
    out.write(`${long}\n`);
    out.write("no newline");
  });
  assert.deepEqual(
    lines.map((line) => parseCriLogLine(line)).map((entry) => [entry?.partial, entry?.content.length]),
    [
      [true, MAX_LOG_ENTRY_BYTES],
      [false, 10],
      [true, "no newline".length],
    ],
  );
});

test("timestamps round-trip with nanoseconds and never go backwards", async () => {
  const lines = await writeLog((out) => {
    for (let i = 0; i < 50; i++) out.write(`${i}\n`);
  });
  const times = lines.map((line) => parseCriLogLine(line)?.timeNs as bigint);
  for (let i = 1; i < times.length; i++) assert.ok((times[i] as bigint) >= (times[i - 1] as bigint));
  assert.equal(formatTimestamp(1_700_000_000_123_456_789n), "2023-11-14T22:13:20.123456789Z");
  assert.equal(parseTimestamp("2023-11-14T22:13:20.123456789Z"), 1_700_000_000_123_456_789n);
  assert.equal(parseTimestamp("2023-11-14T23:13:20.5+01:00"), 1_700_000_000_500_000_000n);
});

test("malformed lines are rejected by the parser", () => {
  assert.equal(parseCriLogLine("garbage"), undefined);
  assert.equal(parseCriLogLine("2023-11-14T22:13:20Z stdin F x"), undefined);
  assert.equal(parseCriLogLine("2023-11-14T22:13:20Z stdout F ")?.content.length, 0);
});
