// Prometheus metrics (prom-client), one registry per daemon so tests can run several.
// Imports nothing of ours: the daemon passes it to the parts that count.
//
// prom-client is loaded when something first counts or asks (the first broadcast, error, or
// /metrics), not at start: an idle daemon that nobody scrapes does not keep its modules (and
// @opentelemetry/api's, which it pulls in) in memory (docs/performance.md, Idle).
import { createRequire } from 'node:module';
import perfHooks, { type IntervalHistogram } from 'node:perf_hooks';
import type { Counter, Registry } from 'prom-client';

type PromClient = typeof import('prom-client');
let promClient: PromClient | undefined;
/** prom-client itself, loaded on first use (synchronously: a counter is counted where it happens). */
function loadPromClient(): PromClient {
  return (promClient ??= createRequire(import.meta.url)('prom-client') as PromClient);
}

export interface Metrics {
  readonly registry: Registry;
  readonly broadcastsStarted: Counter<'station' | 'ingest'>;
  readonly broadcastsEnded: Counter<'station' | 'reason' | 'ingest'>;
  readonly bytesIn: Counter<'station' | 'ingest'>;
  readonly bytesOut: Counter<'mount'>;
  readonly errors: Counter<'code'>;
  readonly pipelineRestarts: Counter<'mount'>;
  readonly icecastReconnects: Counter<'mount'>;
  readonly resumes: Counter<'station'>;
  /** Late audio dropped so listeners stay at live delay: `stalled-upload`, `read-late` (the daemon read it late for seconds) or `encoder-behind`. */
  readonly audioShed: Counter<'station' | 'why'>;
  /** Silence not written although no media had come: `daemon-stall` (the daemon had not read) or `media-arrived` (it came right after the timer). */
  readonly silenceSkipped: Counter<'station' | 'why'>;
  /**
   * The event-loop delay is sampled while something holds this (each live broadcast does): an idle
   * daemon's loop has nothing to be late for, and its sampling timer would wake it every second.
   */
  readonly eventLoopSampling: { hold(): () => void; readonly active: boolean };
  /** Whether prom-client has been loaded (the first count, scrape or live broadcast loads it). */
  readonly loaded: boolean;
  /** Gauges read at scrape time; made when the registry is. */
  addGauges(src: MetricsSources): void;
}

export interface MetricsSources {
  /** Live broadcasts right now, by front door. */
  liveBroadcasts(): ReadonlyMap<string, number>;
  /** Listeners per Icecast mount, from Icecast's stats. */
  listeners(): ReadonlyMap<string, number>;
  /** 1 when Icecast answers its stats (asked now if the last answer is old). */
  icecastUp(): Promise<number | undefined>;
}

/**
 * The event-loop delay is sampled once a second while it is sampled at all (a broadcast is live): a
 * finer timer would wake the daemon a hundred times a second (prom-client's default, ~0.6 % of a
 * core) to measure nothing. Each sample is the time between two ticks, so the lag figures include
 * this period. While nothing is live the histogram is off and has no samples (prom-client then
 * reports its empty values: a huge min, max 0, mean NaN).
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

const COUNTERS = {
  // ingest: the front door, "websocket" (browsers, webcast clients) or "icecast-source" (desktop source clients)
  broadcastsStarted: ['icewire_broadcasts_started_total', 'Broadcasts that went live, by front door', ['station', 'ingest']],
  broadcastsEnded: ['icewire_broadcasts_ended_total', 'Broadcasts that ended, by end reason and front door', ['station', 'reason', 'ingest']],
  bytesIn: ['icewire_ingest_bytes_total', 'Bytes received from broadcasters, by front door', ['station', 'ingest']],
  bytesOut: ['icewire_icecast_bytes_total', 'Bytes sent to Icecast, per rendition mount', ['mount']],
  errors: ['icewire_errors_total', 'Errors told to broadcasters, by IW_ERR_ code', ['code']],
  pipelineRestarts: ['icewire_pipeline_restarts_total', 'ffmpeg restarts after a crash, per rendition mount', ['mount']],
  icecastReconnects: ['icewire_icecast_reconnects_total', 'Successful reconnects to Icecast, per rendition mount', ['mount']],
  resumes: ['icewire_resumes_total', 'Broadcasters who came back after a dropped connection', ['station']],
  audioShed: ['icewire_audio_shed_seconds_total', 'Late audio dropped so listeners stay live: after a stalled upload (stalled-upload), read late by the daemon for seconds (read-late), or ahead of a transcoder that fell behind (encoder-behind)', ['station', 'why']],
  silenceSkipped: ['icewire_silence_skipped_total', 'Gap fills skipped although no media had come: the daemon itself had stalled (daemon-stall), or the media came right after the timer (media-arrived)', ['station', 'why']],
} as const satisfies Record<string, readonly [string, string, readonly string[]]>;
type CounterName = keyof typeof COUNTERS;

/**
 * The daemon's metrics. Nothing of prom-client exists until a counter, the registry or the
 * event-loop sampling is first used; then the registry, the default metrics, every counter and
 * the gauges registered so far are made at once, so /metrics always lists them all.
 */
