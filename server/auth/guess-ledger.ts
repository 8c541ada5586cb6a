// Password guesses per key (a client address, an account, an account from one address), counted
// from the moment a guess is made, not when its answer is known: a guess still being checked
// counts as much as one that failed, so a hundred guesses sent at once get no more checks than a
// hundred sent one after another.
//
// Each guess carries a tag (the other half of who guessed what: the account for an address's
// guesses, the address for an account's), so that a success clears only its own failures: logging
// in to one's own account does not wipe the guesses one made at somebody else's.
//
// A key whose allowance is filled by guesses still being checked (not by failures) is not yet
// over its limit: those checks may all succeed (a studio behind one NAT whose broadcasters log in
// at once, a page reloading while a desktop client connects). A new guess there waits
// (whenSettled()) until one of them is settled, for a bounded time, in a bounded line per key; a
// success frees its place, a failure keeps it. So concurrent right passwords all get in, and
// concurrent wrong ones get no more checks than the limit.
//
// A sliding window per key; a bounded map (the oldest keys go first) so a flood of addresses or
// names can't grow memory. A guess is resolved exactly once: failed (it stays, for the window),
// or dropped (a success, or never checked).
import { systemClock, type Clock } from '../clock.js';

/** Keys tracked at most. */
export const MAX_TRACKED_KEYS = 10000;
/** Guesses waiting for room under one key at most (the rest are refused at once). */
export const MAX_WAITING_PER_KEY = 20;
/** Guesses waiting for room under all keys together at most. */
export const MAX_WAITING_TOTAL = 1000;

export interface Guess {
  at: number;
  pending: boolean;
  readonly key: string;
  readonly tag: string;
}

export interface LedgerOptions {
  readonly maxKeys?: number;
  readonly maxWaitingPerKey?: number;
  readonly maxWaitingTotal?: number;
  /** Timers for the waits (the clock's now() is not used: the ledger's own now is). */
  readonly timers?: Pick<Clock, 'after'>;
}

export class GuessLedger {
  private readonly guesses = new Map<string, Guess[]>();
  /** Per key, the wake-ups of the guesses waiting for room, oldest first. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private waitingCount = 0;
  private readonly maxKeys: number;
  private readonly maxWaitingPerKey: number;
  private readonly maxWaitingTotal: number;
  private readonly timers: Pick<Clock, 'after'>;

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now, opts: LedgerOptions | number = {}) {
    const o = typeof opts === 'number' ? { maxKeys: opts } : opts;
    this.maxKeys = o.maxKeys ?? MAX_TRACKED_KEYS;
    this.maxWaitingPerKey = o.maxWaitingPerKey ?? MAX_WAITING_PER_KEY;
    this.maxWaitingTotal = o.maxWaitingTotal ?? MAX_WAITING_TOTAL;
    this.timers = o.timers ?? systemClock;
  }

  /** Guesses under `key` that count now: the ones being checked, and the failures within the window. */
  count(key: string): number {
    return this.live(key).length;
  }

  /** Failures under `key` within the window (not the guesses still being checked). */
  failures(key: string): number {
    return this.live(key).filter((g) => !g.pending).length;
  }

  /** How long until the oldest failure under `key` stops counting (0 when none counts). */
  msUntilFailureExpires(key: string): number {
    const oldest = this.live(key).filter((g) => !g.pending).reduce((m, g) => Math.min(m, g.at), Infinity);
    return oldest === Infinity ? 0 : Math.max(0, oldest + this.windowMs - this.now());
  }

  /** A guess under `key` is being made: it counts from now. */
  add(key: string, tag: string): Guess {
    const g: Guess = { at: this.now(), pending: true, key, tag };
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
    const was = g.pending;
    g.pending = false;
    g.at = this.now();
    if (was) this.wake(g.key);
  }

  /** The guess no longer counts (it was right, or it was never checked). */
  drop(key: string, g: Guess): void {
    const list = this.guesses.get(key);
    if (list !== undefined) {
      const i = list.indexOf(g);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.guesses.delete(key);
    }
    this.wake(key);
  }

  /** A success: the failures under `key` tagged `tag` (or all of them, without a tag) no longer count. */
  forget(key: string, tag?: string): void {
    const list = this.guesses.get(key);
    if (list === undefined) return;
    const kept = list.filter((g) => g.pending || (tag !== undefined && g.tag !== tag));
    if (kept.length === 0) this.guesses.delete(key);
    else this.guesses.set(key, kept);
    if (kept.length !== list.length) this.wake(key);
  }

  /** Can another guess wait for room under `keys`? (Bounded per key and in all.) */
  canWait(keys: readonly string[]): boolean {
    return this.waitingCount < this.maxWaitingTotal && keys.every((k) => (this.waiters.get(k)?.size ?? 0) < this.maxWaitingPerKey);
  }

  /**
   * Wait until a guess under one of `keys` is settled or forgotten (true), or `ms` have passed
   * (false). The caller looks again: the room may have gone to a guess that waited longer.
   */
  whenSettled(keys: readonly string[], ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.waitingCount++;
      let done = false;
      const finish = (settled: boolean): void => {
        if (done) return;
        done = true;
        this.waitingCount--;
        cancel();
        for (const k of keys) {
          const set = this.waiters.get(k);
          set?.delete(wake);
          if (set?.size === 0) this.waiters.delete(k);
        }
        resolve(settled);
      };
      const wake = (): void => finish(true);
      for (const k of keys) {
        let set = this.waiters.get(k);
        if (set === undefined) this.waiters.set(k, (set = new Set()));
        set.add(wake);
      }
      const cancel = this.timers.after(ms, () => finish(false));
    });
  }

  get size(): number {
    return this.guesses.size;
  }

  /** Guesses waiting for room, under every key. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Wake the guesses waiting on `key`, oldest first: each looks again. */
  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (set === undefined) return;
    for (const w of [...set]) w();
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
