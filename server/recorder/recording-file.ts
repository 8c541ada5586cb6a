// One archive file and its sidecar. Writes go through an fs.WriteStream whose queue is bounded:
// when the disk can't keep up, data is dropped and counted (one warning per episode) rather than
// held in memory; a write error ends this file's recording with an `error` log line and a sidecar
// that says why (`failed`). Nothing here throws into the broadcast, except create(), whose caller
// decides what a failure means.
//
// The sidecar is never half-written: every version goes to `<file>.json.tmp` first and is renamed
// over `<file>.json`. Its last version (end time, size, and why the recording stopped if it
// stopped early) is written exactly when the disk may be full, so a spare `<file>.json.tmp` of
// SIDECAR_RESERVE_BYTES is written when the file starts and overwritten in place at the end,
// which takes no new space on file systems that overwrite in place (ext4, xfs, tmpfs). Where that
// write still fails (copy-on-write file systems such as btrfs or zfs may need new blocks for it),
// a fresh temporary file is tried, then the ledger keeps what the sidecar should say for the
// recordings list, and the show's end tries once more.
import { closeSync, createWriteStream, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { RecordingLedger } from './recording-ledger.js';
import {
  failureReasonOf, recordingFileName, SIDECAR_SUFFIX, type RecordingFailure, type RecordingFormat, type RecordingMeta,
} from './recording-names.js';

/** Suffixes tried when a name is taken (two shows or segments starting in the same second). */
const MAX_NAME_TRIES = 1000;
/** finish() gives up waiting for a stuck disk after this (a shutdown must not hang on it). */
const DEFAULT_CLOSE_TIMEOUT_MS = 3000;
/**
 * Size of the spare file the final sidecar is written into, and so of a finished sidecar (JSON
 * padded with spaces). A sidecar is under 600 bytes: user names are at most 100 characters and
 * station mounts 64.
 */
export const SIDECAR_RESERVE_BYTES = 1024;
export const TMP_SUFFIX = '.tmp';

export interface RecordingFileOptions {
  /** `<recordings.dir>/<station-mount>`; created if missing. */
  readonly stationDir: string;
  readonly format: RecordingFormat;
  readonly user: string;
  readonly stationMount: string;
  readonly startedAt: Date;
  readonly logger: Logger;
  /** Bytes the write queue may hold before data is dropped. */
  readonly maxBufferedBytes: number;
  readonly closeTimeoutMs?: number;
  /** Where a sidecar that could not be written is remembered for the recordings list. */
  readonly ledger?: RecordingLedger | undefined;
  readonly now?: () => number;
  /** Test hook: open the archive file, exclusively (default: `wx`, mode 0640). */
  readonly open?: (path: string) => number;
}

export class RecordingFile {
  readonly path: string;
  readonly name: string;
  readonly startedAt: Date;
  /** Bytes dropped because the write queue was full. */
  droppedBytes = 0;
  droppedWrites = 0;
  private readonly stream: WriteStream;
  private readonly log: Logger;
  private failure: RecordingFailure | undefined;
  private error: NodeJS.ErrnoException | undefined;
  private dropping = false;
  private closing: Promise<number> | undefined;
  /** The final sidecar, while it could not be written. */
  private pendingMeta: RecordingMeta | undefined;

  private constructor(private readonly opts: RecordingFileOptions, path: string, name: string, fd: number) {
    this.path = path;
    this.name = name;
    this.startedAt = opts.startedAt;
    this.log = opts.logger.child({ recording: `${opts.stationMount}/${name}` });
    this.stream = createWriteStream(path, { fd, autoClose: true });
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (this.failure !== undefined) return;
      const reason = failureReasonOf(err.code);
      this.error = err;
      this.failure = { reason, at: new Date((opts.now ?? Date.now)()).toISOString(), ...(err.code !== undefined ? { code: err.code } : {}) };
      this.log.error('recording stopped: the file cannot be written', { reason, code: err.code, error: err.message, file: path });
    });
  }

  /**
   * Create the file (never overwriting one: `-1`, `-2`… when the name is taken), its sidecar and
   * the sidecar's spare. Throws the fs error if any of them can't be created, and then leaves
   * none of them behind.
   */
  static create(opts: RecordingFileOptions): RecordingFile {
    mkdirSync(opts.stationDir, { recursive: true, mode: 0o750 });
    const open = opts.open ?? ((p: string) => openSync(p, 'wx', 0o640));
    for (let n = 0; n < MAX_NAME_TRIES; n++) {
      const name = recordingFileName(opts.startedAt, opts.format, n);
      const path = join(opts.stationDir, name);
      let fd: number;
      try {
        fd = open(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      const sidecar = path + SIDECAR_SUFFIX;
      const tmp = sidecar + TMP_SUFFIX;
      try {
        writeFileSync(tmp, sidecarJson(opts, null, 0), { mode: 0o640 });
        renameSync(tmp, sidecar);
        writeFileSync(tmp, Buffer.alloc(SIDECAR_RESERVE_BYTES, 0x20), { mode: 0o640, flag: 'wx' });
      } catch (err) {
        closeSync(fd);
        for (const p of [tmp, sidecar, path]) {
          try { unlinkSync(p); } catch { /* it is the first error that matters */ }
        }
        throw err;
      }
      return new RecordingFile(opts, path, name, fd);
    }
    throw new Error(`no free file name for a recording starting ${opts.startedAt.toISOString()} in ${opts.stationDir}`);
  }

  /** The write failed; nothing more is written to this file. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Why and when writing stopped, if it did. */
  get failedWith(): { readonly failure: RecordingFailure; readonly error: NodeJS.ErrnoException } | undefined {
    return this.failure !== undefined ? { failure: this.failure, error: this.error! } : undefined;
  }

  /** The final sidecar could not be written (the ledger has it); retrySidecar() tries again. */
  get sidecarPending(): boolean {
    return this.pendingMeta !== undefined;
  }

  /** Queue data; dropped (and counted) when the queue is full, unless `force` (small end pages). */
  write(data: Buffer, force = false): void {
    if (this.failure !== undefined || this.closing !== undefined || data.length === 0) return;
    if (!force && this.stream.writableLength + data.length > this.opts.maxBufferedBytes) {
      this.droppedBytes += data.length;
      this.droppedWrites++;
      if (!this.dropping) {
        this.dropping = true;
        this.log.warn('recording is dropping data: the disk is not keeping up', { maxBufferedBytes: this.opts.maxBufferedBytes });
      }
      return;
    }
    if (this.dropping) {
      this.dropping = false;
      this.log.warn('recording caught up after dropping data', { droppedBytes: this.droppedBytes, droppedWrites: this.droppedWrites });
    }
    this.stream.write(data);
  }

  /**
   * Flush and close the file, then finish the sidecar: the end time (when writing failed, if it
   * did), the size, and `failed`. Never rejects; resolves with the bytes in the file.
   */
  close(endedAt: Date): Promise<number> {
    this.closing ??= (async () => {
      await this.endStream();
      const bytes = await stat(this.path).then((s) => s.size, () => this.stream.bytesWritten);
      const failure = this.failure;
      await this.writeFinalSidecar(sidecarMeta(this.opts, failure !== undefined ? new Date(failure.at) : endedAt, bytes, failure));
      const info = {
        bytes, seconds: Math.round((endedAt.getTime() - this.startedAt.getTime()) / 1000),
        ...(this.droppedBytes > 0 ? { droppedBytes: this.droppedBytes, droppedWrites: this.droppedWrites } : {}),
      };
      if (failure !== undefined) this.log.warn('recording finished early: writing failed', { ...info, reason: failure.reason, code: failure.code });
      else if (this.droppedBytes > 0) this.log.warn('recording finished with gaps: data was dropped because the disk was too slow', info);
      else this.log.info('recording finished', info);
      return bytes;
    })();
    return this.closing;
  }

  /** Try the final sidecar again (after close() could not write it). Never rejects. */
  async retrySidecar(): Promise<boolean> {
    if (this.pendingMeta === undefined) return true;
    return this.writeFinalSidecar(this.pendingMeta);
  }

  /** Close, then delete the file, its sidecar and the spare. Never rejects. */
  async discard(endedAt: Date): Promise<void> {
    await this.close(endedAt);
    this.opts.ledger?.clearSidecar(this.opts.stationMount, this.name);
    this.pendingMeta = undefined;
    for (const p of [this.path, this.path + SIDECAR_SUFFIX, this.path + SIDECAR_SUFFIX + TMP_SUFFIX]) {
      try {
        await unlink(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('could not delete a discarded recording', { file: p, error: (err as Error).message });
      }
    }
  }

  private async writeFinalSidecar(meta: RecordingMeta): Promise<boolean> {
    try {
      await writeSidecar(this.path, meta);
    } catch (err) {
      this.pendingMeta = meta;
      this.opts.ledger?.setSidecar(this.opts.stationMount, this.name, meta);
      this.log.error('could not write the recording\'s sidecar; the recordings list shows the right end until the daemon restarts', {
        code: (err as NodeJS.ErrnoException).code, error: (err as Error).message,
      });
      return false;
    }
    if (this.pendingMeta !== undefined) {
      this.pendingMeta = undefined;
      this.opts.ledger?.clearSidecar(this.opts.stationMount, this.name);
      this.log.info('recording\'s sidecar written on a later try');
    }
    return true;
  }

  private endStream(): Promise<void> {
    const s = this.stream;
    if (this.failure !== undefined || s.destroyed) {
      s.destroy();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.error('recording: the disk did not take the end of the file in time; it may be cut short', { timeoutMs: this.opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS });
        s.destroy();
        resolve();
      }, this.opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
      timer.unref();
      const done = (): void => { clearTimeout(timer); resolve(); };
      s.once('close', done);
      s.once('error', done);
      s.end();
    });
  }
}

