// Failed logins per key (the client address; the auth gate may add more keys, e.g. per account).
// A sliding window of failure times per key; a bounded map (the oldest entries are evicted) so a
// flood of addresses can't grow memory.

const MAX_TRACKED = 10000;

export class FailedLoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly max: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  private recent(addr: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const list = (this.failures.get(addr) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(addr);
    else this.failures.set(addr, list);
    return list;
  }

  /** true when this address may try to log in now. */
  allowed(addr: string): boolean {
    return this.recent(addr).length < this.max;
  }

  recordFailure(addr: string): void {
    const list = this.recent(addr);
    list.push(this.now());
    this.failures.delete(addr);
    this.failures.set(addr, list.slice(-this.max));
    if (this.failures.size > MAX_TRACKED) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  recordSuccess(addr: string): void {
    this.failures.delete(addr);
  }
}
