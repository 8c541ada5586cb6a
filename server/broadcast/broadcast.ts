// One live show on one station mount: connecting -> live -> ended(reason).
// Owns one ffmpeg and one Icecast source per rendition; the connection talks to it through a Sink
// so the socket can change without the broadcast noticing.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { ERRORS, IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { IcecastSource } from '../icecast/icecast-source.js';
import { acceptsUrlMetadata, updateMetadata } from '../icecast/metadata-update.js';
import type { StatsPoller } from '../icecast/stats-poller.js';
import { contentTypeFor, iceAudioInfo, inputOptions, outputOptions, type RenditionPlan } from '../pipeline/ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from '../pipeline/ffmpeg-process.js';
import { checkMagic, type InputMedia } from '../pipeline/media-type.js';
import type { StationPlan } from './station-plan.js';

export const END_REASONS = [
  'stopped', 'connection-lost', 'icecast-auth', 'icecast-busy', 'icecast-unreachable', 'icecast-refused',
  'icecast-lost', 'ffmpeg-failed', 'invalid-media', 'ingest-too-slow', 'protocol-error', 'shutdown', 'internal',
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
    case 'IW_ERR_SHUTTING_DOWN': return 'shutdown';
    case 'IW_ERR_PROTO_BAD_MESSAGE':
    case 'IW_ERR_PROTO_EXPECTED_HELLO':
    case 'IW_ERR_PROTO_FRAME_TOO_LARGE':
    case 'IW_ERR_PROTO_HELLO_TIMEOUT': return 'protocol-error';
    default: return 'internal';
  }
}

export type BroadcastState = 'connecting' | 'live' | 'ended';

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
}

/** The connection side of a broadcast (the WebSocket). */
export interface BroadcastSink {
  sendStatus(status: BroadcastStatus): void;
  /** The broadcast ended because of err (undefined: a normal end the client asked for). */
  close(err: IcewireError | undefined): void;
}

export interface BroadcastDeps {
  readonly icecastUrl: string;
  readonly icecastPublicUrl: string;
  readonly legacySource: boolean;
  readonly connectTimeoutMs: number;
  readonly ffmpegPath: string;
  readonly stats: StatsPoller | undefined;
  readonly logger: Logger;
  readonly statusIntervalMs?: number;
}

interface Rendition {
  readonly plan: RenditionPlan;
  readonly contentType: string;
  readonly ffmpeg: FfmpegProcess;
  readonly source: IcecastSource;
  state: BroadcastState;
}

export declare interface Broadcast {
  on(event: 'drain', listener: () => void): this;
  on(event: 'ended', listener: (reason: EndReason) => void): this;
  once(event: 'ended', listener: (reason: EndReason) => void): this;
}

export class Broadcast extends EventEmitter {
  readonly id = randomUUID();
  readonly startedAt = new Date();
  state: BroadcastState = 'connecting';
  since: Date | undefined;
  reason: EndReason | undefined;
  bytesIn = 0;
  title: string | undefined;
  private readonly renditions: Rendition[];
  private readonly log: Logger;
  private head = Buffer.alloc(0);
  private headChecked = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly endedPromise: Promise<void>;
  private resolveEnded!: () => void;
  private ending = false;

  constructor(
    readonly plan: StationPlan,
    readonly input: InputMedia,
    readonly user: string,
    private readonly deps: BroadcastDeps,
    private sink: BroadcastSink,
  ) {
    super();
    this.log = deps.logger.child({ broadcast: this.id.slice(0, 8), mount: plan.id });
    this.endedPromise = new Promise((r) => { this.resolveEnded = r; });
    this.renditions = plan.renditions.map((r) => this.makeRendition(r));
  }

  get stationMount(): string {
    return this.plan.id;
  }

