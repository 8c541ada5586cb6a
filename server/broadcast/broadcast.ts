// One live show on one station mount: connecting -> live -> (reconnecting -> live)* -> ended(reason).
//
// The broadcaster's bytes are demuxed here (InputSession); the Opus packets go into one Ogg/Opus
// stream the daemon writes itself (OggOpusWriter), which feeds Ogg/Opus renditions directly and
// transcoding ffmpegs. That stream outlives the broadcaster's connection: while they are away
// (up to reconnectGraceMs) it is fed with silence, so Icecast never drops the source and listeners
// stay connected; when they come back with their resume token, their packets continue the same
// stream. Each rendition's Icecast connection reconnects by itself (RenditionOutput).
import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { StatsPoller } from '../icecast/stats-poller.js';
import type { Metrics } from '../metrics.js';
import { acceptsUrlMetadata, updateMetadata } from '../icecast/metadata-update.js';
import { contentTypeFor, iceAudioInfo, isCopy, type RenditionPlan } from '../pipeline/ffmpeg-args.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { opusPacketSamples } from '../pipeline/ogg-opus-writer.js';
import { displayTitle, OggFanout, type OpusConsumer, type ShowRecorder } from './ogg-fanout.js';
import { InputSession } from './input-session.js';
import { RenditionOutput, type ReconnectPolicy } from './rendition-output.js';
import { CopyPipe, FfmpegPipe, type RenditionPipe } from './rendition-pipe.js';
import type { StationPlan } from './station-plan.js';

