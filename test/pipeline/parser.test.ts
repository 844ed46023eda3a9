// One test per construct of the Jenkinsfile Groovy subset, and one per kind of syntax error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse, parseOrThrow } from "../../src/pipeline/parser.ts";
import { PipelineSyntaxError, formatDiagnostic } from "../../src/pipeline/diagnostics.ts";
import { show } from "./show.ts";

/** The script's statements in the compact form, one string per statement. */
const p = (src: string) => {
  const { script, diagnostics } = parse("Jenkinsfile", src);
  assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  return script.body.map(show);
};
const one = (src: string) => p(src)[0];
const errs = (src: string) => parse("Jenkinsfile", src).diagnostics.map(formatDiagnostic);

test("command calls without parentheses: positional, several, named, chained", () => {
  assert.equal(one("sh 'x'"), 'sh("x")ᶜ');
  assert.equal(one('echo "a"'), 'echo("a")ᶜ');
  assert.equal(one("agent any"), "agent(any)ᶜ");
  assert.equal(one("values 'a', 'b'"), 'values("a", "b")ᶜ');
  assert.equal(one("git branch: 'main', url: 'u'"), 'git("branch": "main", "url": "u")ᶜ');
  assert.equal(one("sh returnStatus: true,\n   script: 'x'"), 'sh("returnStatus": true, "script": "x")ᶜ');
  assert.equal(one("buildDiscarder logRotator(numToKeepStr: '5')"), 'buildDiscarder(logRotator("numToKeepStr": "5"))ᶜ');
  assert.equal(one("x = tool 'jdk'"), '(x = tool("jdk")ᶜ)');
  assert.equal(one("def y = load 'f.groovy'"), 'def y = load("f.groovy")ᶜ');
  assert.equal(one("please show the 'x'"), 'please(show)ᶜ.the("x")ᶜ');
  assert.equal(one("containerLog name: 'mongo', returnLog: true"), 'containerLog("name": "mongo", "returnLog": true)ᶜ');
});

test("trailing closures attach to calls on the same line, and at statement start also from the next line (Groovy 2.4)", () => {
  assert.equal(one("node(POD_LABEL) { sh 'x' }"), 'node(POD_LABEL, {sh("x")ᶜ})');
  assert.equal(one("container('maven') {\n  sh 'mvn -v'\n}"), 'container("maven", {sh("mvn -v")ᶜ})');
  assert.equal(one("stages { }"), "stages({})");
  assert.equal(one("timeout(time: 5, unit: 'MINUTES') { sh 'x' }"), 'timeout("time": 5, "unit": "MINUTES", {sh("x")ᶜ})');
  assert.equal(one("retry 3 { echo 'x' }"), 'retry(3, {echo("x")ᶜ})ᶜ');
  assert.deepEqual(p("foo()\n{ bar }"), ["foo({bar})"]);
  assert.deepEqual(p("node('linux')\n\n{\n  sh 'x'\n}\npipeline\n{ }\na.b(1)\n{ }"), ['node("linux", {sh("x")ᶜ})', "pipeline({})", "a.b(1, {})"]);
  // not after a command call, and not in the middle of an expression
  assert.deepEqual(p("foo 'x'\n{ bar }"), ['foo("x")ᶜ', "{bar}"]);
  assert.deepEqual(p("x = 1 + foo()\n{ bar }"), ["(x = (1 + foo()))", "{bar}"]);
  assert.equal(one("podTemplate(label: l, containers: [\n  containerTemplate(name: 'm', image: 'i'),\n]) {\n node(l) { }\n}"),
    'podTemplate("label": l, "containers": [containerTemplate("name": "m", "image": "i")], {node(l, {})})');
  assert.equal(one("parallel a: { sh 'x' }, b: { sh 'y' }, failFast: true"), 'parallel("a": {sh("x")ᶜ}, "b": {sh("y")ᶜ}, "failFast": true)ᶜ');
});