  private makeRendition(plan: RenditionPlan): Rendition {
    const log = this.log.child({ rendition: plan.mount });
    const ffmpeg = new FfmpegProcess({
      ffmpegPath: this.deps.ffmpegPath,
      inputOptions: inputOptions(this.input),
      outputOptions: outputOptions(plan, this.input),
      logger: log,
    });
    const { bitrate, audioInfo } = iceAudioInfo(plan);
    const contentType = contentTypeFor(plan.format, this.input);
    const source = new IcecastSource({
      url: this.deps.icecastUrl,
      mount: plan.mount,
      user: this.plan.sourceUser,
      password: this.plan.sourcePassword,
      contentType,
      ice: { ...this.plan.ice, bitrate, audioInfo },
      legacySource: this.deps.legacySource,
      connectTimeoutMs: this.deps.connectTimeoutMs,
      logger: log,
    });
    const r: Rendition = { plan, contentType, ffmpeg, source, state: 'connecting' };
    // ffmpeg stdout -> Icecast, pausing ffmpeg when Icecast's socket is full.
    ffmpeg.stdout.on('data', (chunk: Buffer) => {
      if (!source.write(chunk)) ffmpeg.stdout.pause();
    });
    source.on('drain', () => ffmpeg.stdout.resume());
    ffmpeg.stdout.on('end', () => { void source.end(); });
    ffmpeg.on('drain', () => this.maybeDrain());
    ffmpeg.on('exit', (exit: FfmpegExit) => {
      if (!exit.clean && !this.ending) {
        const code = exit.errorCode ?? 'IW_ERR_PIPELINE_FAILED';
        this.fail(new IcewireError(code, { detail: `ffmpeg for ${plan.mount} exited (code ${exit.code}, signal ${exit.signal})` }));
      }
    });
    source.on('lost', (err) => {
      if (!this.ending) this.fail(err);
    });
    return r;
  }

  /** Start every rendition: resolves when Icecast accepted them all; on a refusal, ends and rejects. */
  async start(): Promise<void> {
    this.log.info('broadcast starting', { user: this.user, mime: this.input.mime, renditions: this.renditions.map((r) => `${r.plan.mount}:${r.plan.format}`).join(',') });
    this.statusTimer = setInterval(() => this.pushStatus(), this.deps.statusIntervalMs ?? 1000);
    this.statusTimer.unref();
    this.pushStatus();
    try {
      await Promise.all(this.renditions.map(async (r) => {
        await Promise.all([r.ffmpeg.start(), r.source.connect()]);
        if (!this.ending) r.state = 'live';
      }));
    } catch (err) {
      const e = err instanceof IcewireError ? err : new IcewireError('IW_ERR_INTERNAL', { cause: err });
      this.fail(e);
      throw e;
    }
    if (this.ending) throw new IcewireError('IW_ERR_INTERNAL', { detail: 'broadcast ended while starting' });
    this.state = 'live';
    this.since = new Date();
    this.log.info('broadcast is live', { renditions: this.renditions.map((r) => r.plan.mount).join(',') });
    this.pushStatus();
    void this.pushTitle();
  }

  /** Broadcaster bytes in. false = pause the socket until 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.ending) return true;
    this.bytesIn += chunk.length;
    if (!this.headChecked) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 4)]);
      const verdict = checkMagic(this.input.container, this.head);
      if (verdict === 'bad') {
        this.fail(new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { detail: `stream does not start with a ${this.input.container} header` }));
        return true;
      }
      this.headChecked = verdict === 'ok';
    }
    let ok = true;
    for (const r of this.renditions) if (!r.ffmpeg.write(chunk)) ok = false;
    return ok;
  }

  private maybeDrain(): void {
    if (this.renditions.every((r) => r.ffmpeg.writableLength < 256 * 1024)) this.emit('drain');
  }

  /** Now playing: MP3 and Ogg/Vorbis renditions are retitled through Icecast at once (or on going live). */
  setTitle(title: string | undefined): void {
    this.title = title;
    if (this.state === 'live') void this.pushTitle();
  }

