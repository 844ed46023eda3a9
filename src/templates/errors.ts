// Errors a user can act on: a message and, when known, where in which file the problem is.
import type { SourcePosition } from "./model.ts";

export class TemplateError extends Error {
  readonly at: SourcePosition | undefined;

  constructor(message: string, at?: SourcePosition) {
    super(message);
    this.name = "TemplateError";
    this.at = at;
  }

  /** `file:line:column: message`, or just the message when the position is unknown. */
  format(): string {
    return this.at ? `${formatPosition(this.at)}: ${this.message}` : this.message;
  }
}

export function formatPosition(at: SourcePosition): string {
  return `${at.file}:${at.line}:${at.column}`;
}
