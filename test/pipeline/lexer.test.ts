// The lexer's context rules: strings and their escapes, GString holes, newlines, regex versus division.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lex } from "../../src/pipeline/lexer.ts";

const kinds = (src: string) => lex("t", src).tokens.map((t) => (t.kind === "op" || t.kind === "keyword" || t.kind === "ident" ? t.text : t.kind));
const first = (src: string) => lex("t", src).tokens[0]!;
const errors = (src: string) => lex("t", src).diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);

test("single and triple single quotes are plain strings with Groovy escapes, \\$ included", () => {
  assert.equal(first("'a\\tb\\n\\'c\\\\'").value, "a\tb\n'c\\");
  assert.equal(first("'''\\\nline1\n\\$(JENKINS_SECRET)'''").value, "line1\n$(JENKINS_SECRET)");
  assert.equal(first("'${computer.name}'").value, "${computer.name}"); // single quotes never interpolate
  assert.equal(first("'\\u0041\\101'").value, "AA");
});

test("double quotes interpolate ${expr} and $a.b paths; \\$ is a literal dollar", () => {
  const t = first('"x ${a + 1} $b.c.d. \\$HOME"');
  assert.equal(t.kind, "gstring");
  const parts = t.parts!;
  assert.deepEqual(parts.map((p) => p.kind), ["text", "code", "text", "code", "text"]);
  const text = (i: number) => { const p = parts[i]!; return p.kind === "text" ? p.value : null; };
  assert.equal(text(2), " ");
  assert.equal(text(4), ". $HOME");
  const path = parts[3]!;
  assert.deepEqual(path.kind === "code" && path.tokens.map((x) => x.text), ["b", ".", "c", ".", "d", ""]);
  assert.equal(first('"no holes"').kind, "string");
});

test("holes hold full expressions, strings with their own quotes included", () => {
  const t = first('"${tool "jdk17"}/bin"');
  const hole = t.parts![0]!;
  assert.deepEqual(hole.kind === "code" && hole.tokens.map((x) => x.kind), ["ident", "string", "eof"]);
});

test("triple double quotes span lines and keep positions of later tokens right", () => {
  const { tokens } = lex("t", 'x = """\na\n${b}\n"""\ny');
  const y = tokens.find((t) => t.text === "y")!;
  assert.equal(y.line, 5);
  assert.equal(y.column, 1);
});

test("newlines separate statements except inside ( ) and [ ], but count again inside { } within them", () => {
  assert.deepEqual(kinds("a\nb"), ["a", "nl", "b", "nl", "eof"]);
  assert.deepEqual(kinds("f(a,\nb)"), ["f", "(", "a", ",", "b", ")", "nl", "eof"]);
  assert.deepEqual(kinds("[1,\n2]"), ["[", "number", ",", "number", "]", "nl", "eof"]);
  assert.deepEqual(kinds("f({\na\n})"), ["f", "(", "{", "nl", "a", "nl", "}", ")", "nl", "eof"]);
});

test("slash is a regex after an operator and division after a value", () => {
  assert.deepEqual(kinds("a / b"), ["a", "/", "b", "nl", "eof"]);
  const re = lex("t", "x ==~ /^\\d+\\/x$/").tokens[2]!;
  assert.equal(re.kind, "string");
  assert.equal(re.value, "^\\d+/x$");
  assert.equal(lex("t", "def r = $/a\\b$$/$").tokens[3]!.value, "a\\b$");
});

test("comments and a shebang are skipped; identifiers may hold $ ($class)", () => {
  assert.deepEqual(kinds("#!/usr/bin/env groovy\na // c\n/* x\ny */ b"), ["a", "nl", "b", "nl", "eof"]);
  assert.deepEqual(kinds("[$class: 'GitSCM']"), ["[", "$class", ":", "string", "]", "nl", "eof"]);
});

test("numbers: ints, decimals, suffixes, ranges", () => {
  assert.deepEqual(kinds("1..3"), ["number", "..", "number", "nl", "eof"]);
  assert.equal(first("10L").text, "10L");
  assert.equal(first("1.5e3").text, "1.5e3");
});

test("lexical errors carry line:column and what to write instead", () => {
  assert.deepEqual(errors('x = "cost $5"'), ['1:11: \'$\' in a "…" string must start ${expression} or $name — write \\$ for a literal dollar sign']);
  assert.deepEqual(errors("x = '\\d'"), ["1:6: unknown escape '\\d' in string — write '\\\\d' for a backslash followed by 'd'"]);
  assert.deepEqual(errors("x = 'abc\ny'"), ["1:5: unterminated string — expected closing ' before the end of the line (use ''' for several lines)"]);
  assert.deepEqual(errors('sh """\nabc'), ['1:4: unterminated string — expected closing """']);
  assert.deepEqual(errors("a ` b"), ["1:3: unexpected character '`'"]);
  assert.deepEqual(errors('"${a'), ["1:5: unterminated '${' in string — expected '}'"]);
});

test("CRLF line endings and a byte-order mark are accepted", () => {
  assert.deepEqual(kinds("\uFEFFa\r\nb"), ["a", "nl", "b", "nl", "eof"]);
  assert.deepEqual(errors("\uFEFF#!groovy\r\nnode {\r\n}\r\n"), []);
});
