// The kubelet's restart and image-pull back-off: the first retry is immediate, then 10 s doubling up to
// 5 min, measured from when the container last finished; an entry untouched for twice the maximum is
// forgotten, so a container that ran cleanly for 10 minutes starts over at 10 s. Pure given the clock.

export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 300_000;

export class Backoff {
  private readonly entries = new Map<string, { delayMs: number; updatedAt: number }>();
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(initialMs = INITIAL_BACKOFF_MS, maxMs = MAX_BACKOFF_MS) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
  }

  /** Milliseconds still to wait before retrying after a failure at `since`, or 0 when a retry may go now. */
  remaining(key: string, since: number, now: number): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    if (now - entry.updatedAt > 2 * this.maxMs) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, since + entry.delayMs - now);
  }

  /** The current delay (for the "back-off 20s" messages). */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? this.initialMs;
  }

  /** Records that a retry happens now: the next failure waits the initial delay, or twice the last one. */
  next(key: string, now: number): void {
    const entry = this.entries.get(key);
    if (!entry || now - entry.updatedAt > 2 * this.maxMs) this.entries.set(key, { delayMs: this.initialMs, updatedAt: now });
    else this.entries.set(key, { delayMs: Math.min(entry.delayMs * 2, this.maxMs), updatedAt: now });
  }

  forget(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return rest === 0 ? `${minutes}m0s` : `${minutes}m${rest}s`;
}
