// The show recorder: archives one broadcast as it arrives, from the broadcaster's own data, with
// no ffmpeg (an encoder dying must not touch the archive). Audio broadcasts: the broadcaster's Opus
// packets in an Ogg/Opus stream of our own (own serial, headers at the start of each file, silence
// through a broadcaster's drop so the file lasts as long as the show). Video broadcasts: the WebM
// bytes exactly as sent, one file per connection (a resumed connection sends a new WebM header).
//
// When a file can't be created or written (the disk is full, the directory not writable), that
// file ends with `failed` in its sidecar, the stretch with no file goes into the ledger (so the
// recordings list shows it), and a new file is tried after a backed-off delay: the recording
// resumes once there is room again, at the next packet (audio) or the next Cluster that starts
// with a keyframe, behind the stream header (video).
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
import type { OpenStretch, RecordingLedger } from './recording-ledger.js';
import { failureReasonOf, type RecordingFormat } from './recording-names.js';

/** Default bound on one file's write queue (about 20 s of 3 Mbit/s video). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** WebM bytes held back while deciding whether a Cluster starts with a keyframe (then split anyway). */
const MAX_HELD_BYTES = 16 * 1024 * 1024;
/** After a file could not be created or written, the first retry waits this long; each failed retry doubles it. */
export const DEFAULT_RETRY_MS = 5000;
export const MAX_RETRY_MS = 5 * 60 * 1000;

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
  /** Where stretches with no file (and sidecars that could not be written) are kept for the list. */
  readonly ledger?: RecordingLedger | undefined;
  /** First retry delay after a failed file (default DEFAULT_RETRY_MS). */
  readonly retryMs?: number;
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
  /** Recording is over for good (finished, or an unexpected error). */
  protected stopped = false;
  private readonly all: RecordingFile[] = [];
  private readonly closing: Promise<number>[] = [];
  private finishing: Promise<void> | undefined;
  /** No file since a failure: the next one may be tried from retryAt on. */
  private suspended = false;
  private retryAt = 0;
  private retryDelay = 0;
  /** The ledger's record of the stretch with no file, while suspended. */
  private stretch: OpenStretch | undefined;
  private readonly stretches: OpenStretch[] = [];

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

  /** Suspended after a failure, and the retry time has come. */
  protected retryDue(): boolean {
    return this.suspended && !this.stopped && this.now() >= this.retryAt;
  }

  /** Open the next file; false if it can't be (then suspended, with an error line the first time). */
  protected openFile(): boolean {
    if (this.stopped || (this.suspended && this.now() < this.retryAt)) return false;
    try {
      const f = RecordingFile.create({
        stationDir: join(this.opts.dir, this.opts.stationMount),
        format: this.format,
        user: this.opts.user,
        stationMount: this.opts.stationMount,
        startedAt: new Date(this.now()),
        logger: this.opts.logger,
        maxBufferedBytes: this.opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
        ledger: this.opts.ledger,
        now: this.now,
        ...(this.opts.open !== undefined ? { open: this.opts.open } : {}),
      });
      this.file = f;
      this.all.push(f);
      if (this.suspended) {
        this.suspended = false;
        this.retryDelay = 0;
        this.stretch?.close(f.startedAt);
        this.stretch = undefined;
        this.log.warn('recording resumed in a new file', { file: f.path, user: this.opts.user });
      } else {
        this.log.info('recording started', { file: f.path, user: this.opts.user });
      }
      return true;
    } catch (err) {
      this.suspend(err, new Date(this.now()), 'recording stopped: cannot create the file');
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

  /** Is the current file usable? A write error closes it and suspends the recording. */
  protected writable(): boolean {
    if (this.stopped || this.file === undefined) return false;
    const failed = this.file.failedWith;
    if (failed !== undefined) {
      this.closeFile();
      // the file's own error line said what happened
      this.suspend(failed.error, new Date(failed.failure.at));
      return false;
    }
    return true;
  }

  /**
   * No file from `at` until a retry succeeds: the stretch goes into the ledger, the next try
   * waits (5 s, doubling up to 5 min). `what`: the error line to log, on the first failure only.
   */
  private suspend(err: unknown, at: Date, what?: string): void {
    const e = err as NodeJS.ErrnoException;
    const reason = failureReasonOf(e?.code);
    const first = this.retryDelay === 0;
    this.retryDelay = first ? (this.opts.retryMs ?? DEFAULT_RETRY_MS) : Math.min(this.retryDelay * 2, MAX_RETRY_MS);
    this.retryAt = this.now() + this.retryDelay;
    const detail = { reason, code: e?.code, error: e instanceof Error ? e.message : String(err), retryInMs: this.retryDelay };
    if (this.suspended) {
      this.log.debug('recording: still cannot create a file', detail);
      return;
    }
    this.suspended = true;
    if (what !== undefined) this.log.error(what, detail);
    else this.log.warn('recording suspended: a new file will be tried', detail);
    const stretch = this.opts.ledger?.openStretch({
      user: this.opts.user, stationMount: this.opts.stationMount, format: this.format, startedAt: at.toISOString(),
      failed: { reason, at: at.toISOString(), ...(e?.code !== undefined ? { code: e.code } : {}) },
    });
    this.stretch = stretch;
    if (stretch !== undefined) this.stretches.push(stretch);
  }

  /** An unexpected error (a bug, not the file system): recording stops for good. */
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
      const at = new Date(this.now());
      this.stretch?.close(at);
      this.stretch = undefined;
      await Promise.all(this.closing);
      // a sidecar that could not be finished when its file closed: the show's end tries again
      for (const f of this.all) if (f.sidecarPending) await f.retrySidecar();
      let keep = true;
      try {
        keep = this.opts.keep?.() ?? true;
      } catch {
        keep = true;
      }
      if (!keep && (this.all.length > 0 || this.stretches.length > 0)) {
        this.log.info('recording discarded: the broadcast never went live', { files: this.all.length });
        for (const s of this.stretches) s.drop();
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

/**
 * Video: the WebM bytes as sent. With segments, a new file starts at the first Cluster after the
 * segment time whose first video frame is a keyframe (so every file starts decodable): the stream
 * header (EBML…Tracks) then the bytes from that Cluster on. A recording that resumes after a
 * failure starts its new file the same way. Clusters are found with our own demuxer on the raw
 * bytes; bytes from a candidate Cluster are held until its first video frame says whether it is
 * a split point.
 */
class WebmRecorder extends BaseRecorder {
  /** Follows this connection's stream; undefined once it could not (then bytes are just written). */
  private demuxer: WebmDemuxer | undefined;
  private streaming = false;
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
      if (newStream || !this.streaming) {
        // a new stream starts with its own header: its file starts at its first byte
        this.closeFile();
        this.resetStream();
        this.openFile();
      } else if (this.file !== undefined) {
        this.writable(); // a write error closes the file and suspends the recording
      }
      if (this.demuxer === undefined) {
        this.file?.write(chunk);
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
    this.demuxer = new WebmDemuxer();
    this.streaming = true;
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
      if (this.candidate !== undefined) {
        this.held.push(part);
        this.heldBytes += part.length;
      } else {
        this.file?.write(part); // no file: suspended after a failure, the bytes are lost
      }
    };
    // a split point is due: the segment time is up, or (no file) a retry after a failure
    const due = (): boolean => (this.file === undefined
      ? this.retryDue()
      : this.opts.segmentMs !== undefined && this.now() - this.segmentStart >= this.opts.segmentMs);
    for (const ev of events) {
      if (ev.type === 'tracks') {
        this.header = ev.header;
        this.videoTrack = ev.tracks.find((t) => t.type === 'video')?.number;
      } else if (ev.type === 'error') {
        // not WebM we can follow: keep recording the bytes, stop splitting this stream
        this.log.warn('recording: cannot follow this stream\'s Clusters; no segments or resumed files for it', { detail: ev.detail });
        emit(start + chunk.length);
        const held = this.takeHeld();
        this.file?.write(held);
        this.demuxer = undefined;
        return;
      } else if (ev.type === 'cluster') {
        if (this.candidate !== undefined || this.header === undefined || ev.offset < cursor || !due()) continue;
        emit(ev.offset);
        this.candidate = ev.offset;
        if (this.videoTrack === undefined) this.cutHere();
      } else if (ev.type === 'frame' && this.candidate !== undefined && ev.track === this.videoTrack) {
        if (ev.keyframe) this.cutHere();
        else {
          // not a clean start: it stays in this file (taken first: no file must still clear it)
          const held = this.takeHeld();
          this.file?.write(held);
        }
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
