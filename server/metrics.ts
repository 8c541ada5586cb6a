// Prometheus metrics (prom-client), one registry per daemon so tests can run several.
// Imports nothing of ours: the daemon passes it to the parts that count.
import perfHooks, { type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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

export function createMetrics(): Metrics {
  const registry = new Registry();
  const loop = catchLoopHistogram(() => collectDefaultMetrics({ register: registry, prefix: 'icewire_process_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS }));
  loop?.disable();
  let holders = 0;
  const eventLoopSampling = {
    get active(): boolean {
      return holders > 0 && loop !== undefined;
    },
    hold(): () => void {
      if (holders++ === 0) loop?.enable();
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        if (--holders === 0) loop?.disable();
      };
    },
  };
  const c = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    eventLoopSampling,
    // ingest: the front door, "websocket" (browsers, webcast clients) or "icecast-source" (desktop source clients)
    broadcastsStarted: c('icewire_broadcasts_started_total', 'Broadcasts that went live, by front door', ['station', 'ingest']),
    broadcastsEnded: c('icewire_broadcasts_ended_total', 'Broadcasts that ended, by end reason and front door', ['station', 'reason', 'ingest']),
    bytesIn: c('icewire_ingest_bytes_total', 'Bytes received from broadcasters, by front door', ['station', 'ingest']),
    bytesOut: c('icewire_icecast_bytes_total', 'Bytes sent to Icecast, per rendition mount', ['mount']),
    errors: c('icewire_errors_total', 'Errors told to broadcasters, by IW_ERR_ code', ['code']),
    pipelineRestarts: c('icewire_pipeline_restarts_total', 'ffmpeg restarts after a crash, per rendition mount', ['mount']),
    icecastReconnects: c('icewire_icecast_reconnects_total', 'Successful reconnects to Icecast, per rendition mount', ['mount']),
    resumes: c('icewire_resumes_total', 'Broadcasters who came back after a dropped connection', ['station']),
    audioShed: c('icewire_audio_shed_seconds_total', 'Late audio dropped so listeners stay live: after a stalled upload (stalled-upload), read late by the daemon for seconds (read-late), or ahead of a transcoder that fell behind (encoder-behind)', ['station', 'why']),
    silenceSkipped: c('icewire_silence_skipped_total', 'Gap fills skipped although no media had come: the daemon itself had stalled (daemon-stall), or the media came right after the timer (media-arrived)', ['station', 'why']),
  };
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

/** Gauges read at scrape time from the daemon's own state. */
export function registerGauges(m: Metrics, src: MetricsSources): void {
  new Gauge({
    name: 'icewire_broadcasts_live', help: 'Broadcasts live now', registers: [m.registry],
    collect() { this.set([...src.liveBroadcasts().values()].reduce((a, b) => a + b, 0)); },
  });
  new Gauge({
    name: 'icewire_broadcasts_live_by_ingest', help: 'Broadcasts live now, by front door', labelNames: ['ingest'], registers: [m.registry],
    collect() {
      this.reset();
      for (const ingest of ['websocket', 'icecast-source']) this.set({ ingest }, src.liveBroadcasts().get(ingest) ?? 0);
    },
  });
  new Gauge({
    name: 'icewire_listeners', help: 'Listeners per Icecast mount (from Icecast stats)', labelNames: ['mount'], registers: [m.registry],
    collect() {
      this.reset();
      for (const [mount, n] of src.listeners()) this.set({ mount }, n);
    },
  });
  new Gauge({
    name: 'icewire_icecast_up', help: '1 when Icecast answered the last stats poll, else 0', registers: [m.registry],
    async collect() { this.set((await src.icecastUp()) ?? 0); },
  });
}
