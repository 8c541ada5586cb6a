// Retention: delete archive files (and their sidecars) older than recordings.keepDays, judged by
// the file's mtime (the last write, i.e. the end of the show). Runs at daemon start and every
// hour. Only names the recorder writes, in station directories, are ever touched; symlinks are
// never followed.
import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { STATION_MOUNT_RE } from '../config/schema.js';
import type { Logger } from '../log.js';
import { RECORDER_FILE_RE, RECORDING_FILE_RE, SIDECAR_SUFFIX } from './recording-names.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionOptions {
  readonly dir: string;
  /** 0 = keep forever. */
  readonly keepDays: number;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly intervalMs?: number;
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<string[]> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: RetentionOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Sweep now, then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.opts.keepDays <= 0 || this.timer !== undefined) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.opts.intervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Delete what is too old; resolves with the deleted paths. Never rejects. One sweep at a time. */
  sweep(): Promise<string[]> {
    this.running ??= this.sweepOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async sweepOnce(): Promise<string[]> {
    const deleted: string[] = [];
    if (this.opts.keepDays <= 0) return deleted;
    const cutoff = this.now() - this.opts.keepDays * DAY_MS;
    let stations: string[];
    try {
      stations = await readdir(this.opts.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // nothing recorded yet
      if (code !== 'ENOENT') this.opts.logger.error('recordings: cannot read the recordings directory', { dir: this.opts.dir, code });
      return deleted;
    }
    for (const station of stations) {
      if (!STATION_MOUNT_RE.test(station)) continue;
      const stationDir = join(this.opts.dir, station);
      try {
        if (!(await lstat(stationDir)).isDirectory()) continue;
        const names = (await readdir(stationDir)).filter((n) => RECORDER_FILE_RE.test(n));
        const present = new Set(names);
        for (const name of names) {
          const isMedia = RECORDING_FILE_RE.test(name);
          // a sidecar goes with its archive file; alone (an orphan), it is judged by its own age
          if (!isMedia && present.has(name.replace(/\.json(\.tmp)?$/, ''))) continue;
          const path = join(stationDir, name);
          const st = await lstat(path).catch(() => undefined);
          if (st === undefined || !st.isFile() || st.mtimeMs >= cutoff) continue;
          const targets = isMedia ? [path, path + SIDECAR_SUFFIX, `${path}${SIDECAR_SUFFIX}.tmp`] : [path];
          for (const t of targets) {
            try {
              await unlink(t);
              deleted.push(t);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            }
          }
        }
      } catch (err) {
        this.opts.logger.error('recordings: retention sweep failed in a station directory', { dir: stationDir, code: (err as NodeJS.ErrnoException).code, error: (err as Error).message });
      }
    }
    if (deleted.length > 0) {
      this.opts.logger.info('recordings older than keepDays deleted', { files: deleted.filter((p) => RECORDING_FILE_RE.test(basename(p))).length, keepDays: this.opts.keepDays });
    }
    return deleted;
  }
}
