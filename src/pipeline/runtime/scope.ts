// Lexical scopes. The chain ends at the script binding, where undeclared assignments (`x = 1`) and
// @Field variables live; script-level `def` locals sit in a child of the binding, which is why they
// are not visible inside script methods (methods close over the binding only), as in Groovy.
import type { Value } from "./values.ts";

export class Scope {
  private readonly vars = new Map<string, Value>();
  readonly parent: Scope | null;

  constructor(parent: Scope | null) {
    this.parent = parent;
  }

  declare(name: string, value: Value): void {
    this.vars.set(name, value);
  }

  /** The scope holding `name`, if any. */
  find(name: string): Scope | null {
    if (this.vars.has(name)) return this;
    return this.parent ? this.parent.find(name) : null;
  }

  get(name: string): Value | undefined {
    return this.vars.get(name);
  }

  set(name: string, value: Value): void {
    this.vars.set(name, value);
  }

  /** The outermost scope: the script binding. */
  root(): Scope {
    return this.parent ? this.parent.root() : this;
  }
}
