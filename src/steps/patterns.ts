// Ant-style file patterns, as archiveArtifacts and stash take them: comma-separated, relative to the
// step's working directory; `**` matches any number of directories (none included), `*` any characters
// but `/` and `?` one; a pattern ending in `/` means everything below that directory; `\` counts as `/`.
// Ant's default excludes (version-control and editor files) apply unless turned off.

/** Ant's default excludes. */
export const DEFAULT_EXCLUDES = [
  "**/*~",
  "**/#*#",
  "**/.#*",
  "**/%*%",
  "**/._*",
  "**/CVS",
  "**/CVS/**",
  "**/.cvsignore",
  "**/SCCS",
  "**/SCCS/**",
  "**/vssver.scc",
  "**/.svn",
  "**/.svn/**",
  "**/.DS_Store",
  "**/.git",
  "**/.git/**",
  "**/.gitattributes",
  "**/.gitignore",
  "**/.gitmodules",
  "**/.hg",
  "**/.hg/**",
  "**/.hgignore",
  "**/.hgsub",
  "**/.hgsubstate",
  "**/.hgtags",
  "**/.bzr",
  "**/.bzr/**",
  "**/.bzrignore",
];

/** Directories whose whole content the default excludes drop: a listing need not enter them. */
export const DEFAULT_EXCLUDED_DIRECTORIES = ["CVS", "SCCS", ".svn", ".git", ".hg", ".bzr"];

/** Splits a comma-separated pattern list (Jenkins trims each pattern and drops empty ones). */
export function splitPatterns(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

type Segment = RegExp | "**";

function compile(pattern: string, caseSensitive: boolean): Segment[] {
  let p = pattern.replaceAll("\\", "/");
  if (p.endsWith("/")) p += "**";
  while (p.startsWith("./")) p = p.slice(2);
  return p
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .map((s) => {
      if (s === "**") return "**";
      const body = [...s].map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
      return new RegExp(`^${body}$`, caseSensitive ? "u" : "iu");
    });
}

function matchSegments(pattern: Segment[], path: string[], pi = 0, si = 0): boolean {
  for (; pi < pattern.length; pi++, si++) {
    const segment = pattern[pi]!;
    if (segment === "**") {
      // Consecutive ** are one; then try every number of directories for it.
      while (pattern[pi + 1] === "**") pi++;
      if (pi === pattern.length - 1) return true;
      for (let skip = si; skip <= path.length; skip++) if (matchSegments(pattern, path, pi + 1, skip)) return true;
      return false;
    }
    if (si >= path.length || !segment.test(path[si]!)) return false;
  }
  return si === path.length;
}

export interface PatternOptions {
  /** Default true. */
  caseSensitive?: boolean;
  /** Ant's default excludes; default true. */
  defaultExcludes?: boolean;
}

/** Includes minus excludes; `matches` takes a relative path with `/` separators. */
export class FilePatterns {
  private readonly includes: Segment[][];
  private readonly excludes: Segment[][];

  constructor(includes: string[], excludes: string[], options: PatternOptions = {}) {
    const caseSensitive = options.caseSensitive ?? true;
    this.includes = includes.map((p) => compile(p, caseSensitive));
    this.excludes = [...excludes, ...(options.defaultExcludes ?? true ? DEFAULT_EXCLUDES : [])].map((p) => compile(p, caseSensitive));
  }

  matches(path: string): boolean {
    const segments = path.split("/").filter((s) => s !== "" && s !== ".");
    return this.includes.some((p) => matchSegments(p, segments)) && !this.excludes.some((p) => matchSegments(p, segments));
  }
}
