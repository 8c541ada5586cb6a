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

  constructor(private readonly now: () => number = Date.now, private readonly forMs = KNOWN_FOR_MS, private readonly max = MAX_KNOWN_PAIRS) {}

  has(account: string, addr: string): boolean {
    const key = pairKey(account, addr);
    const at = this.lastSuccess.get(key);
    if (at === undefined) return false;
    if (this.now() - at > this.forMs) {
      this.lastSuccess.delete(key);
      return false;
    }
    return true;
  }

  remember(account: string, addr: string): void {
    const key = pairKey(account, addr);
    this.lastSuccess.delete(key);
    this.lastSuccess.set(key, this.now());
    for (const k of this.lastSuccess.keys()) {
      if (this.lastSuccess.size <= this.max) break;
      this.lastSuccess.delete(k);
    }
  }
}

/** One string per pair, unambiguous whatever characters a name holds. */
export function pairKey(account: string, addr: string): string {
  return JSON.stringify([account, addr]);
}
