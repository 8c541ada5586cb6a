// A broadcast's media path: the broadcaster's bytes in, to every rendition and the recorder.
//
// Each connection's stream becomes Opus packets (InputSession: demuxed, or made by a normaliser
// ffmpeg when the upload's audio is not Opus, whose packets arrive a moment later). They go into
// the Ogg/Opus streams the daemon writes itself: `copy` (sent to Ogg/Opus mounts as is, a new
// chain per title) and `feed` (never chained, read by transcoding ffmpegs), and to the show
// recorder. Renditions fed the upload get the bytes as sent. The first OpusHead defines the
// broadcast's streams; a resumed connection's packets continue them (same serial, granules keep
// counting), so listeners never see a new stream because the broadcaster reconnected.
//
// Events: 'drain' (the normaliser has room again), 'full' (a consumer refused the normaliser's
// packets: the broadcaster is paused), 'failed' (the normaliser can't go on).
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { createNormaliser, type NormaliserFactory, type NormaliserOutput } from './input-normaliser.js';
import { InputSession } from './input-session.js';
import { OggFanout, type OpusConsumer, type ShowRecorder, type StreamTags } from './ogg-fanout.js';
import type { Rendition } from './rendition-pipe.js';

export interface MediaPathOptions {
  readonly ffmpegPath: string;
  /** Bytes queued towards the normaliser before the broadcast is too slow. */
  readonly maxQueueBytes: number;
  readonly clock: Clock;
  /**
   * Whether each Opus packet is heard: true; false for late audio that silence stood in for (the
   * recording has the silence too); 'recording' for late audio shed from the live streams only
   * (late-reads.ts: the recording keeps the whole show). Throws when the packet must end the
   * broadcast (audio running ahead of the clock).
   */
  readonly admit: (packet: Buffer) => boolean | 'recording';
  readonly createNormaliser?: NormaliserFactory | undefined;
}

export declare interface MediaPath {
  on(event: 'drain' | 'full', listener: () => void): this;
  on(event: 'failed', listener: (err: IcewireError) => void): this;
}

export class MediaPath extends EventEmitter {
  private session: InputSession;
  /** The next raw chunk is the first of a connection's stream. */
  private rawStreamStart = true;
  private opusStarted = false;
  /** Some rendition copies the upload itself (and fills gaps in it). */
  private readonly rawSilence: boolean;
  private rawStarted = false;
  /** The Ogg/Opus stream transcoders read (never chained). */
  private readonly feed: OggFanout;
  /** The Ogg/Opus stream Ogg/Opus mounts send (a new chain per title). */
  private readonly copy: OggFanout;
  private readonly recorder: ShowRecorder | undefined;
  /** Everything that gets the Opus packets, in order: the two streams, then the recorder. */
  private readonly consumers: OpusConsumer[];

  constructor(
    input: InputMedia,
    private readonly renditions: readonly Rendition[],
    recorder: ShowRecorder | undefined,
    private readonly log: Logger,
    private readonly opts: MediaPathOptions,
  ) {
    super();
    this.feed = new OggFanout(renditions.filter((r) => r.kind.feed === 'opus-stream'), false, opts.clock);
    this.copy = new OggFanout(renditions.filter((r) => r.kind.feed === 'opus-pages'), true, opts.clock);
    this.recorder = recorder === undefined ? undefined : guardRecorder(recorder, log);
    this.consumers = [this.feed, this.copy, ...(this.recorder !== undefined ? [this.recorder] : [])];
    this.rawSilence = renditions.some((r) => r.kind.feed === 'upload' && !r.kind.runsFfmpeg);
    this.session = this.newSession(input);
  }

  /** The normaliser's packets join the path like demuxed ones. */
  private readonly normalised: NormaliserOutput = {
    head: (opusHead) => this.startOpus(opusHead),
    packets: (packets) => {
      let ok: boolean;
      try {
        ok = this.deliver(packets);
      } catch (err) {
        // admit() refused a packet (audio ahead of the clock): the broadcast ends
        this.emit('failed', toIcewireError(err));
        return true;
      }
      if (!ok) this.emit('full');
      return ok;
    },
    drain: () => this.emit('drain'),
    failed: (err) => this.emit('failed', err),
  };

