// Pure pieces of declarative semantics the pipeline driver needs: which post conditions run for a
// result (reference §3.3, in the fixed order of the catalogue), and how `when { branch … }` style
// patterns compare (EQUALS, GLOB, REGEXP).
import type { PostCondition } from "../catalogue.ts";
import type { Post, PostBlock } from "../declarative-model.ts";
import { RESULTS, type Result } from "./globals.ts";

const rank = (r: Result) => RESULTS.indexOf(r);

/** Whether a post condition runs, given the current result and the previous completed build's (null if none). */
export function postConditionApplies(condition: PostCondition, current: Result, previous: Result | null): boolean {
  switch (condition) {
    case "always": case "cleanup": return true;
    case "changed": return previous === null || previous !== current;
    case "fixed": return current === "SUCCESS" && (previous === "FAILURE" || previous === "UNSTABLE");
    case "regression": return previous !== null && rank(current) > rank(previous);
    case "aborted": return current === "ABORTED";
    case "success": return current === "SUCCESS";
    case "unsuccessful": return current !== "SUCCESS";
    case "unstable": return current === "UNSTABLE";
    case "failure": return current === "FAILURE";
    case "notBuilt": return current === "NOT_BUILT";
  }
}

/** The post blocks to run, in execution order (the model keeps them sorted already). */
export function postBlocksToRun(post: Post | null, current: Result, previous: Result | null): PostBlock[] {
  return (post?.blocks ?? []).filter((b) => postConditionApplies(b.condition, current, previous));
}

export type Comparator = "EQUALS" | "GLOB" | "REGEXP";

/**
 * `branch 'release/*'`, `tag 'v*'`: GLOB by default, Ant-style — `*` and `?` stay within one path
 * segment, `**` crosses `/`.
 */
export function patternMatches(pattern: string, actual: string | null, comparator: Comparator = "GLOB"): boolean {
  if (actual === null) return false;
  if (comparator === "EQUALS") return pattern === actual;
  if (comparator === "REGEXP") return new RegExp(`^(?:${pattern})$`).test(actual);
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") { re += ".*"; i++; }
    else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(actual);
}
