// A compact text form of syntax trees, so parser tests read like the Groovy they check.
import type * as A from "../../src/pipeline/ast.ts";

export function show(n: A.Expression | A.Statement | null): string {
  if (n === null) return "∅";
  switch (n.kind) {
    case "Literal": return typeof n.value === "string" ? JSON.stringify(n.value) : String(n.value);
    case "GString": return `gs(${n.parts.map((p) => (typeof p === "string" ? JSON.stringify(p) : show(p))).join(" ")})`;
    case "Identifier": return n.name;
    case "This": return "this";
    case "ClassRef": return n.name;
    case "List": return `[${n.elements.map(show).join(", ")}]`;
    case "Map": return `[${n.entries.map((e) => `${show(e.key)}: ${show(e.value)}`).join(", ") || ":"}]`;
    case "Range": return `(${show(n.from)}${n.exclusive ? "..<" : ".."}${show(n.to)})`;
    case "Property": return `${show(n.object)}${n.safe ? "?." : n.spread ? "*." : "."}${typeof n.name === "string" ? n.name : show(n.name)}`;
    case "Index": return `${show(n.object)}[${show(n.index)}]`;
    case "Call": {
      const recv = n.receiver ? `${show(n.receiver)}${n.safe ? "?." : n.spread ? "*." : "."}` : "";
      return `${recv}${n.name}(${args(n)})${n.command ? "ᶜ" : ""}`;
    }
    case "Invoke": return `${show(n.target)}.call(${args(n)})`;
    case "New": return `new ${n.typeName}(${args(n)})`;
    case "Closure": return `{${n.params === null ? "" : `${n.params.map((p) => (p.typeName ? `${p.typeName} ` : "") + p.name + (p.defaultValue ? `=${show(p.defaultValue)}` : "")).join(", ")} -> `}${n.body.map(show).join("; ")}}`;
    case "Unary": return n.prefix ? `(${n.op}${show(n.operand)})` : `(${show(n.operand)}${n.op})`;
    case "Binary": return `(${show(n.left)} ${n.op} ${show(n.right)})`;
    case "Ternary": return `(${show(n.test)} ? ${show(n.then)} : ${show(n.otherwise)})`;
    case "Elvis": return `(${show(n.value)} ?: ${show(n.fallback)})`;
    case "Assign": return `(${show(n.target)} ${n.op} ${show(n.value)})`;
    case "Cast": return `(${show(n.value)} as ${n.typeName})`;
    case "InstanceOf": return `(${show(n.value)} instanceof ${n.typeName})`;
    case "ExpressionStatement": return show(n.expression);
    case "VarDecl":
      return n.destructure
        ? `def (${n.declarators.map((d) => d.name).join(", ")}) = ${show(n.init)}`
        : `${n.typeName ?? "def"} ${n.declarators.map((d) => d.name + (d.init ? ` = ${show(d.init)}` : "")).join(", ")}`;
    case "MethodDecl": return `${n.annotations.map((a) => `@${a.name} `).join("")}${n.returnType ?? "def"} ${n.name}(${n.params.map((p) => (p.typeName ? `${p.typeName} ` : "") + p.name + (p.defaultValue ? `=${show(p.defaultValue)}` : "")).join(", ")}) {${n.body.map(show).join("; ")}}`;
    case "Block": return `{${n.body.map(show).join("; ")}}`;
    case "If": return `if ${show(n.test)} ${show(n.then)}${n.otherwise ? ` else ${show(n.otherwise)}` : ""}`;
    case "ForIn": return `for ${n.typeName ? `${n.typeName} ` : ""}${n.variable} in ${show(n.iterable)} ${show(n.body)}`;
    case "For": return `for (${show(n.init)}; ${show(n.test)}; ${n.update.map(show).join(", ")}) ${show(n.body)}`;
    case "While": return `while ${show(n.test)} ${show(n.body)}`;
    case "Switch": return `switch ${show(n.discriminant)} {${n.cases.map((c) => `${c.tests.length ? c.tests.map(show).join("|") : "default"}: ${c.body.map(show).join("; ")}`).join(" ")}}`;
    case "Try": return `try {${n.body.map(show).join("; ")}}${n.catches.map((c) => ` catch (${[...c.types, c.name].join(" ")}) {${c.body.map(show).join("; ")}}`).join("")}${n.finally ? ` finally {${n.finally.map(show).join("; ")}}` : ""}`;
    case "Throw": return `throw ${show(n.value)}`;
    case "Return": return `return ${show(n.value)}`;
    case "Break": return "break";
    case "Continue": return "continue";
    case "Assert": return `assert ${show(n.test)}${n.message ? ` : ${show(n.message)}` : ""}`;
    case "Import": return `import ${n.isStatic ? "static " : ""}${n.path}${n.wildcard ? ".*" : ""}${n.alias ? ` as ${n.alias}` : ""}`;
    case "Package": return `package ${n.name}`;
    case "Annotated": return `${n.annotations.map((a) => `@${a.name}(${a.args.map(show).join(", ")})`).join(" ")} ${show(n.statement)}`;
  }
}

function args(n: { args: A.Expression[]; named: A.MapEntry[]; closure?: A.ClosureExpr | null }): string {
  const parts = [...n.named.map((e) => `${show(e.key)}: ${show(e.value)}`), ...n.args.map(show)];
  if (n.closure) parts.push(show(n.closure));
  return parts.join(", ");
}
