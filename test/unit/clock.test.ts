// The system clock's every(): one timer per period serves every job of that period (a daemon-wide
// ticker), a cancelled job stops, the last cancel stops the timer, and a job that throws does not
// stop the others.
import assert from 'node:assert/strict';
import { systemClock } from '../../server/clock.js';

/** Count the interval timers made and cleared while fn runs. */
async function countIntervals(fn: (counts: { made: number; cleared: number }) => Promise<void>): Promise<void> {
  const counts = { made: 0, cleared: 0 };
  const { setInterval: si, clearInterval: ci } = globalThis;
  globalThis.setInterval = ((...a: Parameters<typeof si>) => { counts.made++; return si(...a); }) as typeof si;
  globalThis.clearInterval = ((t: Parameters<typeof ci>[0]) => { counts.cleared++; ci(t); }) as typeof ci;
  try { await fn(counts); } finally { globalThis.setInterval = si; globalThis.clearInterval = ci; }
}

describe('system clock: every() shares one timer per period', () => {
  it('200 jobs of one period: one timer; each runs once per tick; cancelling all stops it', () => countIntervals(async (counts) => {
    const runs = new Array<number>(200).fill(0);
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => { resolveAll = r; });
    const cancels = runs.map((_, i) => systemClock.every(37, () => {
      runs[i]!++;
      if (runs.every((n) => n >= 3)) resolveAll();
    }));
    assert.equal(counts.made, 1, 'one timer for 200 jobs');
    await all;
    assert.ok(Math.max(...runs) - Math.min(...runs) <= 1, 'every job runs at every tick');
    cancels[0]!();
    const frozen = runs[0];
    for (const c of cancels.slice(1)) c();
    assert.equal(counts.cleared, 1, 'the timer stops with the last job');
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(runs[0], frozen);
  }));

  it('a job that throws: the error is thrown (uncaught) and the other jobs still run', async () => {
    const errors: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (e) => errors.push(e));
    let ran = 0;
    let done!: () => void;
    const twice = new Promise<void>((r) => { done = r; });
    const a = systemClock.every(23, () => { throw new Error('boom'); });
    const b = systemClock.every(23, () => { if (++ran === 2) done(); });
    try {
      await twice;
      await new Promise((r) => setImmediate(r));
    } finally {
      a(); b();
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    }
    assert.ok(errors.length >= 1 && (errors[0] as Error).message === 'boom');
  });
});
