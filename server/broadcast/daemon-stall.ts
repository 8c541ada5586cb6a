// The daemon's own stalls, told apart from a broadcaster's silence. A repeating timer that fires
// more than one period late means the event loop did not run for that long (a saturated machine,
// a long garbage collection, a stopped process), and for that time the daemon read no socket
// either: a broadcaster who seems to have sent nothing may have sent it all, and it waits in the
// socket to be read right after the timer. So a late tick makes no judgement that reads silence
// from missing input (fill with silence, idle); the next tick on time does, if there is still
// nothing (docs/performance.md, "Saturation").
import type { Cancel, Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** Stalls less than this far apart are one episode (logged once). */
export const STALL_EPISODE_GAP_MS = 10000;
/**
 * A short timer's lateness counts as a stall only beyond this: a loaded machine delays a 100 ms
 * timer by a few hundred ms all the time, and silence written for such a moment is matched by the
 * late audio it drops (gap-filler.ts); skipping it would starve the stream instead.
 */
export const MIN_STALL_MS = 1000;

/**
 * Run fn every ms. Its argument is 0 on time, or, when this run came more than a period (and at
 * least MIN_STALL_MS) late (the daemon stalled), the time since the previous run.
 */
export function everyTellingStalls(clock: Clock, ms: number, fn: (stalledMs: number) => void): Cancel {
  let last = clock.now();
  return clock.every(ms, () => {
    const now = clock.now();
    const since = now - last;
    last = now;
    fn(since - ms > Math.max(ms, MIN_STALL_MS) ? since : 0);
  });
}

/** The last stall noted per clock (one clock per daemon): every broadcast notices the same stall. */
const lastStall = new WeakMap<Clock, number>();

/**
 * A stall was noticed: logged once per episode for the whole daemon, however many broadcasts (and
 * ticks) notice it. Returns whether this began a new episode.
 */
export function noteStall(clock: Clock, log: Logger, stalledMs: number): boolean {
  const now = clock.now();
  const previous = lastStall.get(clock);
  lastStall.set(clock, now);
  if (previous !== undefined && now - previous < STALL_EPISODE_GAP_MS) return false;
  log.warn('the daemon did not run for a while (its event loop stalled); no silence is filled for that time, and input read late is passed on',
    { stalledMs: Math.round(stalledMs) });
  return true;
}
