// One show's archive files, one after another, and what happens when the disk says no. The
// recorders (show-recorder.ts for audio, webm-recorder.ts for video) decide what goes into a file
// and where a new one starts; this part opens and closes the files, and handles their failures.
//
// When a file can't be created or written (the disk is full, the directory not writable), that
// file ends with `failed` in its sidecar, the stretch with no file goes into the ledger (so the
// recordings list shows it), and a new file is tried after a backed-off delay (5 s, doubling up
// to 5 min): the recording resumes once there is room again, where the recorder can start a file.
// An unexpected error (a bug, not the file system) stops the recording for good. No method
// throws into the broadcast.
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { RecordingFile } from './recording-file.js';
import type { OpenStretch, RecordingLedger } from './recording-ledger.js';
import { failureReasonOf, type RecordingFormat } from './recording-names.js';

/** Default bound on one file's write queue (about 20 s of 3 Mbit/s video). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
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

export abstract class BaseRecorder implements ArchiveRecorder {
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
