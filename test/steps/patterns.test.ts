import { test } from "node:test";
import assert from "node:assert/strict";
import { FilePatterns, splitPatterns } from "../../src/steps/patterns.ts";

const files = [
  "a.jar",
  "target/app.jar",
  "target/app.war",
  "target/classes/A.class",
  "target/deep/er/x.jar",
  "README.md",
  "readme.txt",
  "src/main.c",
  "src/.git/config",
  ".git/HEAD",
  ".gitignore",
  "docs/notes.txt~",
  "x1.log",
  "x22.log",
];

function select(includes: string, excludes = "", options = {}): string[] {
  const patterns = new FilePatterns(splitPatterns(includes), splitPatterns(excludes), options);
  return files.filter((f) => patterns.matches(f));
}

test("Ant patterns: **, *, ?, trailing /, comma lists, excludes", () => {
  assert.deepEqual(select("**/*.jar"), ["a.jar", "target/app.jar", "target/deep/er/x.jar"]);
  assert.deepEqual(select("*.jar"), ["a.jar"]);
  assert.deepEqual(select("target/*.jar, target/*.war"), ["target/app.jar", "target/app.war"]);
  assert.deepEqual(select("target/"), ["target/app.jar", "target/app.war", "target/classes/A.class", "target/deep/er/x.jar"]);
  assert.deepEqual(select("target/**/*.jar"), ["target/app.jar", "target/deep/er/x.jar"]);
  assert.deepEqual(select("x?.log"), ["x1.log"]);
  assert.deepEqual(select("target\\*.war"), ["target/app.war"]);
  assert.deepEqual(select("./src/*"), ["src/main.c"]);
  assert.deepEqual(select("target/**", "**/*.class,**/deep/"), ["target/app.jar", "target/app.war"]);
  // A directory name alone matches the directory, not its files (as in Ant).
  assert.deepEqual(select("target"), []);
});

test("Ant patterns: case sensitivity and default excludes", () => {
  assert.deepEqual(select("readme.*"), ["readme.txt"]);
  assert.deepEqual(select("readme.*", "", { caseSensitive: false }), ["README.md", "readme.txt"]);
  assert.deepEqual(select("**"), ["a.jar", "target/app.jar", "target/app.war", "target/classes/A.class", "target/deep/er/x.jar", "README.md", "readme.txt", "src/main.c", "x1.log", "x22.log"]);
  assert.deepEqual(select("**/.git*/**, .git*, docs/**", "", { defaultExcludes: false }), ["src/.git/config", ".git/HEAD", ".gitignore", "docs/notes.txt~"]);
});
