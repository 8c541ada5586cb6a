// The show recorder: archives one broadcast as it arrives, from the broadcaster's own data, with
// no ffmpeg (an encoder dying must not touch the archive). Audio broadcasts: the broadcaster's Opus
// packets in an Ogg/Opus stream of our own (own serial, headers at the start of each file, silence
// through a broadcaster's drop so the file lasts as long as the show). Video broadcasts: the WebM
// bytes exactly as sent, one file per connection (a resumed connection sends a new WebM header).
//
// It has the shape of broadcast/ogg-fanout.ts's ShowRecorder without importing it (recorder sits
// below broadcast); the daemon hands it to the broadcast. No method throws and packet() never
// asks the broadcaster to slow down: a recording problem is logged, never the broadcast's end.
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { OggOpusWriter } from '../pipeline/ogg-opus-writer.js';
import { WebmDemuxer } from '../pipeline/webm-demuxer.js';
import { RecordingFile } from './recording-file.js';
import type { RecordingFormat } from './recording-names.js';

/** Default bound on one file's write queue (about 20 s of 3 Mbit/s video). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** WebM bytes held back while deciding whether a Cluster starts with a keyframe (then split anyway). */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

export interface ShowRecorderOptions {
  /** recordings.dir; files go to `<dir>/<stationMount>/`. */
  readonly dir: string;
  readonly stationMount: string;
  /** Whose show it is (written to each sidecar). */
  readonly user: string;
  /** A video broadcast: record the raw WebM instead of the Opus packets. */
  readonly video: boolean;
  /**
   * Start a new file after this much wall-clock time. Never media time: a client's timestamps are
   * its own claim (a packet may say it lasts 120 ms and arrive in a microsecond), so a split on
   * them would let input that runs ahead of the clock make a file per packet.
   */
  readonly segmentMs?: number | undefined;
  readonly logger: Logger;
  /** Evaluated at finish(): false deletes what was recorded (e.g. the broadcast never went live). */
  readonly keep?: () => boolean;
  readonly now?: () => number;
  readonly maxBufferedBytes?: number;
  /** Test hook, see RecordingFile. */
  readonly open?: (path: string) => number;
}

export interface ArchiveRecorder {
  start(opusHead: Buffer): void;
  packet(data: Buffer): boolean;
  silence(ms: number): void;
  raw(chunk: Buffer, newStream: boolean): void;
  finish(): Promise<void>;
  /** Every file this recorder created, in order (for tests and logs). */
  readonly files: readonly string[];
}

export function createShowRecorder(opts: ShowRecorderOptions): ArchiveRecorder {
  return opts.video ? new WebmRecorder(opts) : new OggRecorder(opts);
}

abstract class BaseRecorder implements ArchiveRecorder {
  protected readonly log: Logger;
  protected readonly now: () => number;
  protected file: RecordingFile | undefined;
  /** Recording is over (finished, or a file could not be created or written). */
  protected stopped = false;
  private readonly all: RecordingFile[] = [];
  private readonly closing: Promise<number>[] = [];
  private finishing: Promise<void> | undefined;

  constructor(protected readonly opts: ShowRecorderOptions, private readonly format: RecordingFormat) {
    this.log = opts.logger.child({ station: opts.stationMount });
    this.now = opts.now ?? Date.now;
  }

  get files(): readonly string[] {
    return this.all.map((f) => f.path);
  }

  abstract start(opusHead: Buffer): void;
  abstract packet(data: Buffer): boolean;
  abstract silence(ms: number): void;
  abstract raw(chunk: Buffer, newStream: boolean): void;

  /** Last bytes of the current file before it is closed (the Ogg end page). */
  protected abstract finalBytes(): Buffer | undefined;

  /** Open the next file; false (and recording stopped, with an error line) if it can't be. */
  protected openFile(): boolean {
    if (this.stopped) return false;
    try {
      const f = RecordingFile.create({
        stationDir: join(this.opts.dir, this.opts.stationMount),
        format: this.format,
        user: this.opts.user,
        stationMount: this.opts.stationMount,
        startedAt: new Date(this.now()),
        logger: this.opts.logger,
        maxBufferedBytes: this.opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
        ...(this.opts.open !== undefined ? { open: this.opts.open } : {}),
      });
      this.file = f;
      this.all.push(f);
      this.log.info('recording started', { file: f.path, user: this.opts.user });
      return true;
    } catch (err) {
      this.stop(err, 'recording stopped: cannot create the file');
      return false;
    }
  }

  /** Close the current file (its end bytes first); the next write needs openFile(). */
  protected closeFile(): void {
    const f = this.file;
    if (f === undefined) return;
    this.file = undefined;
    try {
      const end = this.finalBytes();
      if (end !== undefined) f.write(end, true);
    } catch (err) {
      this.log.error('recording: could not end the file cleanly', { error: (err as Error).message });
    }
    this.closing.push(f.close(new Date(this.now())));
  }

  /** Is the current file usable? (a write error stops the recording) */
  protected writable(): boolean {
    if (this.stopped || this.file === undefined) return false;
    if (this.file.failed) {
      this.stopped = true;
      this.closeFile();
      return false;
    }
    return true;
  }

  protected stop(err: unknown, what: string): void {
    const e = err as NodeJS.ErrnoException;
    this.log.error(what, { code: e?.code, error: e instanceof Error ? e.message : String(err) });
    this.stopped = true;
    this.closeFile();
  }