test("strings: GStrings with ${expr}, $name and $a.b; triple quotes; slashy", () => {
  assert.equal(one('x = "mypod-${UUID.randomUUID().toString()}"'), '(x = gs("mypod-" UUID.randomUUID().toString()))');
  assert.equal(one('echo "$a.b and ${c}"'), 'echo(gs(a.b " and " c))ᶜ');
  assert.equal(one('sh """\necho \\$HOME ${env.X}\n"""'), 'sh(gs("\\necho $HOME " env.X "\\n"))ᶜ');
  assert.equal(one("yaml '''\napiVersion: v1\n'''"), 'yaml("\\napiVersion: v1\\n")ᶜ');
  assert.equal(one('x = "${tool \'jdk\'}/bin"'), '(x = gs(tool("jdk")ᶜ "/bin"))');
  assert.equal(one("x = /a\\/b/"), '(x = "a/b")');
  assert.equal(one('echo "${}"'), "echo(gs(null))ᶜ");
});

test("declarations: def, typed, several, uninitialised, destructuring, generics, arrays", () => {
  assert.equal(one("def x = 1"), "def x = 1");
  assert.equal(one("def x"), "def x");
  assert.equal(one("String s = 'a', t"), 'String s = "a", t');
  assert.equal(one("Map<String, List<String>> m = [:]"), "Map<String,List<String>> m = [:]");
  assert.equal(one("int n = 2"), "int n = 2");
  assert.equal(one("String[] parts = []"), "String[] parts = []");
  assert.equal(one("def (a, b) = pair()"), "def (a, b) = pair()");
  assert.equal(one("final def x = 1"), "def x = 1");
  assert.equal(one("hudson.model.Result r = null"), "hudson.model.Result r = null");
});

test("lists, maps, empty map, computed and quoted keys, $class, trailing commas", () => {
  assert.equal(one("x = [1, 'a', [2]]"), '(x = [1, "a", [2]])');
  assert.equal(one("x = [a: 1, 'b': 2, (k): 3, 4: 'four']"), '(x = ["a": 1, "b": 2, k: 3, 4: "four"])');
  assert.equal(one("x = [:]"), "(x = [:])");
  assert.equal(one("x = []"), "(x = [])");
  assert.equal(one("checkout([$class: 'GitSCM', branches: [[name: 'main']],\n])"), 'checkout(["$class": "GitSCM", "branches": [["name": "main"]]])');
  assert.equal(one("x = [\n  1,\n  2,\n]"), "(x = [1, 2])");
});

test("closures: params, typed params, defaults, explicit no-params, implicit it", () => {
  assert.equal(one("list.each { item -> echo item }"), "list.each({item -> echo(item)ᶜ})");
  assert.equal(one("m.each { k, v -> }"), "m.each({k, v -> })");
  assert.equal(one("c = { String a, b = 2 -> a }"), "(c = {String a, b=2 -> a})");
  assert.equal(one("c = { -> 1 }"), "(c = { -> 1})");
  assert.equal(one("[1, 2].collect { it * 2 }"), "[1, 2].collect({(it * 2)})");
  assert.equal(one("branches[\"b${i}\"] = { node { sh 'x' } }"), '(branches[gs("b" i)] = {node({sh("x")ᶜ})})');
  assert.equal(one("closures[0]()"), "closures[0].call()");
});

test("method definitions: def/void/typed, defaults, annotations, modifiers; script order does not matter", () => {
  assert.deepEqual(p("f()\ndef f(a, b = 1) { return a }"), ["f()", "def f(a, b=1) {return a}"]);
  assert.equal(one("void go() { }"), "void go() {}");
  assert.equal(one("public void dockerTemplate(body) {\n body()\n}"), "void dockerTemplate(body) {body()}");
  assert.equal(one("@NonCPS\nString f(String s) { s }"), "@NonCPS String f(String s) {s}");
  assert.equal(one("boolean isMain() { env.BRANCH_NAME == 'main' }"), 'boolean isMain() {(env.BRANCH_NAME == "main")}');
});

test("control flow: if/else if/else, for-in, classic for, while, switch, break/continue", () => {
  assert.equal(one("if (a) { b() } else if (c) d() else { e() }"), "if a {b()} else if c d() else {e()}");
  assert.equal(one("if (a) {\n b()\n}\nelse {\n c()\n}"), "if a {b()} else {c()}");
  assert.equal(one("for (x in xs) { echo x }"), "for x in xs {echo(x)ᶜ}");
  assert.equal(one("for (String x : xs) echo x"), "for String x in xs echo(x)ᶜ");
  assert.equal(one("for (int i = 0; i < 3; i++) { continue }"), "for (int i = 0; (i < 3); (i++)) {continue}");
  assert.equal(one("while (n > 0) { n-- ; break }"), "while (n > 0) {(n--); break}");
  assert.equal(one("switch (x) {\n case 'a':\n case 'b': echo 'ab'; break\n default:\n echo 'd'\n}"),
    'switch x {"a"|"b": echo("ab")ᶜ; break default: echo("d")ᶜ}');
});

