// The tokens the lexer hands the parser. GStrings arrive already split: literal text and, for each
// `${…}` or `$a.b` hole, the hole's own tokens, so the parser never re-reads source text.
import type { Position } from "./diagnostics.ts";

export type TokenKind = "ident" | "keyword" | "number" | "string" | "gstring" | "op" | "nl" | "eof";

/** How a string was written; decides escapes and whether `$` interpolates. */
export type Quote = "'" | "'''" | '"' | '"""' | "/" | "$/";

export type GStringPart =
  | { readonly kind: "text"; readonly value: string }
  | { readonly kind: "code"; readonly tokens: readonly Token[]; readonly braced: boolean; readonly line: number; readonly column: number };

export interface Token extends Position {
  readonly kind: TokenKind;
  /** The identifier, keyword or operator; for literals, the source text. */
  readonly text: string;
  readonly offset: number;
  readonly end: number;
  /** Cooked value of a plain string (escapes applied). */
  readonly value?: string;
  /** Pieces of an interpolating string (double quotes and slashy forms). */
  readonly parts?: readonly GStringPart[];
  readonly quote?: Quote;
}

/** Groovy 2.4 reserved words, plus the primitive type names and modifiers, which cannot be names either. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  "as", "assert", "break", "case", "catch", "class", "const", "continue", "def", "default", "do", "else", "enum",
  "extends", "false", "finally", "for", "goto", "if", "implements", "import", "in", "instanceof", "interface",
  "new", "null", "package", "return", "super", "switch", "this", "throw", "throws", "trait", "true", "try", "while",
  "void", "boolean", "byte", "char", "short", "int", "long", "float", "double",
  "public", "private", "protected", "static", "final", "abstract", "synchronized", "transient", "volatile", "native", "strictfp",
]);

export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set(["void", "boolean", "byte", "char", "short", "int", "long", "float", "double"]);
export const MODIFIERS: ReadonlySet<string> = new Set([
  "public", "private", "protected", "static", "final", "abstract", "synchronized", "transient", "volatile", "native", "strictfp",
]);

/** How a token reads in an error message: `'}'`, `end of line`, `string '''apiVersion…'''`. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case "nl": return "end of line";
    case "eof": return "end of file";
    case "string":
    case "gstring": {
      const shown = t.text.length > 24 ? `${t.text.slice(0, 21)}…` : t.text;
      return `string ${shown.replace(/\n/g, "\\n")}`;
    }
    default: return `'${t.text}'`;
  }
}