  /** Close the file(s) validly. Never rejects. */
  finish(): Promise<void> {
    this.finishing ??= (async () => {
      this.closeFile();
      this.stopped = true;
      await Promise.all(this.closing);
      let keep = true;
      try {
        keep = this.opts.keep?.() ?? true;
      } catch {
        keep = true;
      }
      if (!keep && this.all.length > 0) {
        this.log.info('recording discarded: the broadcast never went live', { files: this.all.length });
        const at = new Date(this.now());
        await Promise.all(this.all.map((f) => f.discard(at)));
      }
    })();
    return this.finishing;
  }
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
      if (!this.writable() || this.writer === undefined) return true;
      if (this.segmentDue()) {
        // this packet ends the segment: it rides on the end page, the next file starts afresh
        this.file!.write(this.writer.end(data), true);
        this.writer = undefined;
        this.closeFile();
        this.newSegment();
        return true;
      }
      this.file!.write(this.writer.packet(data));
    } catch (err) {
      this.stop(err, 'recording stopped: unexpected error');
    }
    return true;
  }

  silence(ms: number): void {
    try {
      if (!this.writable() || this.writer === undefined) return;
      if (this.segmentDue()) {
        this.closeFile();
        this.newSegment();
        if (!this.writable() || this.writer === undefined) return;
      }
      this.file!.write(this.writer.silence(ms));
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

/**
 * Video: the WebM bytes as sent. With segments, a new file starts at the first Cluster after the
 * segment time whose first video frame is a keyframe (so every file starts decodable): the stream
 * header (EBML…Tracks) then the bytes from that Cluster on. Clusters are found with our own
 * demuxer on the raw bytes; bytes from a candidate Cluster are held until its first video frame
 * says whether it is a split point.
 */
class WebmRecorder extends BaseRecorder {
  private demuxer: WebmDemuxer | undefined;
  private header: Buffer | undefined;
  private videoTrack: number | undefined;
  /** Bytes of this connection's stream seen so far. */
  private pos = 0;
  private segmentStart = 0;
  /** Stream offset of the Cluster being considered as a split point, and the bytes held from it. */
  private candidate: number | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(opts: ShowRecorderOptions) {
    super(opts, 'webm');
  }

  start(): void {
    // the raw bytes are the recording
  }

  packet(): boolean {
    return true;
  }

  silence(): void {
    // a video file stops where its connection stopped; the next connection starts a new file
  }

  raw(chunk: Buffer, newStream: boolean): void {
    try {
      if (this.stopped) return;
      if (newStream || this.file === undefined) {
        this.closeFile();
        if (!this.openFile()) return;
        this.resetStream();
      }
      if (!this.writable()) return;
      if (this.demuxer === undefined) {
        this.file!.write(chunk);
        return;
      }
      this.split(chunk);
    } catch (err) {
      this.stop(err, 'recording stopped: unexpected error');
    }
  }

  protected finalBytes(): Buffer | undefined {
    // held bytes belong to the file being closed (no split happened)
    const held = this.takeHeld();
    return held.length > 0 ? held : undefined;
  }

  private resetStream(): void {
    this.demuxer = this.opts.segmentMs !== undefined ? new WebmDemuxer() : undefined;
    this.header = undefined;
    this.videoTrack = undefined;
    this.pos = 0;
    this.segmentStart = this.now();
    this.candidate = undefined;
    this.held = [];
    this.heldBytes = 0;
  }

  private takeHeld(): Buffer {
    const b = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    this.candidate = undefined;
    return b;
  }

  private split(chunk: Buffer): void {
    const start = this.pos;
    this.pos += chunk.length;
    const events = this.demuxer!.push(chunk);
    let cursor = start;
    // chunk bytes up to stream offset `to` go to the held bytes (a candidate is open) or the file
    const emit = (to: number): void => {
      if (to <= cursor) return;
      const part = chunk.subarray(cursor - start, to - start);
      cursor = to;
      if (this.file === undefined) return; // recording stopped (a new file could not be created)
      if (this.candidate !== undefined) {
        this.held.push(part);
        this.heldBytes += part.length;
      } else {
        this.file!.write(part);
      }
    };
    const due = (): boolean => this.now() - this.segmentStart >= this.opts.segmentMs!;
    for (const ev of events) {
      if (ev.type === 'tracks') {
        this.header = ev.header;
        this.videoTrack = ev.tracks.find((t) => t.type === 'video')?.number;
      } else if (ev.type === 'error') {
        // not WebM we can follow: keep recording the bytes, stop splitting this stream
        this.log.warn('recording: cannot split this stream into segments', { detail: ev.detail });
        emit(start + chunk.length);
        this.file?.write(this.takeHeld());
        this.demuxer = undefined;
        return;
      } else if (ev.type === 'cluster') {
        if (this.candidate !== undefined || this.header === undefined || ev.offset < cursor || !due()) continue;
        emit(ev.offset);
        this.candidate = ev.offset;
        if (this.videoTrack === undefined) this.cutHere();
      } else if (ev.type === 'frame' && this.candidate !== undefined && ev.track === this.videoTrack) {
        if (ev.keyframe) this.cutHere();
        else this.file?.write(this.takeHeld()); // not a clean start: it stays in this file
      }
      if (this.stopped) return;
    }
    emit(start + chunk.length);
    if (this.heldBytes > MAX_HELD_BYTES) this.cutHere();
  }

  /** A new file from the candidate Cluster on: header + held bytes. */
  private cutHere(): void {
    const held = this.takeHeld();
    this.closeFile();
    if (!this.openFile()) return;
    this.segmentStart = this.now();
    this.file!.write(this.header!, true);
    this.file!.write(held);
  }
}
