// Open broadcast sockets per client address. The map forgets an address once its last
// connection closes, so it holds at most the open connections.

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
