// What feeds one rendition's Icecast output (its kind's `feed`, pipeline/rendition-kinds.ts):
//   CopyPipe    feed 'opus-pages': the daemon's own Ogg pages, straight to Icecast (no process).
//   UploadCopyPipe (upload-copy-pipe.ts) feed 'upload' without ffmpeg: the client's MP3 frames.
//   FfmpegPipe  everything else, through one ffmpeg:
//     'opus-stream' -> reads the daemon's continuous Ogg/Opus stream (MP3, Vorbis, Opus at a
//                      bitrate): it never sees a broadcaster's reconnect, and restarts from the
//                      Ogg headers.
//     'upload'      -> reads the broadcaster's bytes as sent (WebM with video): restarts from the
//                      saved stream header plus the next Cluster, on a new Icecast connection.
// An ffmpeg that dies mid-broadcast is restarted (at most RESTARTS_PER_MINUTE); one that never
// worked (it exited before writing any output) or could not read the input ends the broadcast
// at once: restarting cannot help. No ffmpeg runs before Icecast has accepted the stream: a
// refused password (passthrough mode: anyone's guess) costs no process. What arrives meanwhile
// waits in its stdin buffer, within maxQueueBytes.
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../clock.js';
import { IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { inputOptions, outputOptions } from '../pipeline/ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from '../pipeline/ffmpeg-process.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { ffmpegInputFor, type RenditionKind, type RenditionPlan } from '../pipeline/rendition-kinds.js';
import { StreamFramer } from '../pipeline/stream-framer.js';
import { EncoderFeed, EncoderLag } from './encoder-lag.js';
import { OutputGather } from './output-gather.js';
import type { OutputState, RenditionOutput } from './rendition-output.js';
import type { Metrics } from '../metrics.js';

const RESTARTS_PER_MINUTE = 3;
/** Exits that restarting cannot fix. */
const FINAL_EXITS: ReadonlySet<ErrorCode> = new Set(['IW_ERR_INGEST_INVALID_MEDIA', 'IW_ERR_PIPELINE_START_FAILED']);
/** Bytes queued towards a rendition before the broadcast counts as full (the broadcaster's frames are held). */
export const DRAIN_BYTES = 256 * 1024;

/** One rendition as the broadcast drives it (unit tests give fakes). */
export interface Rendition {
  readonly plan: RenditionPlan;
  readonly kind: RenditionKind;
  /** Its Icecast connection: state, media bytes sent, bytes queued. */
  readonly output: Pick<RenditionOutput, 'state' | 'bytesOut' | 'bufferedBytes'>;
  /** Too much is queued: the broadcast holds the broadcaster's frames until 'drain'. */
  readonly needsDrain: boolean;
  /** ffmpeg pids (for tests and metrics). */
  readonly pids: number[];
  /** Late audio this rendition dropped to stay live (its transcoder fell behind), ms. */
  readonly shedMs?: number;
  /** Resolves when Icecast accepted the stream (and ffmpeg, if any, runs); rejects on a refusal. */
  start(): Promise<void>;
  /** The daemon's Ogg/Opus header pages (once per chain) and audio pages (`silence`: written into a gap). false = slow down. */
  oggHeaders(pages: Buffer): void;
  oggPages(pages: Buffer, silence?: boolean): boolean;
  /** The broadcaster's bytes, as sent (only 'upload' feeds use them). */
  raw(chunk: Buffer, syncOffsets: readonly number[], header: Buffer | undefined): boolean;
  /** A new broadcaster connection started a new upload stream. */
  newRawStream(): void;
  /** A gap of ms while the broadcaster is away (only renditions that copy the upload write their own silence). */
  silence?(ms: number): void;
  /** Finish cleanly: the end-of-stream page (for Ogg feeds), flush, close Icecast. */
  finish(eosPage: Buffer | undefined): Promise<void>;
  kill(): Promise<void>;
  on(event: 'failed', listener: (err: IcewireError) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'state', listener: (state: OutputState) => void): this;
}

/** The Icecast side every pipe shares: events and counters forwarded from the output. */
export abstract class OutputPipe extends EventEmitter {
  constructor(readonly plan: RenditionPlan, readonly kind: RenditionKind, readonly output: RenditionOutput) {
    super();
    output.on('drain', () => this.emit('drain'));
    output.on('failed', (err) => this.emit('failed', err));
    output.on('state', (state) => this.emit('state', state));
  }

  raw(_chunk: Buffer, _syncOffsets: readonly number[], _header: Buffer | undefined): boolean {
    return true;
  }

  newRawStream(): void {}

  /** No process of its own: close the Icecast side. */
  async kill(): Promise<void> {
    this.output.destroy();
  }

  get pids(): number[] {
    return [];
  }

  /** Full while Icecast's side holds DRAIN_BYTES: the output's 'drain' comes below it. */
  get needsDrain(): boolean {
    return this.output.bufferedBytes >= DRAIN_BYTES;
  }
}

export class CopyPipe extends OutputPipe implements Rendition {
  private headerPages: Buffer = Buffer.alloc(0);

  /** For the output's reconnects. */
  header(): Buffer {
    return this.headerPages;
  }

  async start(): Promise<void> {
    await this.output.start();
  }

  oggHeaders(pages: Buffer): void {
    this.headerPages = pages;
    this.output.write({ data: pages, syncPoint: false, header: true });
  }

  oggPages(pages: Buffer): boolean {
    return this.output.write({ data: pages, syncPoint: true, header: false });
  }

  async finish(eosPage: Buffer | undefined): Promise<void> {
    if (eosPage !== undefined && this.headerPages.length > 0) this.output.write({ data: eosPage, syncPoint: true, header: false });
    await this.output.end();
  }
}

export interface FfmpegPipeOptions {
  /** What the broadcaster sends. */
  readonly input: InputMedia;
  readonly ffmpegPath: string;
  readonly logger: Logger;
  /** Bytes queued towards ffmpeg before the broadcast is too slow. */
  readonly maxQueueBytes: number;
  readonly metrics?: Metrics | undefined;
  readonly clock?: Clock;
  /** Counts late audio this pipe drops (the broadcast's station, why: encoder-behind). */
  readonly shedCounter?: { inc(seconds: number): void } | undefined;
}

export class FfmpegPipe extends OutputPipe implements Rendition {
  private ffmpeg: FfmpegProcess;
  private framer: StreamFramer;
  private readonly restarts: number[] = [];
  private finishing = false;
  private oggHeaderPages: Buffer | undefined;
  /** upload feed: after a restart, skip input until a Cluster starts. */
  private awaitingSync = false;
  private readonly clock: Clock;
  /** ffmpeg was started (after Icecast accepted); until then the current FfmpegProcess only buffers. */
  private running = false;
  /** How far the encoder is behind the audio it was given ('opus-stream' feeds). */
  private readonly lag: EncoderLag;
  /** The Ogg pages for the encoder, judged (and dropped while it is behind) on the next turn. */
  private readonly feed: EncoderFeed;
  /** What the current ffmpeg wrote, sent to Icecast a moment later in one write. */
  private readonly gather: OutputGather;
  /** Late audio dropped ahead of this encoder, ms. */
  shedMs = 0;
  restartCount = 0;

  constructor(plan: RenditionPlan, kind: RenditionKind, output: RenditionOutput, private readonly opts: FfmpegPipeOptions) {
    super(plan, kind, output);
    this.clock = opts.clock ?? systemClock;
    this.framer = new StreamFramer(kind.framer);
    this.lag = new EncoderLag(kind.framer, plan.bitrate ?? kind.defaultKbps, this.clock);
    this.feed = new EncoderFeed(this.lag, this.clock, {
      readOutput: () => this.gather.flush(),
      write: (pages) => { this.writeToFfmpeg(pages); },
      dropped: (ms, silence) => {
        if (silence) return; // no audio lost
        this.shedMs += ms;
        this.opts.shedCounter?.inc(ms / 1000);
      },
      shedding: (on, lagMs) => this.opts.logger.log(on ? 'warn' : 'info', on ? 'the encoder is behind; dropping late audio to keep listeners live' : 'the encoder caught up',
        { rendition: this.plan.mount, lagMs: Math.round(lagMs), shedMs: Math.round(this.shedMs) }),
    });
    this.gather = new OutputGather(this.clock, (chunk) => this.sendOutput(chunk));
    this.ffmpeg = this.spawn();
    // one listener for the pipe's life: whichever ffmpeg is current gets resumed
    output.on('drain', () => this.ffmpeg.stdout?.resume());
  }

  /** For the output's reconnects. */
  header(): Buffer {
    return this.framer.header;
  }

  private get readsUpload(): boolean {
    return this.kind.feed === 'upload';
  }

  private spawn(): FfmpegProcess {
    const ff = new FfmpegProcess({
      ffmpegPath: this.opts.ffmpegPath,
      inputOptions: inputOptions(ffmpegInputFor(this.kind, this.opts.input)),
      outputOptions: outputOptions(this.plan, this.opts.input),
      logger: this.opts.logger,
      // the child's stdout pipe calls this itself
      onOutput: (chunk: Buffer) => {
        if (ff === this.ffmpeg) this.gather.push(chunk);
      },
    });
    ff.on('drain', () => this.emit('drain'));
    ff.on('exit', (exit: FfmpegExit) => {
      if (exit.clean || this.finishing || ff !== this.ffmpeg) return;
      void this.recover(exit);
    });
    return ff;
  }

  /** The current ffmpeg's output, gathered: framed, counted, to Icecast (its stdout waits while Icecast's side is full). */
  private sendOutput(chunk: Buffer): void {
    let ok = true;
    for (const unit of this.framer.push(chunk)) {
      this.lag.output(unit);
      if (!this.output.write(unit)) ok = false;
    }
    if (!ok) this.ffmpeg.stdout?.pause();
  }

  async start(): Promise<void> {
    await this.output.start();
    if (this.finishing) return;
    this.running = true;
    await this.ffmpeg.start();
  }

  /** ffmpeg died mid-broadcast: restart it (bounded), or give up with its error. */
  private async recover(exit: FfmpegExit): Promise<void> {
    const now = this.clock.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! > 60000) this.restarts.shift();
    const code = exit.errorCode ?? 'IW_ERR_PIPELINE_FAILED';
    if (FINAL_EXITS.has(code) || this.restarts.length >= RESTARTS_PER_MINUTE) {
      const what = code === 'IW_ERR_PIPELINE_START_FAILED' ? 'exited before writing any output' : 'exited';
      this.emit('failed', new IcewireError(code, { detail: `ffmpeg for ${this.plan.mount} ${what} (code ${exit.code}, signal ${exit.signal}); ${this.restarts.length} restarts in the last minute` }));
      return;
    }
    this.restarts.push(now);
    this.restartCount++;
    this.opts.metrics?.pipelineRestarts.inc({ mount: this.plan.mount });
    this.opts.logger.warn('ffmpeg died; restarting it', { rendition: this.plan.mount, code: exit.code, signal: exit.signal, restarts: this.restartCount });
    this.ffmpeg.dropOutput();
    this.gather.flush();
    if (this.readsUpload) {
      // A new ffmpeg writes a new WebM header: listeners need a new Icecast stream for it.
      this.framer = new StreamFramer(this.kind.framer);
      this.awaitingSync = true;
    }
    this.ffmpeg = this.spawn();
    this.lag.reset();
    // The header pages first, before the spawn resolves: pages the feed passes on meanwhile go to
    // the new ffmpeg too, and an Ogg stream that begins with audio pages is not one it can read.
    if (!this.readsUpload && this.oggHeaderPages !== undefined) this.ffmpeg.write(this.oggHeaderPages);
    try {
      await this.ffmpeg.start();
    } catch (err) {
      this.emit('failed', err instanceof IcewireError ? err : new IcewireError('IW_ERR_PIPELINE_FAILED', { cause: err }));
      return;
    }
    if (this.readsUpload) await this.output.restartStream();
  }

  private writeToFfmpeg(data: Buffer): boolean {
    const ok = this.ffmpeg.write(data);
    if (this.ffmpeg.writableLength > this.opts.maxQueueBytes) {
      this.emit('failed', new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `ffmpeg for ${this.plan.mount} is not keeping up (${this.ffmpeg.writableLength} bytes queued)` }));
    }
    return ok;
  }

  oggHeaders(pages: Buffer): void {
    if (this.readsUpload) return;
    this.oggHeaderPages = pages;
    this.feed.flush();
    this.writeToFfmpeg(pages);
  }

  /** false (slow down) while ffmpeg's stdin is full: the pages are written on the next turn (EncoderFeed). */
  oggPages(pages: Buffer, silence = false): boolean {
    if (this.readsUpload) return true;
    this.feed.offer(pages, silence);
    return !this.ffmpeg.needsDrain;
  }

  override raw(chunk: Buffer, syncOffsets: readonly number[], header: Buffer | undefined): boolean {
    if (!this.readsUpload) return true;
    if (this.awaitingSync) {
      const at = syncOffsets[0];
      if (at === undefined || header === undefined) return true;
      this.awaitingSync = false;
      this.writeToFfmpeg(header);
      return this.writeToFfmpeg(chunk.subarray(at));
    }
    return this.writeToFfmpeg(chunk);
  }

  override newRawStream(): void {
    if (!this.readsUpload || this.finishing) return;
    // The broadcaster's new connection starts a new WebM stream: a new ffmpeg for it.
    const old = this.ffmpeg;
    old.dropOutput();
    this.gather.flush();
    this.framer = new StreamFramer(this.kind.framer);
    this.ffmpeg = this.spawn();
    // not started yet: start() starts the new one
    if (!this.running) return;
    void old.stop();
    void this.ffmpeg.start().then(() => this.output.restartStream(), (err: unknown) => {
      this.emit('failed', err instanceof IcewireError ? err : new IcewireError('IW_ERR_PIPELINE_FAILED', { cause: err }));
    });
  }

  async finish(eosPage: Buffer | undefined): Promise<void> {
    this.finishing = true;
    if (!this.running) {
      this.feed.discard();
      await this.output.end();
      return;
    }
    const ff = this.ffmpeg;
    this.feed.flush();
    if (eosPage !== undefined && !this.readsUpload && this.oggHeaderPages !== undefined) ff.write(eosPage);
    const ended = ff.outputEnded();
    const exit = await ff.stop();
    if (!exit.clean) ff.stdout?.resume();
    // stdout ends right after ffmpeg exits; bound it in case it never wrote anything
    await Promise.race([ended, this.clock.sleep(2000)]);
    this.gather.flush();
    for (const unit of this.framer.flush()) this.output.write(unit);
    await this.output.end();
  }

  override async kill(): Promise<void> {
    this.finishing = true;
    this.feed.discard();
    this.gather.discard();
    if (this.running) await this.ffmpeg.kill();
    this.output.destroy();
  }

  override get pids(): number[] {
    return this.ffmpeg.pid !== undefined ? [this.ffmpeg.pid] : [];
  }

  override get needsDrain(): boolean {
    // the same state ffmpeg's 'drain' ends: a fill level (stdin's readable side counted too) could
    // still read full when 'drain' comes, and no other 'drain' would follow: the upload stuck
    return this.ffmpeg.needsDrain;
  }

  /** For fault tests: the running ffmpeg. */
  get process(): FfmpegProcess {
    return this.ffmpeg;
  }
}
