// The stored JSON text of recently written or read objects, bounded by total length. A GET, and
// the existence checks a create makes (its namespace's service account), then cost a map lookup
// instead of an SQLite read transaction (tens of microseconds each, most of it system calls).
// Eviction is by insertion order: an object written or loaded again moves to the end.

export class TextCache {
  readonly #texts = new Map<string, string>();
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  get(key: string): string | undefined {
    return this.#texts.get(key);
  }

  set(key: string, text: string): void {
    this.delete(key);
    if (text.length > this.#maxChars) return;
    this.#texts.set(key, text);
    this.#chars += text.length;
    for (const [oldest, old] of this.#texts) {
      if (this.#chars <= this.#maxChars) break;
      this.#texts.delete(oldest);
      this.#chars -= old.length;
    }
  }

  delete(key: string): void {
    const old = this.#texts.get(key);
    if (old === undefined) return;
    this.#texts.delete(key);
    this.#chars -= old.length;
  }

  clear(): void {
    this.#texts.clear();
    this.#chars = 0;
  }
}