  private newSession(input: InputMedia): InputSession {
    return new InputSession(input, {
      needsOpus: this.feed.hasTargets || this.copy.hasTargets || this.recorder !== undefined,
      normaliser: this.opts.createNormaliser ?? createNormaliser,
      out: this.normalised,
      ffmpegPath: this.opts.ffmpegPath,
      maxQueueBytes: this.opts.maxQueueBytes,
      clock: this.opts.clock,
      log: this.log,
    });
  }

  /** The streams have started (silence can be written into them). */
  get started(): boolean {
    return this.opusStarted || (this.rawSilence && this.rawStarted);
  }

  /** The normaliser's stdin is full. */
  get needsDrain(): boolean {
    return this.session.needsDrain;
  }

  /** Consumers drained: let the normaliser's output flow again. */
  resume(): void {
    this.session.resume();
  }

  /** ffmpeg pids of the input side (the normaliser). */
  get pids(): number[] {
    return this.session.pids;
  }

  /**
   * One chunk of the broadcaster's stream. Returns false when a consumer is full (pause the
   * socket); throws IcewireError(IW_ERR_INGEST_INVALID_MEDIA) when the stream is not valid media.
   */
  push(chunk: Buffer): boolean {
    const out = this.session.push(chunk);
    if (out.error !== undefined) throw new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { detail: out.error });
    let ok = out.full !== true;
    for (const r of this.renditions) if (!r.raw(chunk, out.syncOffsets, this.session.header)) ok = false;
    this.recorder?.raw(chunk, this.rawStreamStart);
    this.rawStreamStart = false;
    this.rawStarted = true;
    if (out.opusHead !== undefined) this.startOpus(out.opusHead);
    if (out.opus.length > 0 && !this.deliver(out.opus)) ok = false;
    return ok;
  }

  /** The first OpusHead starts the broadcast's Opus streams; later ones (a resume's) continue them. */
  private startOpus(opusHead: Buffer): void {
    if (this.opusStarted) return;
    try {
      for (const c of this.consumers) c.start(opusHead);
    } catch (err) {
      throw err instanceof IcewireError ? err : new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { cause: err });
    }
    this.opusStarted = true;
  }

  /** Opus packets to every consumer; false when one is full. */
  private deliver(packets: readonly Buffer[]): boolean {
    if (!this.opusStarted) return true;
    let ok = true;
    for (const packet of packets) {
      const heard = this.opts.admit(packet);
      if (heard === true) {
        for (const c of this.consumers) if (!c.packet(packet)) ok = false;
      } else if (heard === 'recording' && this.recorder !== undefined && !this.recorder.packet(packet)) {
        ok = false;
      }
    }
    // one page per chunk and stream: one write per mount
    if (!this.feed.flush()) ok = false;
    if (!this.copy.flush()) ok = false;
    return ok;
  }

  /** A new connection: its stream starts with its own container header. */
  newConnection(input: InputMedia): void {
    this.session.abandon();
    this.session = this.newSession(input);
    this.rawStreamStart = true;
    for (const r of this.renditions) r.newRawStream();
  }

  /** A gap of ms in every stream: Opus in whole 20 ms frames, renditions copying the upload in their own frames. */
  silence(ms: number): void {
    for (const c of this.consumers) c.silence(ms);
    if (this.rawSilence) for (const r of this.renditions) r.silence?.(ms);
  }

  /** New "now playing" tags: Ogg/Opus mounts get a new chain carrying them. */
  retitle(tags: StreamTags): void {
    this.copy.retitle(tags);
  }

  /**
   * Finish every rendition and the recording cleanly: end pages written, Icecast told. The
   * recording's end page does not wait for a slow rendition (SIGTERM has a hard bound).
   */
  async finish(): Promise<void> {
    // the normaliser's last packets belong to the show
    try {
      await this.session.finish();
    } catch (e) {
      this.log.warn('error while finishing the normaliser', { err: e });
    }
    const feedEos = this.feed.end();
    const copyEos = this.copy.end();
    await Promise.all([
      ...this.renditions.map(async (r) => {
        try {
          await r.finish(r.kind.feed === 'opus-pages' ? copyEos : feedEos);
        } catch (e) {
          this.log.warn('error while finishing a rendition', { rendition: r.plan.mount, err: e });
          await r.kill();
        }
      }),
      this.recorder?.finish(),
    ]);
  }

  /** Kill the input side's ffmpeg now (shutdown's last resort). */
  async kill(): Promise<void> {
    await this.session.kill();
  }
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
