// Time for everything that waits: the current time, one-shot and repeating timers, and pauses.
// Injected (never read from globals by the modules that take one), so unit tests drive a whole
// broadcast — grace periods, reconnect backoff, idle and stall watchdogs — in milliseconds with a
// fake clock. The system clock unref()s every timer: a timer never keeps the process alive.
//
// Every repeating job goes through every(), so a daemon-wide ticker (one timer serving every
// broadcast's periodic work) can later stand in for the system clock without touching its users.

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

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms).unref(); }),
};
