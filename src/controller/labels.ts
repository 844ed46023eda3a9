// Jenkins label expressions (`maven && !windows`, `linux || (docker && x86)`) and which templates serve a
// request: a template serves a label expression that its label atoms satisfy; a NORMAL template also
// serves requests with no label (reference §6.1).
import type { PodTemplate } from "../templates/model.ts";

export type LabelExpression =
  | { kind: "atom"; name: string }
  | { kind: "not"; operand: LabelExpression }
  | { kind: "and" | "or" | "implies" | "iff"; left: LabelExpression; right: LabelExpression };

export class LabelExpressionError extends Error {}

const OPERATORS = ["<->", "->", "&&", "||", "!", "(", ")"];

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  const operatorAt = (at: number) => OPERATORS.find((op) => expression.startsWith(op, at));
  while (i < expression.length) {
    if (/\s/.test(expression[i]!)) {
      i++;
      continue;
    }
    const op = operatorAt(i);
    if (op) {
      tokens.push(op);
      i += op.length;
    } else if (expression[i] === '"') {
      const end = expression.indexOf('"', i + 1);
      if (end < 0) throw new LabelExpressionError(`label expression '${expression}': unclosed quote at column ${i + 1}`);
      tokens.push(expression.slice(i, end + 1));
      i = end + 1;
    } else {
      const start = i;
      while (i < expression.length && !/\s/.test(expression[i]!) && !operatorAt(i)) i++;
      tokens.push(expression.slice(start, i));
    }
  }
  return tokens;
}

/** Parses a label expression; precedence from loosest: <->, ->, ||, &&, !. */
export function parseLabelExpression(expression: string): LabelExpression | undefined {
  const tokens = tokenize(expression);
  if (tokens.length === 0) return undefined;
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (what: string): never => {
    throw new LabelExpressionError(`label expression '${expression}': ${what}`);
  };
  const binary = (ops: string[], kinds: ("and" | "or" | "implies" | "iff")[], next: () => LabelExpression) => (): LabelExpression => {
    let left = next();
    while (ops.includes(peek() ?? "")) {
      const kind = kinds[ops.indexOf(tokens[pos++]!)]!;
      left = { kind, left, right: next() };
    }
    return left;
  };
  const primary = (): LabelExpression => {
    const token = tokens[pos++];
    if (token === undefined) return fail("ends too early");
    if (token === "!") return { kind: "not", operand: primary() };
    if (token === "(") {
      const inner = iff();
      if (tokens[pos++] !== ")") fail("missing ')'");
      return inner;
    }
    if ([")", "&&", "||", "->", "<->"].includes(token)) return fail(`unexpected '${token}'`);
    return { kind: "atom", name: token.startsWith('"') ? (JSON.parse(token) as string) : token };
  };
  const and = binary(["&&"], ["and"], primary);
  const or = binary(["||"], ["or"], and);
  const implies = binary(["->"], ["implies"], or);
  const iff = binary(["<->"], ["iff"], implies);
  const result = iff();
  if (pos < tokens.length) fail(`unexpected '${tokens[pos]}'`);
  return result;
}

export function matchesLabels(expression: LabelExpression, labels: ReadonlySet<string>): boolean {
  switch (expression.kind) {
    case "atom":
      return labels.has(expression.name);
    case "not":
      return !matchesLabels(expression.operand, labels);
    case "and":
      return matchesLabels(expression.left, labels) && matchesLabels(expression.right, labels);
    case "or":
      return matchesLabels(expression.left, labels) || matchesLabels(expression.right, labels);
    case "implies":
      return !matchesLabels(expression.left, labels) || matchesLabels(expression.right, labels);
    case "iff":
      return matchesLabels(expression.left, labels) === matchesLabels(expression.right, labels);
  }
}

export function templateLabelSet(template: PodTemplate): Set<string> {
  return new Set((template.label ?? "").split(/\s+/).filter((l) => l !== ""));
}

/** Whether `template` may serve a request for `label` (undefined or empty: a request with no label). */
export function templateServes(template: PodTemplate, label: string | undefined): boolean {
  const expression = label?.trim() ? parseLabelExpression(label) : undefined;
  if (!expression) return template.nodeUsageMode === "NORMAL";
  return matchesLabels(expression, templateLabelSet(template));
}