/**
 * Replace the sidecar of the archive file at `path` whole: its spare (`.json.tmp`) overwritten in
 * place and renamed over it, or where there is no usable spare, a fresh temporary file. Throws
 * the file system's error, leaving the old sidecar as it was and no temporary file behind.
 */
export async function writeSidecar(path: string, meta: RecordingMeta): Promise<void> {
  const sidecar = path + SIDECAR_SUFFIX;
  const tmp = sidecar + TMP_SUFFIX;
  const json = JSON.stringify(meta);
  try {
    await overwriteSpare(tmp, json);
    await rename(tmp, sidecar);
  } catch {
    try {
      await writeFile(tmp, `${json}\n`, { mode: 0o640 });
      await rename(tmp, sidecar);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

/** Overwrite the spare at `path` in place (same size: no new blocks), the JSON padded with spaces. */
async function overwriteSpare(path: string, json: string): Promise<void> {
  const data = Buffer.from(json);
  if (data.length >= SIDECAR_RESERVE_BYTES) throw new Error(`sidecar of ${data.length} bytes does not fit its spare`);
  const fh = await open(path, 'r+');
  try {
    if ((await fh.stat()).size !== SIDECAR_RESERVE_BYTES) throw new Error('the sidecar\'s spare is missing or not ours');
    const padded = Buffer.alloc(SIDECAR_RESERVE_BYTES, 0x20);
    data.copy(padded);
    padded[SIDECAR_RESERVE_BYTES - 1] = 0x0a;
    const { bytesWritten } = await fh.write(padded, 0, padded.length, 0);
    if (bytesWritten !== padded.length) throw new Error('short write to the sidecar\'s spare');
  } finally {
    await fh.close();
  }
}

function sidecarMeta(opts: RecordingFileOptions, endedAt: Date | null, bytes: number, failed?: RecordingFailure): RecordingMeta {
  return {
    user: opts.user, stationMount: opts.stationMount, startedAt: opts.startedAt.toISOString(),
    endedAt: endedAt?.toISOString() ?? null, bytes, format: opts.format, ...(failed !== undefined ? { failed } : {}),
  };
}

function sidecarJson(opts: RecordingFileOptions, endedAt: Date | null, bytes: number): string {
  return `${JSON.stringify(sidecarMeta(opts, endedAt, bytes))}\n`;
}
