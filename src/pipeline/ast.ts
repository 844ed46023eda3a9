// The syntax tree of a Jenkinsfile. Every node carries the line and column where it starts, so any
// later layer (declarative model, lint, interpreter) can point at the source.
import type { Position } from "./diagnostics.ts";

type At = Position;

// ── Expressions ──────────────────────────────────────────────────────────────────────────────────

/** `'x'`, `42`, `1.5`, `true`, `null`. Numbers keep their source text (`10L`, `1.5G`) in `raw`. */
export interface Literal extends At { kind: "Literal"; value: string | number | boolean | null; raw: string }
/** `"a ${b} $c.d"` and interpolating slashy strings: text and expressions in order. */
export interface GString extends At { kind: "GString"; parts: (string | Expression)[] }
export interface Identifier extends At { kind: "Identifier"; name: string }
export interface This extends At { kind: "This" }
export interface ListExpr extends At { kind: "List"; elements: Expression[] }
/** Keys written as bare names or strings become Literal; `(expr):` keys stay expressions. */
export interface MapEntry extends At { key: Expression; value: Expression }
export interface MapExpr extends At { kind: "Map"; entries: MapEntry[] }
export interface RangeExpr extends At { kind: "Range"; from: Expression; to: Expression; exclusive: boolean }
/** `a.b`, `a?.b` (safe), `a*.b` (spread), `a."${x}"` (name is an expression). */
export interface PropertyExpr extends At {
  kind: "Property"; object: Expression; name: string | Expression; safe: boolean; spread: boolean;
}
export interface IndexExpr extends At { kind: "Index"; object: Expression; index: Expression; safe: boolean }
/**
 * A method or step call. `receiver` is null for bare calls (`sh 'x'`, `node(label) {…}`, `body()`).
 * Named arguments stay apart from positional ones (Jenkins binds them as one leading Map); a
 * trailing closure is `closure`. `command` marks the parenthesis-less form.
 */
export interface CallExpr extends At {
  kind: "Call";
  receiver: Expression | null;
  name: string;
  args: Expression[];
  named: MapEntry[];
  closure: ClosureExpr | null;
  safe: boolean;
  spread: boolean;
  command: boolean;
}
/** Calling a value that is not a name: `closures[0]()`, `makeClosure()()`. */
export interface InvokeExpr extends At { kind: "Invoke"; target: Expression; args: Expression[]; named: MapEntry[]; closure: ClosureExpr | null }
export interface NewExpr extends At { kind: "New"; typeName: string; args: Expression[]; named: MapEntry[] }
export interface Parameter extends At { name: string; typeName: string | null; defaultValue: Expression | null }
/** `params` is null when the closure declares none (it then has the implicit `it`); `{ -> }` gives []. */
export interface ClosureExpr extends At { kind: "Closure"; params: Parameter[] | null; body: Statement[] }
export interface UnaryExpr extends At { kind: "Unary"; op: string; operand: Expression; prefix: boolean }
export interface BinaryExpr extends At { kind: "Binary"; op: string; left: Expression; right: Expression }
export interface TernaryExpr extends At { kind: "Ternary"; test: Expression; then: Expression; otherwise: Expression }
export interface ElvisExpr extends At { kind: "Elvis"; value: Expression; fallback: Expression }
/** `=`, `+=`, `<<=`…; target is an Identifier, Property or Index. */
export interface AssignExpr extends At { kind: "Assign"; op: string; target: Expression; value: Expression }
export interface CastExpr extends At { kind: "Cast"; value: Expression; typeName: string }
export interface InstanceOfExpr extends At { kind: "InstanceOf"; value: Expression; typeName: string }
/** `String.class`-style references to a type name (`hudson.model.Result.SUCCESS` starts as one). */
export interface ClassRef extends At { kind: "ClassRef"; name: string }

export type Expression =
  | Literal | GString | Identifier | This | ListExpr | MapExpr | RangeExpr | PropertyExpr | IndexExpr | CallExpr
  | InvokeExpr | NewExpr | ClosureExpr | UnaryExpr | BinaryExpr | TernaryExpr | ElvisExpr | AssignExpr | CastExpr
  | InstanceOfExpr | ClassRef;

// ── Statements ───────────────────────────────────────────────────────────────────────────────────

export interface Annotation extends At { name: string; args: Expression[]; named: MapEntry[] }

export interface ExpressionStatement extends At { kind: "ExpressionStatement"; expression: Expression }
/**
 * `def x = 1`, `String a, b = 'x'`, `def (a, b) = pair`. `names` has one entry per declared name;
 * `destructure` is set for the parenthesised form, where `init` is the single value to unpack.
 */
export interface VarDecl extends At {
  kind: "VarDecl";
  typeName: string | null;
  declarators: { name: string; init: Expression | null; line: number; column: number }[];
  destructure: boolean;
  init: Expression | null;
  annotations: Annotation[];
}
export interface MethodDecl extends At {
  kind: "MethodDecl"; name: string; returnType: string | null; params: Parameter[]; body: Statement[]; annotations: Annotation[];
}
export interface BlockStatement extends At { kind: "Block"; body: Statement[] }
export interface IfStatement extends At { kind: "If"; test: Expression; then: Statement; otherwise: Statement | null }
export interface ForInStatement extends At { kind: "ForIn"; variable: string; typeName: string | null; iterable: Expression; body: Statement }
export interface ForStatement extends At {
  kind: "For"; init: Statement | null; test: Expression | null; update: Expression[]; body: Statement;
}
export interface WhileStatement extends At { kind: "While"; test: Expression; body: Statement }
/** `tests` is empty for `default:`. Bodies fall through as in Groovy unless they `break`. */
export interface SwitchCase extends At { tests: Expression[]; body: Statement[] }
export interface SwitchStatement extends At { kind: "Switch"; discriminant: Expression; cases: SwitchCase[] }
export interface CatchClause extends At { types: string[]; name: string; body: Statement[] }
export interface TryStatement extends At { kind: "Try"; body: Statement[]; catches: CatchClause[]; finally: Statement[] | null }
export interface ThrowStatement extends At { kind: "Throw"; value: Expression }
export interface ReturnStatement extends At { kind: "Return"; value: Expression | null }
export interface BreakStatement extends At { kind: "Break"; label: string | null }
export interface ContinueStatement extends At { kind: "Continue"; label: string | null }
export interface AssertStatement extends At { kind: "Assert"; test: Expression; message: Expression | null }
/** `import a.b.C`, `import a.b.*`, `import static a.B.c` — kept so lint knows imported class names. */
export interface ImportStatement extends At { kind: "Import"; path: string; isStatic: boolean; wildcard: boolean; alias: string | null }
export interface PackageStatement extends At { kind: "Package"; name: string }
/** `@Library('lib@ref') _` and other annotations standing alone on a statement. */
export interface AnnotatedStatement extends At { kind: "Annotated"; annotations: Annotation[]; statement: Statement }

export type Statement =
  | ExpressionStatement | VarDecl | MethodDecl | BlockStatement | IfStatement | ForInStatement | ForStatement
  | WhileStatement | SwitchStatement | TryStatement | ThrowStatement | ReturnStatement | BreakStatement
  | ContinueStatement | AssertStatement | ImportStatement | PackageStatement | AnnotatedStatement;

export interface Script { kind: "Script"; file: string; body: Statement[] }

export type Node = Expression | Statement;
