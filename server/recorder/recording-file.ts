// One archive file and its sidecar. Writes go through an fs.WriteStream whose queue is bounded:
// when the disk can't keep up, data is dropped and counted (one warning per episode) rather than
// held in memory; a write error ends this file's recording with an `error` log line. Nothing here
// throws into the broadcast, except create(), whose caller decides what a failure means.
import { closeSync, createWriteStream, mkdirSync, openSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { recordingFileName, SIDECAR_SUFFIX, type RecordingFormat, type RecordingMeta } from './recording-names.js';

/** Suffixes tried when a name is taken (two shows or segments starting in the same second). */
const MAX_NAME_TRIES = 1000;
/** finish() gives up waiting for a stuck disk after this (a shutdown must not hang on it). */
const DEFAULT_CLOSE_TIMEOUT_MS = 3000;

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
  private failure: Error | undefined;
  private dropping = false;
  private closing: Promise<number> | undefined;

  private constructor(private readonly opts: RecordingFileOptions, path: string, name: string, fd: number) {
    this.path = path;
    this.name = name;
    this.startedAt = opts.startedAt;
    this.log = opts.logger.child({ recording: `${opts.stationMount}/${name}` });
    this.stream = createWriteStream(path, { fd, autoClose: true });
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (this.failure !== undefined) return;
      this.failure = err;
      this.log.error('recording stopped: the file cannot be written', { code: err.code, error: err.message, file: path });
    });
  }

  /**
   * Create the file (never overwriting one: `-1`, `-2`… when the name is taken) and its sidecar.
   * Throws the fs error if either can't be created.
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
      try {
        writeFileSync(path + SIDECAR_SUFFIX, sidecarJson(opts, null, 0), { mode: 0o640 });
      } catch (err) {
        closeSync(fd);
        try { unlinkSync(path); } catch { /* it is the sidecar's error that matters */ }
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

  /** Flush and close the file, then rewrite the sidecar with the end time and size. Never rejects; resolves with the bytes written. */
  close(endedAt: Date): Promise<number> {
    this.closing ??= (async () => {
      await this.endStream();
      const bytes = this.stream.bytesWritten;
      try {
        const tmp = `${this.path}${SIDECAR_SUFFIX}.tmp`;
        await writeFile(tmp, sidecarJson(this.opts, endedAt, bytes), { mode: 0o640 });
        await rename(tmp, this.path + SIDECAR_SUFFIX);
      } catch (err) {
        this.log.error('could not write the recording\'s sidecar', { code: (err as NodeJS.ErrnoException).code, error: (err as Error).message });
      }
      const info = {
        bytes, seconds: Math.round((endedAt.getTime() - this.startedAt.getTime()) / 1000),
        ...(this.droppedBytes > 0 ? { droppedBytes: this.droppedBytes, droppedWrites: this.droppedWrites } : {}),
      };
      if (this.droppedBytes > 0) this.log.warn('recording finished with gaps: data was dropped because the disk was too slow', info);
      else this.log.info('recording finished', info);
      return bytes;
    })();
    return this.closing;
  }

  /** Close, then delete the file and its sidecar. Never rejects. */
  async discard(endedAt: Date): Promise<void> {
    await this.close(endedAt);
    for (const p of [this.path, this.path + SIDECAR_SUFFIX]) {
      try {
        await unlink(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('could not delete a discarded recording', { file: p, error: (err as Error).message });
      }
    }
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

function sidecarJson(opts: RecordingFileOptions, endedAt: Date | null, bytes: number): string {
  const meta: RecordingMeta = {
    user: opts.user, stationMount: opts.stationMount, startedAt: opts.startedAt.toISOString(),
    endedAt: endedAt?.toISOString() ?? null, bytes, format: opts.format,
  };
  return `${JSON.stringify(meta)}\n`;
}
