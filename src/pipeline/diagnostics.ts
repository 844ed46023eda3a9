// Findings about a Jenkinsfile, always tied to a place in it: every layer of the language (lexer,
// parser, declarative model, lint) reports through these so the CLI prints one shape,
// `file:line:column: message`, the way compilers do.

/** A place in a source file; line and column are 1-based, columns count UTF-16 code units. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface Diagnostic extends Position {
  readonly file: string;
  readonly message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** Orders findings by place so output is stable whatever order the layers found them in. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => a.line - b.line || a.column - b.column || a.message.localeCompare(b.message));
}

/** Thrown by `parseOrThrow` and the interpreter when a script cannot be accepted at all. */
export class PipelineSyntaxError extends Error {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join("\n"));
    this.name = "PipelineSyntaxError";
    this.diagnostics = diagnostics;
  }
}
