// The normaliser: one ffmpeg per connection that turns an upload whose audio is not Opus (AAC,
// MP3, Vorbis, FLAC) into Opus packets for the broadcast's media path (pipeline/input-kinds.ts).
// Its stdout is Ogg/Opus, read back with the daemon's own OggReader; the packets go to the same
// consumers a browser's Opus goes to, so renditions, silence in gaps, the recording and resumes
// work the same whatever the input.
//
// Supervised like a rendition's ffmpeg: start means spawned, an exit before any output never
// worked (IW_ERR_PIPELINE_START_FAILED) and ends the broadcast; an ffmpeg that dies after working
// is restarted (at most three times a minute) when its input is a stream of self-contained frames
// (MP3, ADTS) — the next chunk is a fine place to start — and ends the broadcast otherwise (an Ogg
// or WebM stream can't be picked up mid-way without its header). Backpressure both ways: write()
// says when stdin is full; when a consumer is full, its stdout pauses until resume().
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { FfmpegProcess, type FfmpegExit } from '../pipeline/ffmpeg-process.js';
import { normaliserArgs, type NormaliserDemuxer } from '../pipeline/input-kinds.js';
import { OggReader } from '../pipeline/ogg-reader.js';
import type { Clock } from '../clock.js';

const RESTARTS_PER_MINUTE = 3;
/** How long finish() waits for the last packets after stdin ended. */
const FINISH_MS = 3000;

export interface NormaliserOutput {
  /** The OpusHead of the normaliser's stream (every normaliser writes the same one). */
  head(opusHead: Buffer): void;
  /** Opus packets, in order. false: a consumer is full (stdout pauses until resume()). */
  packets(packets: Buffer[]): boolean;
  /** stdin has room again. */
  drain(): void;
  /** It can't go on: the broadcast ends with this error. */
  failed(err: IcewireError): void;
}

/** What the input session drives (unit tests give fakes). */
export interface Normaliser {
  /** Upload bytes (or ADTS frames) in. false: stdin is full, wait for output.drain(). */
  write(data: Buffer): boolean;
  readonly needsDrain: boolean;
  /** A consumer drained: let stdout flow again. */
  resume(): void;
  /** End of input: resolves once the last packets are out and ffmpeg exited (bounded). */
  finish(): Promise<void>;
  /** Replaced by a new connection's: its further output is dropped, it ends in the background. */
  abandon(): void;
  kill(): Promise<void>;
  readonly pids: number[];
}

export interface NormaliserOptions {
  readonly demuxer: NormaliserDemuxer;
  readonly ffmpegPath: string;
  readonly logger: Logger;
  /** Bytes queued towards ffmpeg before the broadcast is too slow. */
  readonly maxQueueBytes: number;
  readonly clock: Clock;
  readonly output: NormaliserOutput;
}

export type NormaliserFactory = (o: NormaliserOptions) => Normaliser;

export const createNormaliser: NormaliserFactory = (o) => new FfmpegNormaliser(o);

export class FfmpegNormaliser implements Normaliser {
  private ffmpeg: FfmpegProcess;
  private readonly restarts: number[] = [];
  /** finish(), abandon() or kill() was called: exits are expected and output may be dropped. */
  private ending = false;
  private dropOutput = false;
  private failed = false;

  constructor(private readonly o: NormaliserOptions) {
    this.ffmpeg = this.spawn();
  }

  private get selfContainedFrames(): boolean {
    return this.o.demuxer === 'aac' || this.o.demuxer === 'mp3';
  }

  private spawn(): FfmpegProcess {
    const args = normaliserArgs(this.o.demuxer);
    const reader = new OggReader();
    // the child's stdout pipe calls onOutput itself
    const ff: FfmpegProcess = new FfmpegProcess({ ffmpegPath: this.o.ffmpegPath, inputOptions: args.input, outputOptions: args.output, logger: this.o.logger, onOutput: (chunk: Buffer) => {
      if (ff !== this.ffmpeg || this.dropOutput) return;
      const packets: Buffer[] = [];
      for (const ev of reader.push(chunk)) {
        if (ev.type === 'tracks') this.o.output.head(ev.tracks[0]!.codecPrivate!);
        else if (ev.type === 'frame') packets.push(ev.data);
        else this.fail(new IcewireError('IW_ERR_PIPELINE_FAILED', { detail: `the normaliser wrote invalid Ogg/Opus: ${ev.detail}` }));
      }
      if (packets.length > 0 && !this.o.output.packets(packets)) ff.stdout?.pause();
    } });
    ff.on('drain', () => { if (ff === this.ffmpeg) this.o.output.drain(); });
    ff.on('exit', (exit: FfmpegExit) => {
      if (ff !== this.ffmpeg || exit.clean || this.ending) return;
      void this.recover(exit);
    });
    ff.start().catch((err: unknown) => this.fail(toIcewireError(err)));
    return ff;
  }

  private fail(err: IcewireError): void {
    if (this.failed || this.ending) return;
    this.failed = true;
    this.o.output.failed(err);
  }

  private async recover(exit: FfmpegExit): Promise<void> {
    const now = this.o.clock.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! > 60000) this.restarts.shift();
    const code = exit.errorCode ?? 'IW_ERR_PIPELINE_FAILED';
    if (!this.selfContainedFrames || code !== 'IW_ERR_PIPELINE_FAILED' || this.restarts.length >= RESTARTS_PER_MINUTE) {
      this.fail(new IcewireError(code, { detail: `the ${this.o.demuxer} normaliser exited (code ${exit.code}, signal ${exit.signal}); ${this.restarts.length} restarts in the last minute` }));
      return;
    }
    this.restarts.push(now);
    this.o.logger.warn('the normaliser died; restarting it', { demuxer: this.o.demuxer, code: exit.code, signal: exit.signal });
    // what the dead one still has in its pipe is read and discarded (a paused pipe would stay open)
    this.ffmpeg.dropOutput();
    this.ffmpeg = this.spawn();
  }

  write(data: Buffer): boolean {
    if (this.ending || this.failed) return true;
    const ok = this.ffmpeg.write(data);
    if (this.ffmpeg.writableLength > this.o.maxQueueBytes) {
      this.fail(new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `the normaliser is not keeping up (${this.ffmpeg.writableLength} bytes queued)` }));
    }
    return ok;
  }

  /** Exactly until ffmpeg's input sends 'drain' (a fill level could still read full then, and no other 'drain' would come). */
  get needsDrain(): boolean {
    return this.ffmpeg.needsDrain;
  }

  resume(): void {
    this.ffmpeg.stdout?.resume();
  }

  async finish(): Promise<void> {
    this.ending = true;
    const ff = this.ffmpeg;
    const ended = ff.outputEnded();
    // its last packets are wanted even if a consumer was full: nothing else writes any more
    ff.stdout?.resume();
    await ff.stop();
    await Promise.race([ended, this.o.clock.sleep(FINISH_MS)]);
  }

  abandon(): void {
    this.ending = true;
    this.dropOutput = true;
    this.ffmpeg.dropOutput();
    void this.ffmpeg.stop();
  }

  async kill(): Promise<void> {
    this.ending = true;
    this.dropOutput = true;
    await this.ffmpeg.kill();
  }

  get pids(): number[] {
    return this.ffmpeg.pid !== undefined ? [this.ffmpeg.pid] : [];
  }
}