  private async pushTitle(): Promise<void> {
    const title = this.title;
    if (title === undefined) return;
    await Promise.all(this.renditions.filter((r) => acceptsUrlMetadata(r.plan.format)).map(async (r) => {
      try {
        const ok = await updateMetadata({
          url: this.deps.icecastUrl, mount: r.plan.mount, user: this.plan.sourceUser, password: this.plan.sourcePassword,
          title, timeoutMs: this.deps.connectTimeoutMs,
        });
        if (!ok) this.log.warn('Icecast did not take the title', { rendition: r.plan.mount });
      } catch (err) {
        this.log.warn('could not update the title', { rendition: r.plan.mount, error: (err as Error).message });
      }
    }));
  }

  status(): BroadcastStatus {
    const base = this.deps.icecastPublicUrl.replace(/\/+$/, '');
    const renditions = this.renditions.map((r) => ({
      mount: r.plan.mount,
      format: r.plan.format,
      contentType: r.contentType,
      url: `${base}${r.plan.mount}`,
      state: r.state,
      listeners: this.deps.stats?.listeners(r.plan.mount) ?? 0,
      bytesOut: r.source.bytesOut,
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
    try {
      this.sink.sendStatus(this.status());
    } catch (err) {
      this.log.warn('could not send status', { err });
    }
  }

  /** End because something went wrong: the person is told, then the pipeline is torn down. */
  fail(err: IcewireError): void {
    if (this.ending) return;
    const reason = reasonForCode(err.code);
    const level = reason === 'ffmpeg-failed' || reason === 'icecast-refused' || reason === 'internal' ? 'error' : 'warn';
    this.log.log(level, 'broadcast failed', { code: err.code, reason, detail: err.detail });
    void this.end(reason, err);
  }

  /** End the broadcast. Graceful for every reason: ffmpeg finishes its stream, Icecast sees an end. */
  async end(reason: EndReason, err?: IcewireError): Promise<void> {
    if (this.ending) return this.endedPromise;
    this.ending = true;
    this.reason = reason;
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    const wasLive = this.state === 'live';
    this.state = 'ended';
    for (const r of this.renditions) r.state = 'ended';
    this.pushStatus();
    try {
      this.sink.close(err);
    } catch (e) {
      this.log.warn('could not close the connection', { err: e });
    }
    await Promise.all(this.renditions.map(async (r) => {
      const exit = await r.ffmpeg.stop();
      if (!exit.clean) r.ffmpeg.stdout.resume();
      // stdout 'end' normally ends the source; bound it in case ffmpeg never wrote anything.
      await Promise.race([new Promise((res) => setTimeout(res, 2000).unref()), waitSourceEnd(r)]);
      await r.source.end();
    }));
    this.log.info('broadcast ended', {
      reason, wasLive, bytesIn: this.bytesIn,
      seconds: this.since ? Math.round((Date.now() - this.since.getTime()) / 1000) : 0,
      ...(err ? { code: err.code } : {}),
    });
    this.resolveEnded();
    this.emit('ended', reason);
  }

  /** Kill every ffmpeg now: the last resort of a shutdown that ran out of time. */
  async kill(): Promise<void> {
    await Promise.all(this.renditions.map((r) => r.ffmpeg.kill()));
    for (const r of this.renditions) r.source.destroy();
  }

  /** Ending but not yet torn down (its Icecast sources may still be closing). */
  get isEnding(): boolean {
    return this.ending;
  }

  whenEnded(): Promise<void> {
    return this.endedPromise;
  }

  /** Child pids (for tests and /metrics). */
  get pids(): number[] {
    return this.renditions.map((r) => r.ffmpeg.pid).filter((p): p is number => p !== undefined);
  }
}

function waitSourceEnd(r: Rendition): Promise<void> {
  if (r.ffmpeg.stdout.readableEnded) return Promise.resolve();
  return new Promise((resolve) => r.ffmpeg.stdout.once('end', () => resolve()));
}

/** The error sentence to show for an end reason when there is no error object. */
export function closeCodeFor(err: IcewireError | undefined): number {
  return err === undefined ? 1000 : ERRORS[err.code].close;
}
