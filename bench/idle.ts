// The idle daemon: no broadcast at all, one station configured. Two daemons at once: one whose
// Icecast is up (the bench's), one whose Icecast is down (a closed port). For each: CPU of every
// thread (schedstat, in ns: a 10 ms tick is already 0.017 % of 60 s) over a 60 s window that starts
// SETTLE_S after /healthz first answered (V8 collects the start-up garbage in that time), and RSS
// and PSS at the end of the window.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { pssKb, processRunNs, rssKb } from './proc-stats.js';

export const IDLE_SETTLE_S = 30;
export const IDLE_WINDOW_S = 60;

export interface IdleSide {
  /** % of one core, all threads, over the window. */
  readonly cpuPercent: number;
  readonly rssMb: number;
  readonly pssMb: number;
}

export interface IdleResult {
  readonly icecastUp: IdleSide;
  readonly icecastDown: IdleSide;
  readonly settleS: number;
  readonly windowS: number;
}

export async function runIdle(start: (icecastUrl: string | undefined) => Promise<ChildProcess>, stop: (c: ChildProcess) => Promise<void>, log: (s: string) => void): Promise<IdleResult> {
  log(`idle: two daemons without broadcasts (Icecast up, Icecast down), ${IDLE_SETTLE_S} s to settle, then ${IDLE_WINDOW_S} s measured`);
  const daemons = await Promise.all([start(undefined), start('down')]);
  try {
    await sleep(IDLE_SETTLE_S * 1000);
    const t0 = performance.now();
    const a = daemons.map((d) => processRunNs(d.pid!));
    await sleep(IDLE_WINDOW_S * 1000);
    const b = daemons.map((d) => processRunNs(d.pid!));
    const wallNs = (performance.now() - t0) * 1e6;
    const side = (k: number): IdleSide => ({
      cpuPercent: a[k] !== undefined && b[k] !== undefined ? ((b[k]! - a[k]!) / wallNs) * 100 : NaN,
      rssMb: (rssKb(daemons[k]!.pid!) ?? NaN) / 1024,
      pssMb: pssKb(daemons[k]!.pid!) / 1024,
    });
    return { icecastUp: side(0), icecastDown: side(1), settleS: IDLE_SETTLE_S, windowS: IDLE_WINDOW_S };
  } finally {
    await Promise.all(daemons.map((d) => stop(d)));
  }
}
