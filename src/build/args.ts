// Reading a step's bound arguments: absent and null are the same (Groovy passes null for "not given").
import { toStr, truthy, type Value } from "../pipeline/runtime/values.ts";
import type { StepCall } from "../pipeline/runtime/steps.ts";

export const arg = (step: StepCall, name: string): Value => step.args.get(name) ?? null;

export const str = (step: StepCall, name: string): string | undefined => (step.args.get(name) == null ? undefined : toStr(step.args.get(name)!));

export const bool = (step: StepCall, name: string): boolean | undefined => (step.args.get(name) == null ? undefined : truthy(step.args.get(name)!));

/** The optional arguments among `keys` that were given, as strings. */
export const strings = <K extends string>(step: StepCall, ...keys: K[]) =>
  Object.fromEntries(keys.flatMap((k) => (str(step, k) === undefined ? [] : [[k, str(step, k)!]]))) as Partial<Record<K, string>>;

/** The optional arguments among `keys` that were given, as booleans. */
export const booleans = <K extends string>(step: StepCall, ...keys: K[]) =>
  Object.fromEntries(keys.flatMap((k) => (bool(step, k) === undefined ? [] : [[k, bool(step, k)!]]))) as Partial<Record<K, boolean>>;