export function createMetrics(): Metrics {
  let built: { registry: Registry; loop: IntervalHistogram | undefined; counters: Record<CounterName, Counter<string>> } | undefined;
  const gauges: MetricsSources[] = [];
  const build = (): NonNullable<typeof built> => {
    if (built !== undefined) return built;
    const prom = loadPromClient();
    const registry = new prom.Registry();
    const loop = catchLoopHistogram(() => prom.collectDefaultMetrics({ register: registry, prefix: 'icewire_process_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS }));
    loop?.disable();
    const counters = {} as Record<CounterName, Counter<string>>;
    for (const [key, [name, help, labelNames]] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
      counters[key] = new prom.Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
    }
    built = { registry, loop, counters };
    for (const src of gauges) makeGauges(prom, registry, src);
    return built;
  };
  let holders = 0;
  const eventLoopSampling = {
    get active(): boolean {
      return holders > 0 && built?.loop !== undefined;
    },
    hold(): () => void {
      if (holders++ === 0) build().loop?.enable();
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        if (--holders === 0) built?.loop?.disable();
      };
    },
  };
  const m = {
    get registry(): Registry { return build().registry; },
    get loaded(): boolean { return built !== undefined; },
    eventLoopSampling,
    addGauges(src: MetricsSources): void {
      gauges.push(src);
      if (built !== undefined) makeGauges(loadPromClient(), built.registry, src);
    },
  };
  for (const key of Object.keys(COUNTERS) as CounterName[]) {
    Object.defineProperty(m, key, { get: () => build().counters[key], enumerable: true });
  }
  return m as unknown as Metrics;
}

/**
 * prom-client makes its event-loop histogram inside collectDefaultMetrics() and keeps it to itself;
 * it is caught here as it is made (perf_hooks' factory wrapped for that one synchronous call) so
 * that the daemon can turn it off while idle. Undefined if it was not made that way.
 */
function catchLoopHistogram(collect: () => void): IntervalHistogram | undefined {
  const make = perfHooks.monitorEventLoopDelay;
  let made: IntervalHistogram | undefined;
  perfHooks.monitorEventLoopDelay = (options) => (made = make(options));
  try {
    collect();
  } finally {
    perfHooks.monitorEventLoopDelay = make;
  }
  return made;
}

/** Gauges read at scrape time from the daemon's own state (made with the registry). */
export function registerGauges(m: Metrics, src: MetricsSources): void {
  m.addGauges(src);
}

function makeGauges(prom: PromClient, registry: Registry, src: MetricsSources): void {
  const { Gauge } = prom;
  new Gauge({
    name: 'icewire_broadcasts_live', help: 'Broadcasts live now', registers: [registry],
    collect() { this.set([...src.liveBroadcasts().values()].reduce((a, b) => a + b, 0)); },
  });
  new Gauge({
    name: 'icewire_broadcasts_live_by_ingest', help: 'Broadcasts live now, by front door', labelNames: ['ingest'], registers: [registry],
    collect() {
      this.reset();
      for (const ingest of ['websocket', 'icecast-source']) this.set({ ingest }, src.liveBroadcasts().get(ingest) ?? 0);
    },
  });
  new Gauge({
    name: 'icewire_listeners', help: 'Listeners per Icecast mount (from Icecast stats)', labelNames: ['mount'], registers: [registry],
    collect() {
      this.reset();
      for (const [mount, n] of src.listeners()) this.set({ mount }, n);
    },
  });
  new Gauge({
    name: 'icewire_icecast_up', help: '1 when Icecast answered the last stats poll, else 0', registers: [registry],
    async collect() { this.set((await src.icecastUp()) ?? 0); },
  });
}