export const END_REASONS = [
  'stopped', 'connection-lost', 'icecast-auth', 'icecast-busy', 'icecast-unreachable', 'icecast-refused',
  'icecast-lost', 'ffmpeg-failed', 'invalid-media', 'ingest-too-slow', 'idle-timeout', 'protocol-error', 'kicked', 'shutdown', 'internal',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** The end reason a person sees for an error code. Pure. */
export function reasonForCode(code: ErrorCode): EndReason {
  switch (code) {
    case 'IW_ERR_ICECAST_AUTH': return 'icecast-auth';
    case 'IW_ERR_ICECAST_MOUNT_IN_USE':
    case 'IW_ERR_MOUNT_BUSY': return 'icecast-busy';
    case 'IW_ERR_ICECAST_UNREACHABLE': return 'icecast-unreachable';
    case 'IW_ERR_ICECAST_LIMIT':
    case 'IW_ERR_ICECAST_REFUSED': return 'icecast-refused';
    case 'IW_ERR_ICECAST_LOST': return 'icecast-lost';
    case 'IW_ERR_PIPELINE_FAILED': return 'ffmpeg-failed';
    case 'IW_ERR_INGEST_INVALID_MEDIA':
    case 'IW_ERR_INGEST_UNSUPPORTED_MEDIA': return 'invalid-media';
    case 'IW_ERR_INGEST_TOO_SLOW': return 'ingest-too-slow';
    case 'IW_ERR_INGEST_IDLE': return 'idle-timeout';
    case 'IW_ERR_SHUTTING_DOWN': return 'shutdown';
    case 'IW_ERR_KICKED': return 'kicked';
    case 'IW_ERR_PROTO_BAD_MESSAGE':
    case 'IW_ERR_PROTO_EXPECTED_HELLO':
    case 'IW_ERR_PROTO_FRAME_TOO_LARGE':
    case 'IW_ERR_PROTO_HELLO_TIMEOUT': return 'protocol-error';
    default: return 'internal';
  }
}

export type BroadcastState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface RenditionStatus {
  readonly mount: string;
  readonly format: string;
  readonly contentType: string;
  readonly url: string;
  readonly state: BroadcastState;
  readonly listeners: number;
  readonly bytesOut: number;
}

export interface BroadcastStatus {
  readonly state: BroadcastState;
  readonly listeners: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly since?: string;
  readonly renditions: readonly RenditionStatus[];
  readonly reason?: EndReason;
  readonly title?: string;
  /** Only in frames to the broadcaster: present it in a new hello to continue after a drop. */
  readonly resume?: string;
}

/** The connection side of a broadcast (the WebSocket). */
export interface BroadcastSink {
  sendStatus(status: BroadcastStatus): void;
  /** The broadcast ended (or moved to another connection) because of err; undefined = normal end. */
  close(err: IcewireError | undefined): void;
}

export interface BroadcastDeps {
  readonly icecastUrl: string;
  readonly icecastPublicUrl: string;
  readonly legacySource: boolean;
  /** This daemon's name, sent to Icecast with each source connection (docs/scaling.md). */
  readonly instanceName?: string;
  readonly connectTimeoutMs: number;
  readonly ffmpegPath: string;
  readonly stats: StatsPoller | undefined;
  readonly logger: Logger;
  readonly reconnect: ReconnectPolicy;
  /** How long a broadcast waits for its broadcaster to come back. */
  readonly reconnectGraceMs: number;
  /** How long the broadcaster's socket may stay paused (downstream not reading) before ingest-too-slow. */
  readonly stallTimeoutMs: number;
  /** How long an attached broadcaster may send nothing. */
  readonly idleTimeoutMs: number;
  readonly maxQueueBytes: number;
  readonly statusIntervalMs?: number;
  readonly metrics?: Metrics;
  /** The show recorder for this broadcast, when its station mount records. */
  readonly createRecorder?: (b: Broadcast) => ShowRecorder | undefined;
}

const TITLE_ATTEMPTS = 5;
/** A browser sends a chunk at least every second: this long without one, silence fills in. */
const INPUT_GAP_SILENCE_MS = 2500;
/** How often silence is written while the broadcaster is away. */
const SILENCE_TICK_MS = 100;

export declare interface Broadcast {
  on(event: 'drain', listener: () => void): this;
  on(event: 'ended', listener: (reason: EndReason) => void): this;
  once(event: 'ended', listener: (reason: EndReason) => void): this;
}

export class Broadcast extends EventEmitter {
  readonly id = randomUUID();
  readonly startedAt = new Date();
  readonly resumeToken = randomBytes(18).toString('base64url');
  state: BroadcastState = 'connecting';
  since: Date | undefined;
  reason: EndReason | undefined;
  bytesIn = 0;
  title: string | undefined;
  /** Times the broadcaster came back after a drop. */
  resumes = 0;
  private readonly pipes: RenditionPipe[];
  private readonly log: Logger;
  private session: InputSession;
  /** The Ogg/Opus stream transcoders read (never chained). */
  private readonly feed: OggFanout;
  /** The Ogg/Opus stream Ogg/Opus mounts send (a new chain per title). */
  private readonly copy: OggFanout;
  /** Everything that gets the Opus packets, in order: the two streams, then extra consumers (recorder). */
  private readonly consumers: OpusConsumer[];
  private opusStarted = false;
  private readonly recorder: ShowRecorder | undefined;
  /** The next raw chunk is the first of a connection's stream. */
  private rawStreamStart = true;
  artist: string | undefined;
  /** The title field alone (title is "Artist - Title" as Icecast shows it). */
  songTitle: string | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private awaySince: number | undefined;
  /** Silence is being written since then (broadcaster away, or their stream stalled). */
  private silenceFrom: number | undefined;
  private silenceMs = 0;
  /** Late audio (48 kHz samples) still to drop after a stall was filled with silence. */
  private lateSamples = 0;
  /** Labelled once: write() is the hot path. */
  private readonly bytesInCounter: { inc(n: number): void } | undefined;
  private pausedSince: number | undefined;
  private lastDataAt = Date.now();
  private readonly endedPromise: Promise<void>;
  private resolveEnded!: () => void;
  private ending = false;
  private titleInFlight = false;
  private titleAgain = false;

  constructor(
    readonly plan: StationPlan,
    public input: InputMedia,
    readonly user: string,
    private readonly deps: BroadcastDeps,
    private sink: BroadcastSink | undefined,
  ) {
    super();
    this.log = deps.logger.child({ broadcast: this.id.slice(0, 8), mount: plan.id });
    this.endedPromise = new Promise((r) => { this.resolveEnded = r; });
    this.session = new InputSession(input);
    this.bytesInCounter = deps.metrics?.bytesIn.labels({ station: plan.id });
    this.pipes = plan.renditions.map((r) => this.makePipe(r));
    this.feed = new OggFanout(this.pipes.filter((p) => p instanceof FfmpegPipe && p.readsOgg));
    this.copy = new OggFanout(this.pipes.filter((p) => p instanceof CopyPipe));
    const recorder = deps.createRecorder?.(this);
    this.recorder = recorder === undefined ? undefined : guardRecorder(recorder, this.log);
    this.consumers = [this.feed, this.copy, ...(this.recorder !== undefined ? [this.recorder] : [])];
  }

  get stationMount(): string {
    return this.plan.id;
  }

  private makePipe(plan: RenditionPlan): RenditionPipe {
    const log = this.log.child({ rendition: plan.mount });
    const { bitrate, audioInfo } = iceAudioInfo(plan);
    let pipe: RenditionPipe | undefined;
    const output = new RenditionOutput({
      url: this.deps.icecastUrl,
      mount: plan.mount,
      user: this.plan.sourceUser,
      password: this.plan.sourcePassword,
      contentType: contentTypeFor(plan.format, this.input),
      ice: { ...this.plan.ice, bitrate, audioInfo },
      legacySource: this.deps.legacySource,
      instanceName: this.deps.instanceName,
      connectTimeoutMs: this.deps.connectTimeoutMs,
      logger: log,
    }, () => (pipe as CopyPipe | FfmpegPipe).header(), this.deps.reconnect, log, this.deps.maxQueueBytes, this.deps.metrics);
    output.on('state', () => this.onOutputState());
    if (plan.format === 'ogg-opus' && isCopy(plan)) {
      pipe = new CopyPipe(plan, output);
    } else {
      // WebM renditions remux what the browser sent (video and all); audio transcodes read the
      // daemon's continuous Ogg/Opus stream.
      pipe = new FfmpegPipe(plan, output, {
        feed: plan.format === 'webm' ? 'raw' : 'ogg',
        input: this.input,
        ffmpegPath: this.deps.ffmpegPath,
        logger: log,
        maxQueueBytes: this.deps.maxQueueBytes,
        ...(this.deps.metrics !== undefined ? { metrics: this.deps.metrics } : {}),
      });
    }
    pipe.on('failed', (err) => this.fail(err));
    pipe.on('drain', () => this.maybeDrain());
    return pipe;
  }

  /** Start every rendition: resolves when Icecast accepted them all; on a refusal, ends and rejects. */
  async start(): Promise<void> {
    this.log.info('broadcast starting', { user: this.user, mime: this.input.mime, renditions: this.plan.renditions.map((r) => `${r.mount}:${r.format}`).join(',') });
    this.statusTimer = setInterval(() => this.tick(), this.deps.statusIntervalMs ?? 1000);
    this.statusTimer.unref();
    this.pushStatus();
    try {
      await Promise.all(this.pipes.map((p) => p.start()));
    } catch (err) {
      const e = err instanceof IcewireError ? err : new IcewireError('IW_ERR_INTERNAL', { cause: err });
      this.fail(e);
      throw e;
    }
    if (this.ending) throw new IcewireError('IW_ERR_INTERNAL', { detail: 'broadcast ended while starting' });
    this.since = new Date();
    this.state = this.sink === undefined ? 'reconnecting' : 'live';
    this.log.info('broadcast is live', { renditions: this.plan.renditions.map((r) => r.mount).join(',') });
    this.deps.metrics?.broadcastsStarted.inc({ station: this.stationMount });
    this.pushStatus();
    void this.pushTitle();
  }

  /** Broadcaster bytes in. false = pause the socket until 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.ending) return true;
    this.bytesIn += chunk.length;
    this.bytesInCounter?.inc(chunk.length);
    this.lastDataAt = Date.now();
    if (this.silenceTimer !== undefined && this.sink !== undefined) {
      const ms = this.stopSilence();
      // The stalled audio arrives now, late: as much of it as the silence stood in for is
      // dropped, so listeners stay at live delay instead of falling behind for good.
      this.lateSamples += ms * 48;
      this.log.info('the broadcaster\'s stream flows again', { silenceMs: ms });
    }
    const out = this.session.push(chunk);
    if (out.error !== undefined) {
      this.fail(new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { detail: out.error }));
      return true;
    }
    let ok = true;
    for (const p of this.pipes) if (!p.raw(chunk, out.syncOffsets, this.session.header)) ok = false;
    this.recorder?.raw(chunk, this.rawStreamStart);
    this.rawStreamStart = false;
    if (out.opusHead !== undefined && !this.opusStarted) {
      // The first stream's OpusHead defines the whole broadcast's Ogg streams; a resumed
      // connection's packets continue them (same serial, granules keep counting).
      try {
        for (const c of this.consumers) c.start(out.opusHead);
      } catch (err) {
        this.fail(err instanceof IcewireError ? err : new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { cause: err }));
        return true;
      }
      this.opusStarted = true;
    }
    if (this.opusStarted) {
      for (const packet of out.opus) {
        if (this.lateSamples > 0) {
          this.lateSamples -= opusPacketSamples(packet);
          continue;
        }
        for (const c of this.consumers) if (!c.packet(packet)) ok = false;
      }
    }
    if (!ok && this.pausedSince === undefined) this.pausedSince = Date.now();
    return ok;
  }

  private maybeDrain(): void {
    if (this.pausedSince === undefined) return;
    if (this.pipes.every((p) => !p.needsDrain)) {
      this.pausedSince = undefined;
      this.emit('drain');
    }
  }

  /** Now playing: Ogg/Opus mounts get a new chain with the tags; MP3 and Vorbis mounts a title update. */
  setMetadata(meta: { title?: string | undefined; artist?: string | undefined }): void {
    const title = meta.title?.trim() || undefined;
    const artist = meta.artist?.trim() || undefined;
    if (title === this.songTitle && artist === this.artist) return;
    this.songTitle = title;
    this.artist = artist;
    this.title = displayTitle({ title, artist });
    if (!this.ending) this.copy.retitle({ title, artist });
    if (this.state === 'live' || this.state === 'reconnecting') void this.pushTitle();
    this.pushStatus();
  }

  /**
   * One update in flight at a time, then the latest title: a flood of metadata frames costs
   * Icecast at most one request per rendition at a time.
   */
  private async pushTitle(): Promise<void> {
    if (this.titleInFlight) { this.titleAgain = true; return; }
    this.titleInFlight = true;
    try {
      do {
        this.titleAgain = false;
        await this.pushTitleOnce();
      } while (this.titleAgain && !this.ending);
    } finally {
      this.titleInFlight = false;
    }
  }

  private async pushTitleOnce(): Promise<void> {
    const title = this.title;
    if (title === undefined) return;
    await Promise.all(this.plan.renditions.filter((r) => acceptsUrlMetadata(r.format)).map(async (r) => {
      // Icecast only takes a title once it has seen the stream's codec headers, which a
      // transcoder writes a moment after going live: try a few times.
      for (let attempt = 1; attempt <= TITLE_ATTEMPTS && !this.ending && this.title === title; attempt++) {
        try {
          const ok = await updateMetadata({
            url: this.deps.icecastUrl, mount: r.mount, user: this.plan.sourceUser, password: this.plan.sourcePassword,
            title, timeoutMs: this.deps.connectTimeoutMs,
          });
          if (ok) return;
          if (attempt === TITLE_ATTEMPTS) this.log.warn('Icecast did not take the title', { rendition: r.mount });
        } catch (err) {
          if (attempt === TITLE_ATTEMPTS) this.log.warn('could not update the title', { rendition: r.mount, error: (err as Error).message });
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt).unref());
      }
    }));
  }

  // ---- the broadcaster's connection comes and goes -------------------------------------------

  /** The connection dropped without a stop: keep the show going on silence for a grace period. */
  detach(sink: BroadcastSink): void {
    if (this.ending || this.sink !== sink) return;
    this.sink = undefined;
    this.awaySince = Date.now();
    this.pausedSince = undefined;
    this.log.info('broadcaster connection lost; waiting for them to come back', { graceMs: this.deps.reconnectGraceMs });
    this.startSilence(this.lastDataAt);
    this.graceTimer = setTimeout(() => {
      this.log.info('broadcaster did not come back in time', { graceMs: this.deps.reconnectGraceMs });
      void this.end('connection-lost');
    }, this.deps.reconnectGraceMs);
    this.graceTimer.unref();
    this.onOutputState();
  }

  /** May this hello continue this broadcast? (its token, the same broadcaster, the same kind of media) */
  canResume(token: string | undefined, user: string, sourcePassword: string, input: InputMedia): boolean {
    if (this.ending || token === undefined || user !== this.user) return false;
    // passthrough: the Icecast password is the broadcaster's credential; accounts: both are the config's
    if (!sameSecret(sourcePassword, this.plan.sourcePassword) || !sameSecret(token, this.resumeToken)) return false;
    return (input.video === undefined) === (this.input.video === undefined);
  }

  /** The broadcaster is back (or took over from another connection): a new input stream continues the show. */
  attach(sink: BroadcastSink, input: InputMedia): void {
    if (this.ending) return;
    const previous = this.sink;
    this.sink = sink;
    if (previous !== undefined) {
      previous.close(new IcewireError('IW_ERR_RESUMED_ELSEWHERE'));
    }
    const silenceMs = this.stopSilence();
    // a new connection's stream starts now: nothing of it is late
    this.lateSamples = 0;
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    const awayMs = this.awaySince !== undefined ? Date.now() - this.awaySince : 0;
    this.awaySince = undefined;
    this.input = input;
    this.session = new InputSession(input);
    this.rawStreamStart = true;
    this.pausedSince = undefined;
    this.lastDataAt = Date.now();
    this.resumes++;
    this.deps.metrics?.resumes.inc({ station: this.stationMount });
    for (const p of this.pipes) p.newRawStream();
    this.log.info('broadcaster is back; the broadcast continues', { awayMs, silenceMs });
    this.onOutputState();
  }

  isAttached(sink: BroadcastSink): boolean {
    return this.sink === sink;
  }

  /**
   * Keep every audio stream flowing on silence from `from` (the last media): Icecast must never
   * see a source go quiet long enough for its source-timeout, listeners hear a gap, not a drop.
   */
  private startSilence(from: number): void {
    if (this.silenceTimer !== undefined) return;
    this.silenceFrom = from;
    this.silenceMs = 0;
    this.silenceTimer = setInterval(() => this.fillSilence(), SILENCE_TICK_MS);
    this.silenceTimer.unref();
    this.fillSilence();
  }

  /** Stop writing silence; returns how much was written. */
  private stopSilence(): number {
    if (this.silenceTimer !== undefined) clearInterval(this.silenceTimer);
    this.silenceTimer = undefined;
    this.silenceFrom = undefined;
    return this.silenceMs;
  }

  private fillSilence(): void {
    if (this.silenceFrom === undefined || !this.opusStarted || this.ending) return;
    const due = Date.now() - this.silenceFrom - this.silenceMs;
    const ms = Math.floor(due / 20) * 20;
    if (ms < 20) return;
    this.silenceMs += ms;
    for (const c of this.consumers) c.silence(ms);
  }

  // ---- state and status -----------------------------------------------------------------------

  private onOutputState(): void {
    if (this.ending || this.since === undefined) return;
    const reconnecting = this.sink === undefined || this.pipes.some((p) => p.output.state === 'reconnecting');
    const next: BroadcastState = reconnecting ? 'reconnecting' : 'live';
    if (next !== this.state) {
      this.state = next;
      this.log.info(next === 'live' ? 'broadcast is live again' : 'broadcast is reconnecting');
      this.pushStatus();
      // a new Icecast source starts without a title
      if (next === 'live') void this.pushTitle();
    }
  }

  private tick(): void {
    if (this.pausedSince !== undefined && Date.now() - this.pausedSince > this.deps.stallTimeoutMs) {
      this.fail(new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `the stream could not be passed on for ${this.deps.stallTimeoutMs} ms` }));
      return;
    }
    const quietMs = Date.now() - this.lastDataAt;
    if (this.sink !== undefined && this.pausedSince === undefined && quietMs > INPUT_GAP_SILENCE_MS && this.silenceTimer === undefined && this.since !== undefined) {
      // a connection that died without closing: the page notices only after a few seconds
      this.log.info('no media from the broadcaster; filling with silence', { quietMs });
      this.startSilence(this.lastDataAt);
    }
    if (this.sink !== undefined && this.pausedSince === undefined && quietMs > this.deps.idleTimeoutMs) {
      this.fail(new IcewireError('IW_ERR_INGEST_IDLE', { detail: `no media for ${this.deps.idleTimeoutMs} ms` }));
      return;
    }
    this.pushStatus();
  }

  status(): BroadcastStatus {
    const base = this.deps.icecastPublicUrl.replace(/\/+$/, '');
    const renditions = this.pipes.map((p) => ({
      mount: p.plan.mount,
      format: p.plan.format,
      contentType: contentTypeFor(p.plan.format, this.input),
      url: `${base}${p.plan.mount}`,
      state: this.ending ? 'ended' as const : p.output.state === 'connecting' ? 'connecting' as const : p.output.state === 'reconnecting' ? 'reconnecting' as const : 'live' as const,
      listeners: this.deps.stats?.listeners(p.plan.mount) ?? 0,
      bytesOut: p.output.bytesOut,
    }));
    return {
      state: this.state,
      listeners: renditions.reduce((n, r) => n + r.listeners, 0),
      bytesIn: this.bytesIn,
      bytesOut: renditions.reduce((n, r) => n + r.bytesOut, 0),
      ...(this.since !== undefined ? { since: this.since.toISOString() } : {}),
      renditions,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      ...(this.title !== undefined ? { title: this.title } : {}),
    };
  }

  private pushStatus(): void {
    if (this.sink === undefined) return;
    try {
      this.sink.sendStatus({ ...this.status(), ...(this.ending ? {} : { resume: this.resumeToken }) });
    } catch (err) {
      this.log.warn('could not send status', { err });
    }
  }

  // ---- the end --------------------------------------------------------------------------------

  /** End because something went wrong: the person is told, then the pipeline is torn down. */
  fail(err: IcewireError): void {
    if (this.ending) return;
    const reason = reasonForCode(err.code);
    const level = reason === 'ffmpeg-failed' || reason === 'icecast-refused' || reason === 'internal' ? 'error' : 'warn';
    this.log.log(level, 'broadcast failed', { code: err.code, reason, detail: err.detail });
    void this.end(reason, err);
  }

  /** End the broadcast. Graceful for every reason: streams get their end pages, Icecast sees an end. */
  async end(reason: EndReason, err?: IcewireError): Promise<void> {
    if (this.ending) return this.endedPromise;
    this.ending = true;
    this.reason = reason;
    for (const t of [this.statusTimer, this.silenceTimer]) if (t !== undefined) clearInterval(t);
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    const wasLive = this.since !== undefined;
    this.state = 'ended';
    this.pushStatus();
    try {
      this.sink?.close(err);
    } catch (e) {
      this.log.warn('could not close the connection', { err: e });
    }
    const feedEos = this.feed.end();
    const copyEos = this.copy.end();
    // the recording's end page must not wait for a slow rendition (SIGTERM has a hard bound)
    await Promise.all([
      ...this.pipes.map(async (p) => {
        try {
          await p.finish(p instanceof CopyPipe ? copyEos : feedEos);
        } catch (e) {
          this.log.warn('error while finishing a rendition', { rendition: p.plan.mount, err: e });
          await p.kill();
        }
      }),
      this.recorder?.finish(),
    ]);
    this.log.info('broadcast ended', {
      reason, wasLive, bytesIn: this.bytesIn, resumes: this.resumes,
      seconds: this.since ? Math.round((Date.now() - this.since.getTime()) / 1000) : 0,
      ...(err ? { code: err.code } : {}),
    });
    this.deps.metrics?.broadcastsEnded.inc({ station: this.stationMount, reason });
    this.resolveEnded();
    this.emit('ended', reason);
  }

  /** Kill every ffmpeg now: the last resort of a shutdown that ran out of time. */
  async kill(): Promise<void> {
    await Promise.all(this.pipes.map((p) => p.kill()));
  }

  /** Ending but not yet torn down (its Icecast sources may still be closing). */
  get isEnding(): boolean {
    return this.ending;
  }

  whenEnded(): Promise<void> {
    return this.endedPromise;
  }

  /** ffmpeg pids (for tests and metrics). */
  get pids(): number[] {
    return this.pipes.flatMap((p) => p.pids);
  }

  /** For fault tests and metrics. */
  get renditionPipes(): readonly RenditionPipe[] {
    return this.pipes;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A recorder must never take a broadcast down: any exception from it is logged once and the
 * recorder is dropped (the show goes on unrecorded).
 */
function guardRecorder(r: ShowRecorder, log: Logger): ShowRecorder {
  let broken = false;
  const guard = <T>(what: string, fn: () => T, fallback: T): T => {
    if (broken) return fallback;
    try {
      return fn();
    } catch (err) {
      broken = true;
      log.error('the recorder failed; the broadcast continues unrecorded', { during: what, err });
      return fallback;
    }
  };
  return {
    start: (head) => guard('start', () => r.start(head), undefined),
    packet: (data) => guard('packet', () => r.packet(data), true),
    silence: (ms) => guard('silence', () => r.silence(ms), undefined),
    raw: (chunk, newStream) => guard('raw', () => r.raw(chunk, newStream), undefined),
    finish: () => guard('finish', () => r.finish(), Promise.resolve()),
  };
}