test("try/catch/finally, multi-catch, throw, return, assert", () => {
  assert.equal(one("try {\n sh 'x'\n} catch (Exception e) {\n throw e\n} finally {\n echo 'f'\n}"), 'try {sh("x")ᶜ} catch (Exception e) {throw e} finally {echo("f")ᶜ}');
  assert.equal(one("try { a() }\ncatch (e) { }\ncatch (IOException | hudson.AbortException x) { }"), "try {a()} catch (e) {} catch (IOException hudson.AbortException x) {}");
  assert.equal(one("throw new Exception('no')"), 'throw new Exception("no")');
  assert.deepEqual(p("return\nreturn this"), ["return ∅", "return this"]);
  assert.equal(one("assert x == 1 : 'x must be 1'"), 'assert (x == 1) : "x must be 1"');
});

test("operators: precedence, ternary, elvis, safe navigation, spread, ranges, regex, in, as, instanceof", () => {
  assert.equal(one("x = a + b * c - d"), "(x = ((a + (b * c)) - d))");
  assert.equal(one("x = a || b && !c"), "(x = (a || (b && (!c))))");
  assert.equal(one("x = a ? b : c ?: d"), "(x = (a ? b : (c ?: d)))");
  assert.equal(one("x = a?.b?.c()"), "(x = a?.b?.c())");
  assert.equal(one("x = list*.name"), "(x = list*.name)");
  assert.equal(one("x = 0..<n"), "(x = (0..<n))");
  assert.equal(one("x = 'abc'[0..1]"), '(x = "abc"[(0..1)])');
  assert.equal(one("x = v ==~ /\\d+/ && (v =~ /a/)"), '(x = ((v ==~ "\\\\d+") && (v =~ "a")))');
  assert.equal(one("x = a in ['a'] as List"), '(x = ((a in ["a"]) as List))');
  assert.equal(one("x = e instanceof hudson.AbortException"), "(x = (e instanceof hudson.AbortException))");
  assert.equal(one("x = -2 ** 2"), "(x = (-(2 ** 2)))");
  assert.equal(one("list << 'x'"), '(list << "x")');
  assert.equal(one("n += 1"), "(n += 1)");
  assert.equal(one("x = (String) y"), "(x = (y as String))");
  assert.equal(one("x = env.BRANCH_NAME?.toLowerCase()\n  .trim()"), "(x = env.BRANCH_NAME?.toLowerCase().trim())");
  assert.equal(one("currentBuild.result = 'FAILURE'"), '(currentBuild.result = "FAILURE")');
});

test("new, imports, package, @Library, shebang, comments", () => {
  assert.deepEqual(
    p("#!/usr/bin/env groovy\n@Library('lib@1.0') _\npackage a.b\nimport groovy.json.JsonSlurperClassic\nimport static x.Y.z\nimport a.*\n// c\n/* d */ x = new groovy.json.JsonSlurperClassic().parseText(t)"),
    ['@Library("lib@1.0") _', "package a.b", "import groovy.json.JsonSlurperClassic", "import static x.Y.z", "import a.*", "(x = new groovy.json.JsonSlurperClassic().parseText(t))"],
  );
});

test("every node knows its line and column", () => {
  const { script } = parse("J", "node {\n  sh 'a'\n    echo \"${x}\"\n}");
  const call = script.body[0]!;
  assert.equal(call.kind === "ExpressionStatement" && call.expression.kind === "Call" && call.expression.closure?.body[1]?.column, 5);
  const echo = call.kind === "ExpressionStatement" && call.expression.kind === "Call" ? call.expression.closure!.body[1]! : null;
  assert.equal(echo?.line, 3);
  const x = echo?.kind === "ExpressionStatement" && echo.expression.kind === "Call" ? echo.expression.args[0] : null;
  const hole = x?.kind === "GString" ? x.parts[0] : null;
  assert.deepEqual(hole && typeof hole !== "string" ? [hole.line, hole.column] : null, [3, 13]);
});

