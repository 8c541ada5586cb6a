// The show recorder: archives one broadcast as it arrives, from the broadcaster's own data, with
// no ffmpeg (an encoder dying must not touch the archive). Audio broadcasts: the broadcaster's Opus
// packets in an Ogg/Opus stream of our own (own serial, headers at the start of each file, silence
// through a broadcaster's drop so the file lasts as long as the show), here. Video broadcasts: the
// WebM bytes as sent (webm-recorder.ts). A new file starts every segmentMs of wall-clock time, and
// after a failed file when a retry is due (file-sequence.ts: the files, their failures, retries).
//
// It has the shape of broadcast/ogg-fanout.ts's ShowRecorder without importing it (recorder sits
// below broadcast); the daemon hands it to the broadcast. No method throws and packet() never
// asks the broadcaster to slow down: a recording problem is logged, never the broadcast's end.
import { randomInt } from 'node:crypto';
import { OggOpusWriter } from '../pipeline/ogg-opus-writer.js';
import { BaseRecorder, type ArchiveRecorder, type ShowRecorderOptions } from './file-sequence.js';
import { WebmRecorder } from './webm-recorder.js';

export { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_RETRY_MS, MAX_RETRY_MS, type ArchiveRecorder, type ShowRecorderOptions } from './file-sequence.js';

export function createShowRecorder(opts: ShowRecorderOptions): ArchiveRecorder {
  return opts.video ? new WebmRecorder(opts) : new OggRecorder(opts);
}

/** Audio: our own Ogg/Opus stream from the broadcaster's packets. */
class OggRecorder extends BaseRecorder {
  private opusHead: Buffer | undefined;
  private writer: OggOpusWriter | undefined;
  /** now() when the current file started. */
  private segmentStart = 0;

  constructor(opts: ShowRecorderOptions) {
    super(opts, 'ogg-opus');
  }

  start(opusHead: Buffer): void {
    if (this.stopped || this.opusHead !== undefined) return;
    this.opusHead = Buffer.from(opusHead);
    try {
      this.newSegment();
    } catch (err) {
      this.stop(err, 'recording stopped: cannot start the Ogg stream');
    }
  }

  packet(data: Buffer): boolean {
    try {
      if (!this.ready()) return true;
      if (this.segmentDue()) {
        // this packet ends the segment: it rides on the end page, the next file starts afresh
        this.file!.write(this.writer!.end(data), true);
        this.writer = undefined;
        this.closeFile();
        this.newSegment();
        return true;
      }
      this.file!.write(this.writer!.packet(data));
    } catch (err) {
      this.stop(err, 'recording stopped: unexpected error');
    }
    return true;
  }

  silence(ms: number): void {
    try {
      if (!this.ready()) return;
      if (this.segmentDue()) {
        this.closeFile();
        this.newSegment();
        if (!this.ready()) return;
      }
      this.file!.write(this.writer!.silence(ms));
    } catch (err) {
      this.stop(err, 'recording stopped: unexpected error');
    }
  }

  raw(): void {
    // audio is recorded from the Opus packets, whatever the container the browser sent
  }

  protected finalBytes(): Buffer | undefined {
    const w = this.writer;
    this.writer = undefined;
    return w !== undefined && !w.ended ? w.end() : undefined;
  }

  /** A file to write to: the current one, or a new one when a retry after a failure is due. */
  private ready(): boolean {
    if (this.opusHead === undefined) return false;
    if (this.file === undefined && this.retryDue()) this.newSegment();
    return this.writable() && this.writer !== undefined;
  }

  /** The current file has run for segmentMs of wall-clock time. */
  private segmentDue(): boolean {
    return this.opts.segmentMs !== undefined && this.now() - this.segmentStart >= this.opts.segmentMs;
  }

  private newSegment(): void {
    if (!this.openFile()) return;
    this.segmentStart = this.now();
    const writer = new OggOpusWriter({
      serial: randomInt(1, 0xffffffff),
      opusHead: this.opusHead!,
      vendor: 'icewire',
      tags: { DATE: new Date(this.now()).toISOString(), DESCRIPTION: `icewire recording of ${this.opts.stationMount}` },
    });
    this.writer = writer;
    this.file!.write(writer.headers(), true);
  }
}
