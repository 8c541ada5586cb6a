// Where each account logged in from lately: an (account, address) pair with a recent success.
// Such a pair is evidence the gate can use when others flood: its checks go first, an account
// locked against new addresses still opens from it, and a flooded shared address (an office
// NAT) keeps a small budget for it (docs/security.md, "Who gets in during a flood").
// In memory (a restart forgets), bounded (the least recently used pairs go first).

/** How long a success vouches for its address. */
export const KNOWN_FOR_MS = 30 * 24 * 60 * 60 * 1000;
export const MAX_KNOWN_PAIRS = 10000;

export class KnownLogins {
  private readonly lastSuccess = new Map<string, number>();
  /** Known pairs per address (for anyAt()). */
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now, private readonly forMs = KNOWN_FOR_MS, private readonly max = MAX_KNOWN_PAIRS) {}

  has(account: string, addr: string): boolean {
    const key = pairKey(account, addr);
    const at = this.lastSuccess.get(key);
    if (at === undefined) return false;
    if (this.now() - at > this.forMs) {
      this.forget(key);
      return false;
    }
    return true;
  }

  /** Has any account logged in from `addr` lately? (A pair may have expired meanwhile: then has() tells.) */
  anyAt(addr: string): boolean {
    return this.perAddress.has(addr);
  }

  remember(account: string, addr: string): void {
    const key = pairKey(account, addr);
    if (!this.lastSuccess.delete(key)) this.perAddress.set(addr, (this.perAddress.get(addr) ?? 0) + 1);
    this.lastSuccess.set(key, this.now());
    for (const k of this.lastSuccess.keys()) {
      if (this.lastSuccess.size <= this.max) break;
      this.forget(k);
    }
  }

  private forget(key: string): void {
    if (!this.lastSuccess.delete(key)) return;
    const addr = (JSON.parse(key) as [string, string])[1];
    const n = (this.perAddress.get(addr) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(addr);
    else this.perAddress.set(addr, n);
  }
}

/** One string per pair, unambiguous whatever characters a name holds. */
export function pairKey(account: string, addr: string): string {
  return JSON.stringify([account, addr]);
}
