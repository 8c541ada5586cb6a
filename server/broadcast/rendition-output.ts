// One rendition's connection to Icecast, kept up for the whole broadcast: if Icecast restarts
// or the connection breaks, it reconnects with bounded backoff, sends the stream header again and
// continues at the next sync point (an Ogg page, a WebM Cluster). The broadcaster's page shows
// "reconnecting" meanwhile and never has to reload.
import { EventEmitter } from 'node:events';
import { systemClock, type Cancel, type Clock } from '../clock.js';
import { IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { IcecastSource, type IcecastSourceOptions } from '../icecast/icecast-source.js';
import type { Unit } from '../pipeline/stream-framer.js';
import type { Metrics } from '../metrics.js';

export type OutputState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface ReconnectPolicy {
  /** Give up this long after the connection was lost. */
  readonly giveUpMs: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { giveUpMs: 30000, firstDelayMs: 250, maxDelayMs: 2000 };

/** Refusals that retrying can't fix. */
const FINAL_ON_RECONNECT: ReadonlySet<ErrorCode> = new Set(['IW_ERR_ICECAST_AUTH']);

/** Pure: the wait before reconnect attempt n (0-based), doubling from firstDelayMs up to maxDelayMs. */
export function backoffMs(attempt: number, p: ReconnectPolicy): number {
  return Math.min(p.maxDelayMs, p.firstDelayMs * 2 ** Math.min(attempt, 16));
}

/** What an output needs of an Icecast source connection (IcecastSource; unit tests give fakes). */
export type SourceConnection = Pick<IcecastSource, 'connect' | 'write' | 'bufferedBytes' | 'end' | 'destroy' | 'on' | 'removeAllListeners'>;

export interface RenditionOutputOptions {
  readonly source: IcecastSourceOptions;
  /** The stream header to send again after reconnecting (from the framer). */
  readonly header: () => Buffer;
  readonly policy: ReconnectPolicy;
  readonly log: Logger;
  /** Bytes waiting for Icecast before the broadcast is too slow for it. */
  readonly maxQueueBytes?: number;
  readonly metrics?: Metrics | undefined;
  readonly clock?: Clock;
  /** Opens a source connection (default: a real IcecastSource). */
  readonly openSource?: (opts: IcecastSourceOptions) => SourceConnection;
  /**
   * Listeners can join only once a sync point has reached Icecast (WebM: Icecast drops a listener
   * that connects before the stream's first Cluster, docs/notes/icecast.md). The output is live
   * from then on, not from the moment Icecast accepted the connection.
   */
  readonly liveAtSync?: boolean;
}

/** How long start() waits for the first sync point (liveAtSync) before it resolves anyway. */
export const FIRST_SYNC_WAIT_MS = 5000;

export declare interface RenditionOutput {
  on(event: 'state', listener: (state: OutputState) => void): this;
  on(event: 'failed', listener: (err: IcewireError) => void): this;
  on(event: 'drain', listener: () => void): this;
}

export class RenditionOutput extends EventEmitter {
  state: OutputState = 'connecting';
  /** Media bytes sent to Icecast over all connections (headers included). */
  bytesOut = 0;
  /** Media bytes that could not be sent while Icecast was away. */
  bytesDropped = 0;
  reconnects = 0;
  private source: SourceConnection | undefined;
  /** After a reconnect: drop units until a sync point. */
  private waitingForSync = false;
  /** Connected, but (liveAtSync) not live until a sync point has been written. */
  private syncPending = false;
  private onFirstSync: (() => void) | undefined;
  private lostAt = 0;
  private attempt = 0;
  private cancelRetry: Cancel | undefined;
  private ending = false;
  private readonly bytesOutCounter: { inc(n: number): void } | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly policy: ReconnectPolicy;
  private readonly maxQueueBytes: number;

  constructor(private readonly o: RenditionOutputOptions) {
    super();
    this.clock = o.clock ?? systemClock;
    this.log = o.log;
    this.policy = o.policy;
    this.maxQueueBytes = o.maxQueueBytes ?? 8 * 1024 * 1024;
    // the labelled child once, not a label lookup per write on the hot path
    this.bytesOutCounter = o.metrics?.bytesOut.labels({ mount: o.source.mount });
  }

  get mount(): string {
    return this.o.source.mount;
  }

  /** First connection: a refusal here is final (the broadcaster is told at once). */
  async start(): Promise<void> {
    this.source = this.makeSource();
    await this.source.connect();
    if (this.ending) return;
    if (!this.o.liveAtSync) { this.setState('live'); return; }
    // media flows meanwhile; a stream with no sync point yet stays 'connecting' until it has one
    this.syncPending = true;
    let cancel: Cancel | undefined;
    await new Promise<void>((resolve) => {
      this.onFirstSync = resolve;
      cancel = this.clock.after(FIRST_SYNC_WAIT_MS, resolve);
    });
    cancel?.();
    this.onFirstSync = undefined;
  }

  /** Send a unit. false = Icecast's socket is full: wait for 'drain'. Never blocks while reconnecting. */
  write(unit: Unit): boolean {
    if (this.ending) return true;
    const src = this.source;
    if (src === undefined || (this.state === 'reconnecting' && !this.syncPending)) {
      if (!unit.header) this.bytesDropped += unit.data.length;
      return true;
    }
    if (this.waitingForSync) {
      if (!unit.syncPoint) {
        if (!unit.header) this.bytesDropped += unit.data.length;
        return true;
      }
      this.waitingForSync = false;
    }
    this.bytesOut += unit.data.length;
    this.bytesOutCounter?.inc(unit.data.length);
    const ok = src.write(unit.data);
    if (this.syncPending && unit.syncPoint) {
      this.syncPending = false;
      this.setState('live');
      this.onFirstSync?.();
    }
    if (!ok && src.bufferedBytes > this.maxQueueBytes && !this.ending) {
      this.ending = true;
      this.emit('failed', new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `Icecast is not reading ${this.mount} (${src.bufferedBytes} bytes queued)` }));
    }
    return ok;
  }

  /**
   * The encoder restarted with a new stream header (WebM): end this Icecast stream and start a
   * new one, so Icecast caches the new header for listeners.
   */
  async restartStream(): Promise<void> {
    if (this.ending) return;
    const old = this.source;
    this.source = undefined;
    this.syncPending = false;
    this.setState('reconnecting');
    if (old !== undefined) {
      old.removeAllListeners('lost');
      await old.end();
    }
    this.lostAt = this.clock.now();
    this.attempt = 0;
    await this.retry();
  }

  get bufferedBytes(): number {
    return this.source?.bufferedBytes ?? 0;
  }

  private makeSource(): SourceConnection {
    const src = this.o.openSource?.(this.o.source) ?? new IcecastSource(this.o.source);
    src.on('drain', () => this.emit('drain'));
    src.on('lost', (err) => this.onLost(err));
    return src;
  }

  private onLost(err: IcewireError): void {
    // while reconnecting the retry handles failures; a connection waiting for its first sync
    // point is up, and its loss starts a reconnect like any other
    if (this.ending || (this.state === 'reconnecting' && !this.syncPending)) return;
    this.log.warn('lost the Icecast connection; reconnecting', { rendition: this.mount, detail: err.detail });
    this.lostAt = this.clock.now();
    this.attempt = 0;
    this.syncPending = false;
    this.setState('reconnecting');
    this.scheduleRetry();
    // anything waiting on a drain from the dead socket may go on (bytes are dropped meanwhile)
    this.emit('drain');
  }

  private scheduleRetry(): void {
    this.cancelRetry = this.clock.after(backoffMs(this.attempt, this.policy), () => void this.retry());
  }

  private async retry(): Promise<void> {
    if (this.ending) return;
    this.attempt++;
    const src = this.makeSource();
    this.source = src;
    try {
      await src.connect();
    } catch (err) {
      const e = err instanceof IcewireError ? err : new IcewireError('IW_ERR_ICECAST_LOST', { cause: err });
      if (this.ending) return;
      const elapsed = this.clock.now() - this.lostAt;
      if (FINAL_ON_RECONNECT.has(e.code) || elapsed + backoffMs(this.attempt, this.policy) > this.policy.giveUpMs) {
        this.log.warn('giving up reconnecting to Icecast', { rendition: this.mount, attempts: this.attempt, code: e.code, detail: e.detail });
        this.source = undefined;
        this.emit('failed', e.code === 'IW_ERR_ICECAST_AUTH' ? e : new IcewireError('IW_ERR_ICECAST_LOST', { detail: `gave up after ${this.attempt} attempts: ${e.detail ?? e.code}` }));
        return;
      }
      this.log.debug('reconnect attempt failed', { rendition: this.mount, attempt: this.attempt, code: e.code });
      this.scheduleRetry();
      return;
    }
    if (this.ending) { src.destroy(); return; }
    const header = this.o.header();
    if (header.length > 0) {
      this.bytesOut += header.length;
      src.write(header);
    }
    this.waitingForSync = header.length > 0;
    this.reconnects++;
    this.o.metrics?.icecastReconnects.inc({ mount: this.mount });
    this.log.info('reconnected to Icecast', { rendition: this.mount, attempts: this.attempt, awayMs: this.clock.now() - this.lostAt, bytesDropped: this.bytesDropped });
    // live again at once, or (liveAtSync) once the next sync point is on its way
    if (this.o.liveAtSync) this.syncPending = true;
    else this.setState('live');
  }

  private setState(s: OutputState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  /** Send what's buffered and close; Icecast removes the mount. */
  async end(): Promise<void> {
    this.ending = true;
    this.cancelRetry?.();
    this.setState('ended');
    await this.source?.end();
  }

  destroy(): void {
    this.ending = true;
    this.cancelRetry?.();
    this.source?.destroy();
  }
}
