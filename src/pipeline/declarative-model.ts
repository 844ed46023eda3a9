// The typed model of a declarative `pipeline { … }`: sections and directives as data, while steps,
// `script { }` bodies, `when { expression { } }` and values stay syntax trees for the interpreter.
// Every part keeps its position.
import type * as A from "./ast.ts";
import type { Position } from "./diagnostics.ts";
import type { PostCondition } from "./catalogue.ts";

export type Located = Position;

/** An option or field written `name value` or `name(args)`, kept as the call that wrote it. */
export interface Directive extends Located {
  readonly name: string;
  readonly call: A.CallExpr;
}

/** A field of a block like `kubernetes { yaml '…' }`: the single value written after the name. */
export interface FieldValue extends Located {
  readonly value: A.Expression;
}

export type Agent =
  | ({ readonly type: "any" } & Located)
  | ({ readonly type: "none" } & Located)
  | ({ readonly type: "label"; readonly label: A.Expression } & Located)
  | ({ readonly type: "node"; readonly fields: Readonly<Record<string, FieldValue>> } & Located)
  | ({
      readonly type: "kubernetes";
      /** yaml, yamlFile, defaultContainer, inheritFrom, retries, podRetention, … (catalogue KUBERNETES_AGENT_OPTIONS). */
      readonly options: Readonly<Record<string, FieldValue>>;
      /** The deprecated `containerTemplate { name …; image … }` block form. */
      readonly containerTemplate: Readonly<Record<string, FieldValue>> | null;
    } & Located)
  | ({ readonly type: "docker" | "dockerfile"; readonly fields: Readonly<Record<string, FieldValue>> } & Located);

export interface EnvironmentEntry extends Located {
  readonly name: string;
  /** `credentials('id')` stays a call; the runtime binds it by credential type. */
  readonly value: A.Expression;
}

/** Statements of a `steps { }` or post-condition block: step calls and `script { }`. */
export interface StepsBlock extends Located {
  readonly statements: readonly A.Statement[];
}

export type WhenCondition =
  | ({ readonly kind: "not" | "allOf" | "anyOf"; readonly children: readonly WhenCondition[] } & Located)
  | ({ readonly kind: "expression"; readonly body: A.ClosureExpr } & Located)
  | ({ readonly kind: "branch" | "buildingTag" | "changelog" | "changeset" | "changeRequest" | "environment" | "equals" | "tag" | "triggeredBy"; readonly call: A.CallExpr } & Located);

export interface When extends Located {
  /** All must hold. */
  readonly conditions: readonly WhenCondition[];
  readonly beforeAgent: boolean;
  readonly beforeInput: boolean;
  readonly beforeOptions: boolean;
}

export interface Input extends Located {
  readonly fields: Readonly<Record<string, FieldValue>>;
  readonly parameters: readonly Directive[];
}

export interface PostBlock extends Located {
  readonly condition: PostCondition;
  readonly steps: StepsBlock;
}

/** Conditions sorted in the order they run (catalogue POST_CONDITIONS), not the order written. */
export interface Post extends Located {
  readonly blocks: readonly PostBlock[];
}

export interface Axis extends Located {
  readonly name: string;
  readonly values: readonly A.Expression[];
}
export interface ExcludeAxis extends Axis {
  /** `notValues` rather than `values`. */
  readonly negated: boolean;
}
export interface Matrix extends Located {
  readonly axes: readonly Axis[];
  readonly excludes: readonly (readonly ExcludeAxis[])[];
  readonly stages: readonly Stage[];
  readonly directives: StageDirectives;
}

export type StageBody =
  | { readonly kind: "steps"; readonly steps: StepsBlock }
  | { readonly kind: "stages"; readonly stages: readonly Stage[] }
  | { readonly kind: "parallel"; readonly stages: readonly Stage[] }
  | { readonly kind: "matrix"; readonly matrix: Matrix };

/** What a stage (or a matrix cell) may carry besides its body. */
export interface StageDirectives {
  readonly agent: Agent | null;
  readonly environment: readonly EnvironmentEntry[];
  readonly options: readonly Directive[];
  readonly tools: readonly Directive[];
  readonly when: When | null;
  readonly input: Input | null;
  readonly post: Post | null;
}

export interface Stage extends Located, StageDirectives {
  /** The name as written (usually a string literal; a GString is evaluated at run time). */
  readonly name: A.Expression;
  /** The literal name when it is one, for messages and the stage graph. */
  readonly displayName: string;
  readonly failFast: A.Expression | null;
  readonly body: StageBody | null;
}

export interface Pipeline extends Located {
  readonly agent: Agent | null;
  readonly environment: readonly EnvironmentEntry[];
  readonly options: readonly Directive[];
  readonly parameters: readonly Directive[];
  readonly triggers: readonly Directive[];
  readonly tools: readonly Directive[];
  readonly libraries: readonly Directive[];
  readonly stages: readonly Stage[];
  readonly post: Post | null;
}
