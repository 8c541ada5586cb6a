// Time for everything that waits: the current time, one-shot and repeating timers, and pauses.
// Injected (never read from globals by the modules that take one), so unit tests drive a whole
// broadcast — grace periods, reconnect backoff, idle and stall watchdogs — in milliseconds with a
// fake clock. The system clock unref()s every timer: a timer never keeps the process alive.
//
// Every repeating job goes through every(), and the system clock serves all jobs of one period
// from one timer (a daemon-wide ticker): a thousand broadcasts' status ticks wake the process once
// a second, not a thousand times. A job's first run comes at the group's next tick (within one
// period), not exactly one period after every() was called.
//
// A job that only matters while something is there (a heartbeat for open sockets) is a
// WhileHeld job: it runs while at least one holder holds it, so an idle daemon has no timer.

/** Stops a timer; calling it again, or after a one-shot timer fired, does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run fn once, ms from now. */
  after(ms: number, fn: () => void): Cancel;
  /** Run fn every ms until cancelled. */
  every(ms: number, fn: () => void): Cancel;
  /** Resolve ms from now. */
  sleep(ms: number): Promise<void>;
}

/** Repeating jobs grouped by period, each group on one unref()ed interval timer. */
class Ticker {
  private readonly groups = new Map<number, TickGroup>();

  every(ms: number, fn: () => void): Cancel {
    let g = this.groups.get(ms);
    if (g === undefined) {
      const group: TickGroup = { timer: undefined!, jobs: new Set(), ticks: 0 };
      group.timer = setInterval(() => runGroup(group), ms);
      group.timer.unref();
      this.groups.set(ms, group);
      g = group;
    }
    const group = g;
    // its own entry (the same fn may be registered twice); not run by a tick already under way
    const job: TickJob = { fn, from: group.ticks + 1 };
    group.jobs.add(job);
    return () => {
      if (!group.jobs.delete(job) || group.jobs.size > 0) return;
      clearInterval(group.timer);
      if (this.groups.get(ms) === group) this.groups.delete(ms);
    };
  }
}

interface TickJob { readonly fn: () => void; readonly from: number }
interface TickGroup { timer: NodeJS.Timeout; readonly jobs: Set<TickJob>; ticks: number }

function runGroup(group: TickGroup): void {
  const tick = ++group.ticks;
  for (const job of group.jobs) {
    if (job.from > tick) continue;
    try {
      job.fn();
    } catch (err) {
      // as if the job had its own timer: the error is thrown (uncaught), the other jobs still run
      queueMicrotask(() => { throw err; });
    }
  }
}

const ticker = new Ticker();

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  every: (ms, fn) => ticker.every(ms, fn),
  sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms).unref(); }),
};

/**
 * A repeating job that runs only while something holds it: the first hold() starts it, the
 * release of the last holder stops it. A heartbeat over open sockets wakes nothing while there
 * are none. Releasing twice is harmless.
 */
export class WhileHeld {
  private readonly holders = new Set<object>();
  private cancel: Cancel | undefined;

  constructor(private readonly clock: Clock, private readonly ms: number, private readonly fn: () => void) {}

  /** Whether the job is running now. */
  get running(): boolean {
    return this.cancel !== undefined;
  }

  hold(): Cancel {
    const holder = {};
    this.holders.add(holder);
    this.cancel ??= this.clock.every(this.ms, this.fn);
    return () => {
      if (!this.holders.delete(holder) || this.holders.size > 0) return;
      this.cancel?.();
      this.cancel = undefined;
    };
  }

  /** Stop now, whoever holds it (shutdown); their releases do nothing. */
  stop(): void {
    this.holders.clear();
    this.cancel?.();
    this.cancel = undefined;
  }
}
