// Password guesses per key (a client address, an account, an account from one address), counted
// from the moment a guess is made, not when its answer is known: a guess still being checked
// counts as much as one that failed, so a hundred guesses sent at once get no more checks than a
// hundred sent one after another.
//
// Each guess carries a tag (the other half of who guessed what: the account for an address's
// guesses, the address for an account's), so that a success clears only its own failures: logging
// in to one's own account does not wipe the guesses one made at somebody else's.
//
// A sliding window per key; a bounded map (the oldest keys go first) so a flood of addresses or
// names can't grow memory. A guess is resolved exactly once: failed (it stays, for the window),
// or dropped (a success, or never checked).

/** Keys tracked at most. */
export const MAX_TRACKED_KEYS = 10000;

export interface Guess {
  at: number;
  pending: boolean;
  readonly tag: string;
}

export class GuessLedger {
  private readonly guesses = new Map<string, Guess[]>();

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now, private readonly maxKeys = MAX_TRACKED_KEYS) {}

  /** Guesses under `key` that count now: the ones being checked, and the failures within the window. */
  count(key: string): number {
    return this.live(key).length;
  }

  /** A guess under `key` is being made: it counts from now. */
  add(key: string, tag: string): Guess {
    const g: Guess = { at: this.now(), pending: true, tag };
    const list = this.live(key);
    list.push(g);
    // re-inserted: the map's order is the order of last use, so eviction takes the least recent
    this.guesses.delete(key);
    this.guesses.set(key, list);
    for (const k of this.guesses.keys()) {
      if (this.guesses.size <= this.maxKeys) break;
      this.guesses.delete(k);
    }
    return g;
  }

  /** The guess was wrong: it keeps counting until the window has passed from now. */
  fail(g: Guess): void {
    g.pending = false;
    g.at = this.now();
  }

  /** The guess no longer counts (it was right, or it was never checked). */
  drop(key: string, g: Guess): void {
    const list = this.guesses.get(key);
    if (list === undefined) return;
    const i = list.indexOf(g);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.guesses.delete(key);
  }

  /** A success: the failures under `key` tagged `tag` (or all of them, without a tag) no longer count. */
  forget(key: string, tag?: string): void {
    const list = this.guesses.get(key);
    if (list === undefined) return;
    const kept = list.filter((g) => g.pending || (tag !== undefined && g.tag !== tag));
    if (kept.length === 0) this.guesses.delete(key);
    else this.guesses.set(key, kept);
  }

  get size(): number {
    return this.guesses.size;
  }

  private live(key: string): Guess[] {
    const list = this.guesses.get(key);
    if (list === undefined) return [];
    const cutoff = this.now() - this.windowMs;
    const kept = list.filter((g) => g.pending || g.at > cutoff);
    if (kept.length === 0) this.guesses.delete(key);
    else if (kept.length !== list.length) this.guesses.set(key, kept);
    return kept;
  }
}
