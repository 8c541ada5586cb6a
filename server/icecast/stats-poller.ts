// Polls Icecast's public status-json.xsl once for all mounts: listener counts and reachability.
import type { Logger } from '../log.js';

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

export class StatsPoller {
  private timer: NodeJS.Timeout | undefined;
  private stats = new Map<string, MountStats>();
  private reachable: boolean | undefined;
  private inFlight: AbortController | undefined;

  constructor(private readonly opts: { url: string; intervalMs: number; logger: Logger }) {}

  start(): void {
    if (this.timer !== undefined) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
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

  /** Poll now (also used by /healthz and tests). */
  async poll(): Promise<void> {
    if (this.inFlight !== undefined) return;
    const ac = new AbortController();
    this.inFlight = ac;
    const t = setTimeout(() => ac.abort(), Math.min(this.opts.intervalMs, 5000));
    try {
      const res = await fetch(new URL('/status-json.xsl', this.opts.url), { signal: ac.signal });
      const text = await res.text();
      this.stats = parseStatusJson(text);
      if (this.reachable === false) this.opts.logger.info('Icecast is reachable again', { url: this.opts.url });
      this.reachable = true;
    } catch (err) {
      if (this.timer === undefined && ac.signal.aborted) return; // stopped: not news
      if (this.reachable !== false) {
        this.opts.logger.warn('Icecast stats are unreachable', { url: this.opts.url, error: (err as Error).message });
      }
      this.reachable = false;
      this.stats = new Map();
    } finally {
      clearTimeout(t);
      this.inFlight = undefined;
    }
  }
}
