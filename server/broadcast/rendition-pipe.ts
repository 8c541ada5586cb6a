// What feeds one rendition's Icecast output:
//   CopyPipe    Ogg/Opus remux: the daemon's own Ogg pages, straight to Icecast (no process).
//   FfmpegPipe  everything else, through one ffmpeg:
//     feed 'ogg' -> reads the daemon's continuous Ogg/Opus stream (MP3, Vorbis, Opus at a bitrate):
//                   it never sees a broadcaster's reconnect, and restarts from the Ogg headers.
//     feed 'raw' -> reads the broadcaster's bytes as sent (WebM with video): restarts from the
//                   saved stream header plus the next Cluster, on a new Icecast connection.
import { EventEmitter } from 'node:events';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { inputOptions, outputOptions, type RenditionPlan } from '../pipeline/ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from '../pipeline/ffmpeg-process.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { StreamFramer } from '../pipeline/stream-framer.js';
import type { RenditionOutput } from './rendition-output.js';
import type { Metrics } from '../metrics.js';

/** The continuous Ogg/Opus stream the daemon writes, as ffmpeg input. */
const OGG_OPUS_INPUT: InputMedia = { container: 'ogg', audio: 'opus', video: undefined, mime: 'audio/ogg;codecs=opus' };
const RESTARTS_PER_MINUTE = 3;

export declare interface RenditionPipe {
  on(event: 'failed', listener: (err: IcewireError) => void): this;
  on(event: 'drain', listener: () => void): this;
}

export abstract class RenditionPipe extends EventEmitter {
  constructor(readonly plan: RenditionPlan, readonly output: RenditionOutput) {
    super();
    output.on('drain', () => this.emit('drain'));
    output.on('failed', (err) => this.emit('failed', err));
  }

  abstract start(): Promise<void>;
  /** The daemon's Ogg/Opus header pages (once) and audio pages. false = slow down. */
  abstract oggHeaders(pages: Buffer): void;
  abstract oggPages(pages: Buffer): boolean;
  /** The broadcaster's bytes, as sent (only 'raw' pipes use them). */
  raw(_chunk: Buffer, _syncOffsets: readonly number[], _header: Buffer | undefined): boolean {
    return true;
  }
  /** A new broadcaster connection started a new raw stream. */
  newRawStream(): void {}
  /** Finish cleanly: the end-of-stream page (for Ogg consumers), flush, close Icecast. */
  abstract finish(eosPage: Buffer | undefined): Promise<void>;
  abstract kill(): Promise<void>;
  abstract get pids(): number[];
  abstract get needsDrain(): boolean;
}

export class CopyPipe extends RenditionPipe {
  private headerPages: Buffer = Buffer.alloc(0);

  constructor(plan: RenditionPlan, output: RenditionOutput) {
    super(plan, output);
  }

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

  async kill(): Promise<void> {
    this.output.destroy();
  }

  get pids(): number[] {
    return [];
  }

  get needsDrain(): boolean {
    return this.output.bufferedBytes >= 256 * 1024;
  }
}

export interface FfmpegPipeOptions {
  readonly feed: 'ogg' | 'raw';
  readonly input: InputMedia;
  readonly ffmpegPath: string;
  readonly logger: Logger;
  /** Bytes queued towards ffmpeg before the broadcast is too slow. */
  readonly maxQueueBytes: number;
  readonly metrics?: Metrics;
}

export class FfmpegPipe extends RenditionPipe {
  private ffmpeg: FfmpegProcess;
  private framer: StreamFramer;
  private readonly restarts: number[] = [];
  private finishing = false;
  private oggHeaderPages: Buffer | undefined;
  /** raw feed: after a restart, skip input until a Cluster starts. */
  private awaitingSync = false;
  restartCount = 0;

  constructor(plan: RenditionPlan, output: RenditionOutput, private readonly opts: FfmpegPipeOptions) {
    super(plan, output);
    this.framer = this.newFramer();
    this.ffmpeg = this.spawn();
    // one listener for the pipe's life: whichever ffmpeg is current gets resumed
    output.on('drain', () => this.ffmpeg.stdout.resume());
  }

  /** For the output's reconnects. */
  header(): Buffer {
    return this.framer.header;
  }

  /** Reads the daemon's Ogg/Opus stream (rather than the broadcaster's raw bytes). */
  get readsOgg(): boolean {
    return this.opts.feed === 'ogg';
  }

  private newFramer(): StreamFramer {
    return new StreamFramer(this.plan.format === 'mp3' ? 'mp3' : this.plan.format === 'webm' ? 'webm' : 'ogg');
  }

