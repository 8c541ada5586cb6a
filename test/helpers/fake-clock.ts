// A Clock for unit tests: time moves only when the test says so, and every timer due on the way
// fires in order, with the promise jobs it starts settled before the next one.
import type { Cancel, Clock } from '../../server/clock.js';

interface Timer { at: number; seq: number; fn: () => void; everyMs: number | undefined; cancelled: boolean }

/** Let pending promise jobs (and the I/O-free async functions they resume) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = Date.parse('2026-11-21T14:00:00Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Cancel {
    return this.add(ms, fn, undefined);
  }

  every(ms: number, fn: () => void): Cancel {
    return this.add(ms, fn, Math.max(1, ms));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.after(ms, resolve); });
  }

  /** Timers waiting to fire (for "nothing left running" checks). */
  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /** Move time forward by ms, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const next = this.timers.filter((x) => !x.cancelled && x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.t = Math.max(this.t, next.at);
      if (next.everyMs !== undefined) {
        next.at += next.everyMs;
      } else {
        next.cancelled = true;
      }
      next.fn();
      await settle();
    }
    this.t = end;
    this.timers = this.timers.filter((x) => !x.cancelled);
    await settle();
  }

  /**
   * The process itself was blocked for ms (an event loop stall): time jumps, then every timer that
   * fell due meanwhile fires once, late, in order, and a repeating one runs on a period from now,
   * as Node's timers do. Timers those callbacks set fall due at the next advance().
   */
  async stall(ms: number): Promise<void> {
    this.t += ms;
    await settle();
    const due = this.timers.filter((x) => !x.cancelled && x.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const x of due) {
      if (x.cancelled) continue;
      if (x.everyMs !== undefined) x.at = this.t + x.everyMs;
      else x.cancelled = true;
      x.fn();
      await settle();
    }
  }

  private add(ms: number, fn: () => void, everyMs: number | undefined): Cancel {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, everyMs, cancelled: false };
    this.timers.push(timer);
    return () => { timer.cancelled = true; };
  }
}
