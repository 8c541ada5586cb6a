// One live show on one station mount, as a state machine (lifecycle.ts):
//   connecting -> live -> (reconnecting -> live)* -> ending -> ended(reason)
//
// What moves it: every rendition's Icecast connection accepted (-> live); the broadcaster's
// connection dropping (-> reconnecting, for up to reconnectGraceMs) and coming back with its
// resume token (-> live); a rendition's Icecast connection reconnecting (-> reconnecting) and back
// (-> live); a failure, a stop, a kick or shutdown (-> ending -> ended). The parts it drives each
// have their own module: the media path (media-path.ts), silence for gaps (gap-filler.ts), "now
// playing" (title-updater.ts) and the renditions (renditions.ts). Time comes from an injected
// clock, so unit tests run a broadcast's whole life in milliseconds.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { systemClock, type Cancel, type Clock } from '../clock.js';
import { endReasonFor, IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { updateMetadata } from '../icecast/metadata-update.js';
import { cleanMetadata } from '../icecast/title-text.js';
import type { InputMedia } from '../pipeline/media-type.js';
import type { BroadcastDeps, BroadcastSink, BroadcastStatus } from './broadcast-deps.js';
import { displayTitle } from './ogg-fanout.js';
import { everyTellingStalls, noteStall } from './daemon-stall.js';
import { fillSoon, GapFiller } from './gap-filler.js';
import { LateReads } from './late-reads.js';
import { Lifecycle, type LifecycleState } from './lifecycle.js';
import { MediaPath } from './media-path.js';
import type { Rendition } from './rendition-pipe.js';
import { createRendition } from './renditions.js';
import type { StationPlan } from './station-plan.js';
import { mediaShape, ResumeTicket, type IngestKind } from './resume-ticket.js';
import { StatusFrames } from './status-frames.js';
import { titleUpdaterFor, type TitleUpdater } from './title-updater.js';
import { INPUT_GAP_SILENCE_MS, UploadWatch } from './upload-watch.js';
import type { BroadcastState, EndReason } from '../../www/src/wire-contract.js';

export type { EndReason, IngestKind };
export type { BroadcastDeps, BroadcastSink, BroadcastStatus } from './broadcast-deps.js';

export declare interface Broadcast {
  on(event: 'drain', listener: () => void): this;
  on(event: 'ended', listener: (reason: EndReason) => void): this;
  once(event: 'ended', listener: (reason: EndReason) => void): this;
}

export class Broadcast extends EventEmitter {
  readonly id = randomUUID();
  readonly startedAt: Date;
  /** When Icecast first accepted every rendition. */
  since: Date | undefined;
  bytesIn = 0;
  /** "Artist - Title", as Icecast shows it. */
  title: string | undefined;
  artist: string | undefined;
  /** The title field alone. */
  songTitle: string | undefined;
  /** Times the broadcaster came back after a drop. */
  resumes = 0;
  /** The state machine (its state with `ending`, and the end reason). */
  readonly lifecycle = new Lifecycle();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly parts: readonly Rendition[];
  private readonly ticket: ResumeTicket;
  private readonly media: MediaPath;
  private readonly gap: GapFiller;
  /** Audio the daemon itself reads late for seconds is shed (late-reads.ts). */
  private readonly late: LateReads;
  private readonly titles: TitleUpdater;
  private cancelStatus: Cancel | undefined;
  private readonly frames: StatusFrames;
  private cancelGrace: Cancel | undefined;
  /** A fill decided at a tick, started on the next turn unless media came meanwhile. */
  private cancelFill: Cancel | undefined;
  private readonly silenceSkipped: { stall?: { inc(): void } | undefined; arrived?: { inc(): void } | undefined };
  private awaySince: number | undefined;
  private readonly upload: UploadWatch;
  /** Labelled once: write() is the hot path. */
  private readonly bytesInCounter: { inc(n: number): void } | undefined;
  private readonly endedPromise: Promise<void>;
  private resolveEnded!: () => void;

  constructor(
    readonly plan: StationPlan,
    public input: InputMedia,
    readonly user: string,
    private readonly deps: BroadcastDeps,
    private sink: BroadcastSink | undefined,
    /** The front door it came through (the webcast WebSocket, or a desktop source client). */
    readonly ingest: IngestKind = 'websocket',
  ) {
    super();
    this.clock = deps.clock ?? systemClock;
    this.startedAt = new Date(this.clock.now());
    this.upload = new UploadWatch(this.clock, deps);
    this.log = deps.logger.child({ broadcast: this.id.slice(0, 8), mount: plan.id });
    this.endedPromise = new Promise((r) => { this.resolveEnded = r; });
    this.bytesInCounter = deps.metrics?.bytesIn.labels({ station: plan.id, ingest });
    this.ticket = new ResumeTicket({
      user, sourcePassword: plan.sourcePassword, ingest, shape: () => mediaShape(this.input),
      clientGone: () => this.sink === undefined || this.upload.quietMs > INPUT_GAP_SILENCE_MS,
    });
    const make = deps.createRendition ?? createRendition;
    this.parts = plan.renditions.map((r) => {
      const part = make(r, { ...deps, station: plan, input, clock: this.clock, log: this.log });
      part.on('failed', (err) => this.fail(err));
      part.on('drain', () => this.maybeDrain());
      part.on('state', () => this.settle());
      return part;
    });
    this.media = new MediaPath(input, this.parts, deps.createRecorder?.(this), this.log, {
      ffmpegPath: deps.ffmpegPath, maxQueueBytes: deps.maxQueueBytes, clock: this.clock,
      // input running ahead of the clock beyond the bound throws, and the broadcast ends
      admit: (packet) => this.admit(packet),
      createNormaliser: deps.createNormaliser,
    });
    this.media.on('failed', (err) => this.fail(err));
    this.media.on('drain', () => this.maybeDrain());
    // the normaliser's packets found a consumer full: the upload waits (and counts as stalled)
    this.media.on('full', () => this.upload.pause());
    const shed = deps.metrics?.audioShed.labels({ station: plan.id, why: 'stalled-upload' });
    const shedLate = deps.metrics?.audioShed.labels({ station: plan.id, why: 'read-late' });
    this.late = new LateReads({
      dropped: (ms) => shedLate?.inc(ms / 1000),
      episode: (on, { lateMs, shedMs, caughtUp }) => {
        if (on) this.log.warn('the daemon reads this broadcast\'s audio late; dropping late audio to keep listeners live', { lateMs: Math.round(lateMs) });
        else this.log.info(caughtUp ? 'the daemon reads this broadcast\'s audio on time again' : 'the daemon stays late; its lateness is kept as this broadcast\'s delay',
          { lateMs: Math.round(lateMs), shedMs: Math.round(shedMs) });
        this.pushStatus(true);
      },
    });
    this.silenceSkipped = {
      stall: deps.metrics?.silenceSkipped.labels({ station: plan.id, why: 'daemon-stall' }),
      arrived: deps.metrics?.silenceSkipped.labels({ station: plan.id, why: 'media-arrived' }),
    };
    this.gap = new GapFiller(this.clock, (ms) => this.media.silence(ms), () => this.media.started && !this.isEnding, (ms) => shed?.inc(ms / 1000), {
      // with the broadcaster's socket open, the audio of a stall may be waiting in it
      inputMayWait: () => this.sink !== undefined,
      // a fill (or a filling tick) skipped because the daemon itself had stalled: counted, logged once per episode
      skipped: (stalledMs) => { this.silenceSkipped.stall?.inc(); noteStall(this.clock, this.log, stalledMs); },
    });
    this.frames = new StatusFrames({
      source: this, parts: this.parts, icecastPublicUrl: deps.icecastPublicUrl, listeners: (m) => deps.stats?.listeners(m) ?? 0, clock: this.clock, log: this.log,
    });
    this.titles = titleUpdaterFor(plan, { ...deps, send: deps.updateTitle ?? updateMetadata, current: () => this.title, stopped: () => this.isEnding, clock: this.clock, log: this.log });
  }

  get stationMount(): string {
    return this.plan.id;
  }

  /** The state a client sees. */
  get state(): BroadcastState {
    return this.lifecycle.wireState;
  }

  /** Ending but not yet torn down (its Icecast sources may still be closing), or ended. */
  get isEnding(): boolean {
    return this.lifecycle.isOver;
  }

  /** Start every rendition: resolves when Icecast accepted them all; on a refusal, ends and rejects. */
  async start(): Promise<void> {
    this.log.info('broadcast starting', { user: this.user, mime: this.input.mime, renditions: this.plan.renditions.map((r) => `${r.mount}:${r.format}`).join(',') });
    this.cancelStatus = everyTellingStalls(this.clock, this.deps.statusIntervalMs ?? 1000, (stalledMs) => this.tick(stalledMs));
    this.pushStatus();
    try {
      await Promise.all(this.parts.map((p) => p.start()));
    } catch (err) {
      const e = toIcewireError(err);
      this.fail(e);
      throw e;
    }
    if (this.isEnding) throw new IcewireError('IW_ERR_INTERNAL', { detail: 'broadcast ended while starting' });
    this.since = new Date(this.clock.now());
    this.log.info('broadcast is live', { renditions: this.plan.renditions.map((r) => r.mount).join(',') });
    this.deps.metrics?.broadcastsStarted.inc({ station: this.stationMount, ingest: this.ingest });
    this.settle();
    // live pushes the title itself; a source that is up while its broadcaster is away gets it too
    if (this.lifecycle.state === 'reconnecting') void this.titles.push();
  }

  /** Broadcaster bytes in. false = full: hold further bytes until 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.isEnding) return true;
    this.bytesIn += chunk.length;
    this.bytesInCounter?.inc(chunk.length);
    this.upload.data();
    if (this.gap.active && this.sink !== undefined) {
      // the backlog the silence stood in for is dropped before it is judged late (late-reads.ts)
      const silenceMs = this.gap.resumeLate();
      this.log.info('the broadcaster\'s stream flows again', { silenceMs });
    }
    let ok: boolean;
    try {
      ok = this.media.push(chunk);
    } catch (err) {
      this.fail(toIcewireError(err));
      return true;
    }
    if (!ok) this.upload.pause();
    return ok;
  }

  /**
   * Each Opus packet: within the media lead (else it throws), not late audio that silence stood in
   * for (gap-filler.ts), and not read late for seconds (late-reads.ts: the recording keeps it).
   */
  private admit(packet: Buffer): boolean | 'recording' {
    const pace = this.upload.pace;
    const before = pace.mediaMs;
    pace.admit(packet);
    if (!this.gap.admit(packet)) return false;
    return this.late.admit(pace.takenAt, pace.lateMs, pace.mediaMs - before) || 'recording';
  }

  private maybeDrain(): void {
    if (this.upload.pausedSince === undefined) return;
    if (this.parts.every((p) => !p.needsDrain) && !this.media.needsDrain) {
      this.upload.flow();
      this.media.resume();
      this.emit('drain');
    }
  }

  /** Now playing: Ogg/Opus mounts get a new chain with the tags; MP3 and Vorbis mounts a title update. */
  setMetadata(meta: { title?: string | undefined; artist?: string | undefined }): void {
    // the one way in for now-playing text, from any source: cleaned here, once
    const { title, artist } = cleanMetadata(meta);
    if (title === this.songTitle && artist === this.artist) return;
    this.songTitle = title;
    this.artist = artist;
    this.title = displayTitle({ title, artist });
    if (!this.isEnding) this.media.retitle({ title, artist });
    if (this.since !== undefined && !this.isEnding) void this.titles.push();
    this.pushStatus();
  }

  // ---- the broadcaster's connection comes and goes -------------------------------------------

  /**
   * The connection dropped without a stop: keep the show going on silence for a grace period,
   * then end with `reasonIfGone` (a source client has no other way to stop than to go).
   */
  detach(sink: BroadcastSink, reasonIfGone: EndReason = 'connection-lost'): void {
    if (this.isEnding || this.sink !== sink) return;
    this.sink = undefined;
    this.awaySince = this.clock.now();
    this.upload.flow();
    this.log.info('broadcaster connection lost; waiting for them to come back', { graceMs: this.deps.reconnectGraceMs });
    this.gap.start(this.upload.lastDataAt);
    this.cancelGrace = this.clock.after(this.deps.reconnectGraceMs, () => {
      this.log.info('broadcaster did not come back in time', { graceMs: this.deps.reconnectGraceMs });
      void this.end(reasonIfGone);
    });
    this.settle();
  }

  /** May this connection continue this broadcast? (resume-ticket.ts) */
  canResume(token: string | undefined, user: string, sourcePassword: string, input: InputMedia, ingest: IngestKind = 'websocket'): boolean {
    return !this.isEnding && this.ticket.admits({ token, user, sourcePassword, ingest, shape: mediaShape(input) });
  }

  /** The token a broadcaster presents to resume (status frames carry it). */
  get resumeToken(): string {
    return this.ticket.token;
  }

  /** The broadcaster is back (or took over from another connection): a new input stream continues the show. */
  attach(sink: BroadcastSink, input: InputMedia): void {
    if (this.isEnding) return;
    const previous = this.sink;
    this.sink = sink;
    previous?.close(new IcewireError('IW_ERR_RESUMED_ELSEWHERE'));
    const silenceMs = this.gap.stop();
    this.gap.forgetLate();
    this.late.reset(); // a new stream: what it recorded while away comes at once
    this.cancelGrace?.();
    this.cancelGrace = undefined;
    const awayMs = this.awaySince !== undefined ? this.clock.now() - this.awaySince : 0;
    this.awaySince = undefined;
    this.input = input;
    this.media.newConnection(input);
    this.upload.flow(true);
    this.resumes++;
    this.deps.metrics?.resumes.inc({ station: this.stationMount });
    this.log.info('broadcaster is back; the broadcast continues', { awayMs, silenceMs });
    this.settle();
  }

  isAttached(sink: BroadcastSink): boolean {
    return this.sink === sink;
  }

  // ---- state and status -----------------------------------------------------------------------

  /** Where the facts put the broadcast now: live, or reconnecting while anyone is away. */
  private settle(): void {
    if (this.isEnding || this.since === undefined) return;
    const away = this.sink === undefined || this.parts.some((p) => p.output.state === 'reconnecting');
    const next = away ? 'reconnecting' : 'live';
    if (next === this.lifecycle.state) return;
    const from = this.move(next);
    if (from === undefined) return;
    if (from !== 'connecting') this.log.info(next === 'live' ? 'broadcast is live again' : 'broadcast is reconnecting');
    this.pushStatus();
    // a new Icecast source starts without a title
    if (next === 'live') void this.titles.push();
  }

  /** One transition; an impossible one is a bug: logged, and the broadcast ends rather than go on in a state nothing expects. */
  private move(next: LifecycleState, reason?: EndReason): LifecycleState | undefined {
    try {
      return this.lifecycle.to(next, reason);
    } catch (err) {
      const e = toIcewireError(err);
      this.log.error('impossible broadcast transition', { detail: e.detail });
      if (!this.isEnding) void this.end('internal', e);
      return undefined;
    }
  }

  private tick(stalledMs: number): void {
    const verdict = this.upload.verdict(this.sink !== undefined, this.since !== undefined, this.gap.active);
    // the daemon stalled: it read nothing either, so "no media" (or "not passed on") says nothing
    // about the broadcaster or the renditions; the next tick on time judges
    if (stalledMs > 0) {
      noteStall(this.clock, this.log, stalledMs);
      if (verdict === 'fill') this.silenceSkipped.stall?.inc();
    } else switch (verdict) {
      case 'too-slow':
        this.fail(new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `the stream could not be passed on for ${this.deps.stallTimeoutMs} ms` }));
        return;
      case 'idle':
        this.fail(new IcewireError('IW_ERR_INGEST_IDLE', { detail: `no media for ${this.deps.idleTimeoutMs} ms` }));
        return;
      case 'fill':
        // before its first media there is no stream to fill (and nothing "flows again" at it)
        if (this.media.started) this.fillSoon();
        break;
    }
    this.maybeDrain(); // a consumer that emptied without a 'drain' (an ffmpeg restarted while full)
    this.pushStatus(true);
  }

  /** A fill decided at a tick starts on the next turn, unless media came meanwhile (gap-filler.ts). */
  private fillSoon(): void {
    if (this.cancelFill !== undefined) return;
    this.cancelFill = fillSoon({
      clock: this.clock,
      lastDataAt: () => this.upload.lastDataAt,
      may: () => { this.cancelFill = undefined; return !this.isEnding && this.sink !== undefined && !this.gap.active; },
      arrived: (quietMs) => { this.silenceSkipped.arrived?.inc(); this.log.debug('media came right after the gap timer; no silence', { quietMs }); },
      start: (from) => { this.log.info('no media from the broadcaster; filling with silence', { quietMs: this.upload.quietMs }); this.gap.start(from); },
    });
  }

  status(): BroadcastStatus {
    return this.frames.status();
  }

  /** Late audio dropped so listeners stay live (after a stalled upload, read late by the daemon for seconds, or ahead of a transcoder that fell behind), ms. */
  get shedMs(): number {
    return this.parts.reduce((n, p) => n + (p.shedMs ?? 0), this.gap.droppedMs + this.late.shedMs);
  }

  /** A status frame now; `periodic`: only if one is due (status-frames.ts). */
  private pushStatus(periodic = false): void {
    if (this.sink !== undefined) this.frames.push((st) => this.sink?.sendStatus(st), periodic);
  }

  // ---- the end --------------------------------------------------------------------------------

  /** End because something went wrong: the person is told, then the pipeline is torn down. */
  fail(err: IcewireError): void {
    if (this.isEnding) return;
    const reason = endReasonFor(err.code);
    const level = reason === 'ffmpeg-failed' || reason === 'icecast-refused' || reason === 'internal' ? 'error' : 'warn';
    this.log.log(level, 'broadcast failed', { code: err.code, reason, detail: err.detail });
    void this.end(reason, err);
  }

  /** End the broadcast. Graceful for every reason: streams get their end pages, Icecast sees an end. */
  async end(reason: EndReason, err?: IcewireError): Promise<void> {
    if (this.isEnding) return this.endedPromise;
    this.move('ending', reason);
    this.cancelStatus?.();
    this.cancelFill?.();
    this.gap.stop();
    this.cancelGrace?.();
    const wasLive = this.since !== undefined;
    this.pushStatus();
    try {
      this.sink?.close(err);
    } catch (e) {
      this.log.warn('could not close the connection', { err: e });
    }
    await this.media.finish();
    this.move('ended');
    this.log.info('broadcast ended', {
      reason, wasLive, bytesIn: this.bytesIn, resumes: this.resumes, maxMediaLeadMs: Math.round(this.upload.pace.maxLeadMs),
      maxReadLateMs: Math.round(this.late.maxAboveMs), maxLateStretchMs: Math.round(this.late.maxStretchMs),
      seconds: this.since ? Math.round((this.clock.now() - this.since.getTime()) / 1000) : 0,
      ...(err ? { code: err.code } : {}),
    });
    this.deps.metrics?.broadcastsEnded.inc({ station: this.stationMount, reason, ingest: this.ingest });
    this.resolveEnded();
    this.emit('ended', reason);
  }

  /** Kill every ffmpeg now: the last resort of a shutdown that ran out of time. */
  async kill(): Promise<void> {
    await Promise.all([...this.parts.map((p) => p.kill()), this.media.kill()]);
  }

  whenEnded(): Promise<void> {
    return this.endedPromise;
  }

  /** ffmpeg pids (for tests and metrics). */
  get pids(): number[] {
    return [...this.media.pids, ...this.parts.flatMap((p) => p.pids)];
  }

  /** For fault tests and metrics. */
  get renditions(): readonly Rendition[] {
    return this.parts;
  }
}
