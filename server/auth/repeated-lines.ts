// Log lines that a flood repeats by the thousand (a refused login from one address over its
// limit): the first of each kind is logged as it happens; the repeats within REPEAT_LOG_MS are
// only counted, then logged as one line with the count. A log line is a synchronous write to the
// journal's pipe: one per refusal, a flood of 800 took the event loop as long as the refusals
// themselves. Bounded: at most MAX_KINDS kinds are held; beyond that, repeats are counted under
// one line for all of them.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** How long repeats of one kind of line are only counted. */
export const REPEAT_LOG_MS = 10000;
/** Kinds held at most (the rest counted together). */
export const MAX_KINDS = 10000;

interface Kind { readonly fields: Record<string, unknown>; repeats: number }

export class RepeatedLines {
  private readonly kinds = new Map<string, Kind>();
  /** Repeats of kinds there was no room for. */
  private overflow = 0;
  private flushing = false;

  constructor(private readonly logger: Logger, private readonly timers: Pick<Clock, 'after'>, private readonly everyMs = REPEAT_LOG_MS, private readonly maxKinds = MAX_KINDS) {}

  /**
   * A line of kind `key` (with these fields) is about to be logged: false the first time in a
   * period (log it), true for a repeat (counted here, logged later as one line).
   */
  seen(key: string, fields: Record<string, unknown>): boolean {
    const k = this.kinds.get(key);
    if (k !== undefined) {
      k.repeats++;
      return true;
    }
    if (this.kinds.size >= this.maxKinds) {
      this.overflow++;
      return true;
    }
    this.kinds.set(key, { fields, repeats: 0 });
    if (!this.flushing) {
      this.flushing = true;
      this.timers.after(this.everyMs, () => this.flush());
    }
    return false;
  }

  /** The period is over: one line per kind that repeated, and a new period for all. */
  private flush(): void {
    this.flushing = false;
    for (const k of this.kinds.values()) {
      if (k.repeats > 0) this.logger.info('repeated login refusals', { ...k.fields, more: k.repeats, withinMs: this.everyMs });
    }
    if (this.overflow > 0) this.logger.info('repeated login refusals', { more: this.overflow, withinMs: this.everyMs, kinds: 'too many to tell apart' });
    this.kinds.clear();
    this.overflow = 0;
  }
}
