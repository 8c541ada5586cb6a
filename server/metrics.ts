// Prometheus metrics (prom-client), one registry per daemon so tests can run several.
// Imports nothing of ours: the daemon passes it to the parts that count.
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
}

export interface MetricsSources {
  /** Live broadcasts right now, by front door. */
  liveBroadcasts(): ReadonlyMap<string, number>;
  /** Listeners per Icecast mount, from Icecast's stats. */
  listeners(): ReadonlyMap<string, number>;
  /** 1 when Icecast answered the last stats poll. */
  icecastUp(): number | undefined;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'icewire_process_' });
  const c = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    // ingest: the front door, "websocket" (browsers, webcast clients) or "icecast-source" (desktop source clients)
    broadcastsStarted: c('icewire_broadcasts_started_total', 'Broadcasts that went live, by front door', ['station', 'ingest']),
    broadcastsEnded: c('icewire_broadcasts_ended_total', 'Broadcasts that ended, by end reason and front door', ['station', 'reason', 'ingest']),
    bytesIn: c('icewire_ingest_bytes_total', 'Bytes received from broadcasters, by front door', ['station', 'ingest']),
    bytesOut: c('icewire_icecast_bytes_total', 'Bytes sent to Icecast, per rendition mount', ['mount']),
    errors: c('icewire_errors_total', 'Errors told to broadcasters, by IW_ERR_ code', ['code']),
    pipelineRestarts: c('icewire_pipeline_restarts_total', 'ffmpeg restarts after a crash, per rendition mount', ['mount']),
    icecastReconnects: c('icewire_icecast_reconnects_total', 'Successful reconnects to Icecast, per rendition mount', ['mount']),
    resumes: c('icewire_resumes_total', 'Broadcasters who came back after a dropped connection', ['station']),
  };
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
    collect() { this.set(src.icecastUp() ?? 0); },
  });
}