  private spawn(): FfmpegProcess {
    const input = this.opts.feed === 'ogg' ? OGG_OPUS_INPUT : this.opts.input;
    const ff = new FfmpegProcess({
      ffmpegPath: this.opts.ffmpegPath,
      inputOptions: inputOptions(input),
      outputOptions: outputOptions(this.plan, this.opts.input),
      logger: this.opts.logger,
    });
    ff.stdout.on('data', (chunk: Buffer) => {
      if (ff !== this.ffmpeg) return;
      let ok = true;
      for (const unit of this.framer.push(chunk)) if (!this.output.write(unit)) ok = false;
      if (!ok) ff.stdout.pause();
    });
    ff.on('drain', () => this.emit('drain'));
    ff.on('exit', (exit: FfmpegExit) => {
      if (exit.clean || this.finishing || ff !== this.ffmpeg) return;
      void this.recover(exit);
    });
    return ff;
  }

  async start(): Promise<void> {
    await Promise.all([this.ffmpeg.start(), this.output.start()]);
  }

  /** ffmpeg died mid-broadcast: restart it (bounded), or give up with its error. */
  private async recover(exit: FfmpegExit): Promise<void> {
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! > 60000) this.restarts.shift();
    const code = exit.errorCode ?? 'IW_ERR_PIPELINE_FAILED';
    if (code === 'IW_ERR_INGEST_INVALID_MEDIA' || this.restarts.length >= RESTARTS_PER_MINUTE) {
      this.emit('failed', new IcewireError(code, { detail: `ffmpeg for ${this.plan.mount} exited (code ${exit.code}, signal ${exit.signal}); ${this.restarts.length} restarts in the last minute` }));
      return;
    }
    this.restarts.push(now);
    this.restartCount++;
    this.opts.metrics?.pipelineRestarts.inc({ mount: this.plan.mount });
    this.opts.logger.warn('ffmpeg died; restarting it', { rendition: this.plan.mount, code: exit.code, signal: exit.signal, restarts: this.restartCount });
    this.ffmpeg.stdout.removeAllListeners('data');
    if (this.opts.feed === 'raw') {
      // A new ffmpeg writes a new WebM header: listeners need a new Icecast stream for it.
      this.framer = this.newFramer();
      this.awaitingSync = true;
    }
    this.ffmpeg = this.spawn();
    try {
      await this.ffmpeg.start();
    } catch (err) {
      this.emit('failed', err instanceof IcewireError ? err : new IcewireError('IW_ERR_PIPELINE_FAILED', { cause: err }));
      return;
    }
    if (this.opts.feed === 'ogg' && this.oggHeaderPages !== undefined) this.ffmpeg.write(this.oggHeaderPages);
    if (this.opts.feed === 'raw') await this.output.restartStream();
  }

  private writeToFfmpeg(data: Buffer): boolean {
    const ok = this.ffmpeg.write(data);
    if (this.ffmpeg.writableLength > this.opts.maxQueueBytes) {
      this.emit('failed', new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `ffmpeg for ${this.plan.mount} is not keeping up (${this.ffmpeg.writableLength} bytes queued)` }));
    }
    return ok;
  }

  oggHeaders(pages: Buffer): void {
    if (this.opts.feed !== 'ogg') return;
    this.oggHeaderPages = pages;
    this.writeToFfmpeg(pages);
  }

  oggPages(pages: Buffer): boolean {
    if (this.opts.feed !== 'ogg') return true;
    return this.writeToFfmpeg(pages);
  }

  override raw(chunk: Buffer, syncOffsets: readonly number[], header: Buffer | undefined): boolean {
    if (this.opts.feed !== 'raw') return true;
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
    if (this.opts.feed !== 'raw' || this.finishing) return;
    // The broadcaster's new connection starts a new WebM stream: a new ffmpeg for it.
    const old = this.ffmpeg;
    old.stdout.removeAllListeners('data');
    void old.stop();
    this.framer = this.newFramer();
    this.ffmpeg = this.spawn();
    void this.ffmpeg.start().then(() => this.output.restartStream(), (err: unknown) => {
      this.emit('failed', err instanceof IcewireError ? err : new IcewireError('IW_ERR_PIPELINE_FAILED', { cause: err }));
    });
  }

  async finish(eosPage: Buffer | undefined): Promise<void> {
    this.finishing = true;
    const ff = this.ffmpeg;
    if (eosPage !== undefined && this.opts.feed === 'ogg' && this.oggHeaderPages !== undefined) ff.write(eosPage);
    const ended = new Promise<void>((resolve) => {
      if (ff.stdout.readableEnded) resolve();
      else ff.stdout.once('end', () => resolve());
    });
    const exit = await ff.stop();
    if (!exit.clean) ff.stdout.resume();
    // stdout ends right after ffmpeg exits; bound it in case it never wrote anything
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    for (const unit of this.framer.flush()) this.output.write(unit);
    await this.output.end();
  }

  async kill(): Promise<void> {
    this.finishing = true;
    await this.ffmpeg.kill();
    this.output.destroy();
  }

  get pids(): number[] {
    return this.ffmpeg.pid !== undefined ? [this.ffmpeg.pid] : [];
  }

  get needsDrain(): boolean {
    return this.ffmpeg.writableLength >= 256 * 1024;
  }

  /** For fault tests: the running ffmpeg. */
  get process(): FfmpegProcess {
    return this.ffmpeg;
  }
}
