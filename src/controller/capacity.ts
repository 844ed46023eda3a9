// How many agent pods a cloud and each template may have at once (containerCap, instanceCap), counted
// from the pods that exist plus the launches under way, and the first-come-first-served queue of
// requests waiting for room. In memory; after a restart the existing pods (from the pod watch) count.

export interface CapacityLimits {
  cloudCap?: number;
  templateCap?: number;
}

export interface Usage {
  cloud: number;
  template: number;
}

export function hasRoom(limits: CapacityLimits, usage: Usage): boolean {
  return (limits.cloudCap === undefined || usage.cloud < limits.cloudCap) && (limits.templateCap === undefined || usage.template < limits.templateCap);
}

export function describeShortage(limits: CapacityLimits, usage: Usage, cloud: string, template: string): string {
  if (limits.cloudCap !== undefined && usage.cloud >= limits.cloudCap) return `cloud ${cloud} has ${usage.cloud} of at most ${limits.cloudCap} agent pods (containerCap)`;
  return `template ${template} has ${usage.template} of at most ${limits.templateCap} agent pods (instanceCap)`;
}

/**
 * Requests waiting for room, served in arrival order per key (template): a request never overtakes an
 * earlier one for the same template, but a request for a template with room is not held up by one
 * waiting for a full template. `tryAcquire` checks for room and takes it in one synchronous step, so two
 * waiters can never both take the last place.
 */
export class CapacityQueue {
  private readonly waiters: { key: string; tryAcquire: () => boolean; go: () => void }[] = [];

  acquire(key: string, tryAcquire: () => boolean, signal?: AbortSignal): Promise<void> {
    if (!this.waiters.some((w) => w.key === key) && tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { key, tryAcquire, go: resolve };
      this.waiters.push(waiter);
      signal?.addEventListener("abort", () => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled while waiting for capacity"));
        this.poke();
      });
    });
  }

  /** Something changed (a pod went away): let waiting requests through, in order, while they fit. */
  poke(): void {
    const blocked = new Set<string>();
    for (const waiter of [...this.waiters]) {
      if (blocked.has(waiter.key)) continue;
      if (waiter.tryAcquire()) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.go();
      } else {
        blocked.add(waiter.key);
      }
    }
  }

  get length(): number {
    return this.waiters.length;
  }
}