test("syntax errors: file:line:column, the offending text and what was expected", () => {
  assert.deepEqual(errs("node {\n  sh 'x'\n}\n}"), ["Jenkinsfile:4:1: unexpected '}' — expected a statement (this '}' closes nothing)"]);
  assert.deepEqual(errs("node {\n  x = \n}"), ["Jenkinsfile:3:1: unexpected '}' — expected an expression"]);
  assert.deepEqual(errs("node {\n sh 'x'\n"), ["Jenkinsfile:3:1: unexpected end of file — expected '}' to close the block opened at line 1"]);
  assert.deepEqual(errs("foo(a b)"), ["Jenkinsfile:1:7: unexpected 'b' — expected ',' or ')' in the argument list"]);
  assert.deepEqual(errs("if x { }"), ["Jenkinsfile:1:4: unexpected 'x' — expected '('"]);
  assert.deepEqual(errs("try { }"), ["Jenkinsfile:1:8: unexpected end of line — expected 'catch' or 'finally' after the try block"]);
  assert.deepEqual(errs("x = a ? b"), ["Jenkinsfile:1:10: unexpected end of file — expected ':' in the ternary expression (a ? b : c)"]);
  assert.deepEqual(errs("1 = x"), ["Jenkinsfile:1:3: cannot assign to this expression — '=' needs a variable, property or index on its left"]);
  assert.deepEqual(errs("sh 'a' 'b'"), ["Jenkinsfile:1:8: unexpected string 'b' — expected end of statement (a new line or ';')"]);
});

test("unsupported constructs are named, with what to write instead", () => {
  assert.deepEqual(errs("class Foo { }"), ["Jenkinsfile:1:1: 'class' definitions are not supported in a Jenkinsfile — use methods and maps (shared-library src/ classes are not supported)"]);
  assert.deepEqual(errs("do { x() } while (y)"), ["Jenkinsfile:1:1: 'do … while' is Groovy 3 syntax (Jenkins runs Groovy 2.4) — use 'while'"]);
  assert.deepEqual(errs("x = a === b"), ["Jenkinsfile:1:7: '===' is Groovy 3 syntax (Jenkins runs Groovy 2.4) — use '==' or is()"]);
  assert.deepEqual(errs("f = (a) -> a"), ["Jenkinsfile:1:9: lambdas '(x) -> …' are Groovy 3 syntax (Jenkins runs Groovy 2.4) — use a closure { x -> … }"]);
  assert.deepEqual(errs("x = this.&foo"), ["Jenkinsfile:1:9: method pointers '.&' are not supported — use a closure"]);
  assert.deepEqual(errs("x = new String[3]"), ["Jenkinsfile:1:15: array creation 'new T[n]' is not supported — use a list literal [ ]"]);
  assert.deepEqual(errs("stages { ... }"), ["Jenkinsfile:1:10: '...' is not Groovy (documentation elides code with it; write the code out)"]);
});

test("errors in several statements are all reported; parsing recovers at the next statement", () => {
  assert.deepEqual(errs("node {\n  sh 'a' 'b'\n  echo 'ok'\n  def = 3\n  y(1 2)\n}\necho 'after'"), [
    "Jenkinsfile:2:10: unexpected string 'b' — expected end of statement (a new line or ';')",
    "Jenkinsfile:4:7: unexpected '=' — expected a variable or method name",
    "Jenkinsfile:5:7: unexpected '2' — expected ',' or ')' in the argument list",
  ]);
  const { script } = parse("J", "node {\n  sh 'a' 'b'\n  echo 'ok'\n}\necho 'after'");
  assert.deepEqual(script.body.map(show), ['node({echo("ok")ᶜ})', 'echo("after")ᶜ']);
});

test("parseOrThrow refuses a broken file before anything could run", () => {
  assert.throws(() => parseOrThrow("J", "sh 'a' 'b'"), (e: unknown) => e instanceof PipelineSyntaxError && e.diagnostics.length === 1);
  assert.equal(parseOrThrow("J", "sh 'a'").body.length, 1);
});
