// Secret masking for a streamed build log: every occurrence of a secret value is replaced by `****`,
// also when the value arrives split across chunks. The masker holds back at most (longest secret - 1)
// characters that could be the start of a secret, and releases them when the next chunk (or the end)
// shows they are not.

export const MASK = "****";

export class SecretMasker {
  private readonly secrets: string[];
  private readonly pattern: RegExp | undefined;
  private readonly holdBack: number;
  private pending = "";

  constructor(secrets: Iterable<string>) {
    // Longest first, so a secret containing another is masked whole. Empty values mask nothing.
    this.secrets = [...new Set([...secrets].filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
    this.pattern = this.secrets.length ? new RegExp(this.secrets.map(escapeRegExp).join("|"), "g") : undefined;
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  /** Masks a whole text at once. */
  mask(text: string): string {
    return this.pattern ? text.replace(this.pattern, MASK) : text;
  }

  /** Takes the next chunk of a stream; returns what can be shown now. */
  push(chunk: string): string {
    if (!this.pattern) return chunk;
    const text = this.mask(this.pending + chunk);
    // Keep back the longest tail that is a proper prefix of some secret.
    let keep = 0;
    for (let n = Math.min(this.holdBack, text.length); n > 0; n--) {
      const tail = text.slice(text.length - n);
      if (this.secrets.some((s) => s.startsWith(tail))) {
        keep = n;
        break;
      }
    }
    this.pending = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** The end of the stream: whatever was held back. */
  flush(): string {
    const rest = this.pending;
    this.pending = "";
    return rest;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
