// Per-address limits: open connections and failed logins. Bounded maps (oldest entries are
// evicted) so a flood of addresses can't grow memory.

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

export class ConnectionCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Count a new connection; false (and not counted) when the address is at its limit. */
  acquire(addr: string): boolean {
    const n = this.counts.get(addr) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(addr, n + 1);
    return true;
  }

  release(addr: string): void {
    const n = (this.counts.get(addr) ?? 1) - 1;
    if (n <= 0) this.counts.delete(addr);
    else this.counts.set(addr, n);
  }
}
