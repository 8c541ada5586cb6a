// Polls Icecast's public status-json.xsl once for all mounts: listener counts and reachability.
// Only while a broadcast is live (each holds the poller): an idle daemon makes no requests, keeps
// no timer and makes no garbage to collect; /healthz and /metrics ask for a fresh answer when they
// need one (fresh()).
import { systemClock, WhileHeld, type Cancel, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { getText } from './http-text.js';

export interface MountStats {
  readonly listeners: number;
  readonly title: string | undefined;
}

/**
 * Pure: status-json.xsl text -> stats per mount path. `icestats.source` is an object with one
 * mount, an array with several, absent with none; Icecast 2.4.4 can emit invalid JSON when no
 * source is connected (docs/notes/icecast.md), which is treated as "no mounts".
 */
export function parseStatusJson(text: string): Map<string, MountStats> {
  const out = new Map<string, MountStats>();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return out;
  }
  const icestats = (doc as { icestats?: { source?: unknown } } | null)?.icestats;
  const raw = icestats?.source;
  const sources = Array.isArray(raw) ? raw : raw !== undefined && raw !== null ? [raw] : [];
  for (const s of sources) {
    if (typeof s !== 'object' || s === null) continue;
    const src = s as { listenurl?: unknown; listeners?: unknown; title?: unknown };
    if (typeof src.listenurl !== 'string') continue;
    let mount: string;
    try {
      mount = new URL(src.listenurl).pathname;
    } catch {
      continue;
    }
    out.set(mount, {
      listeners: typeof src.listeners === 'number' ? src.listeners : 0,
      title: typeof src.title === 'string' ? src.title : undefined,
    });
  }
  return out;
}

export interface StatsPollerOptions {
  readonly url: string;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly clock?: Clock;
}

export class StatsPoller {
  private readonly ticking: WhileHeld;
  private stopped = false;
  private stats = new Map<string, MountStats>();
  private reachable: boolean | undefined;
  private inFlight: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private lastPollAt = -Infinity;
  private readonly clock: Clock;

  constructor(private readonly opts: StatsPollerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.ticking = new WhileHeld(this.clock, opts.intervalMs, () => void this.poll());
  }

  /** Poll every intervalMs while held: each live broadcast holds the poller until it ends. */
  hold(): Cancel {
    const release = this.ticking.hold();
    return () => {
      release();
      // nothing of ours is on Icecast: its counts are not ours to show
      if (!this.ticking.running) this.stats = new Map();
    };
  }

  stop(): void {
    this.stopped = true;
    this.ticking.stop();
    this.abort?.abort();
  }

  /** Poll unless the last answer is recent (within one interval); for /healthz and /metrics. */
  async fresh(): Promise<void> {
    if (this.clock.now() - this.lastPollAt < this.opts.intervalMs && this.reachable !== undefined) return;
    await this.poll();
  }

  get isReachable(): boolean | undefined {
    return this.reachable;
  }

  /** Listeners per mount path, as of the last poll. */
  allListeners(): ReadonlyMap<string, number> {
    return new Map([...this.stats].map(([m, s]) => [m, s.listeners]));
  }

  listeners(mount: string): number {
    return this.stats.get(mount)?.listeners ?? 0;
  }

  /** Poll now (also used by /healthz and tests); joins a poll already under way. */
  poll(): Promise<void> {
    this.inFlight ??= this.pollOnce().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  private async pollOnce(): Promise<void> {
    const ac = new AbortController();
    this.abort = ac;
    const t = setTimeout(() => ac.abort(), Math.min(this.opts.intervalMs, 5000));
    try {
      const { text } = await getText(new URL('/status-json.xsl', this.opts.url), { signal: ac.signal });
      this.stats = parseStatusJson(text);
      if (this.reachable === false) this.opts.logger.info('Icecast is reachable again', { url: this.opts.url });
      this.reachable = true;
    } catch (err) {
      if (this.stopped && ac.signal.aborted) return; // stopped: not news
      if (this.reachable !== false) {
        this.opts.logger.warn('Icecast stats are unreachable', { url: this.opts.url, error: (err as Error).message });
      }
      this.reachable = false;
      this.stats = new Map();
    } finally {
      clearTimeout(t);
      this.lastPollAt = this.clock.now();
    }
  }
}
