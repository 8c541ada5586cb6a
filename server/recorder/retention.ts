// Retention: delete archive files (and their sidecars) older than recordings.keepDays, judged by
// the file's mtime (the last write, i.e. the end of the show). Runs at daemon start and every
// hour. Only names the recorder writes, in station directories, are ever touched; symlinks are
// never followed.
//
// The same sweep tidies up after a daemon that died mid-show (whatever keepDays says): a file not
// written for STALE_MS is not being recorded by anyone (a live recording is written every few
// seconds, silence included, and no broadcaster's drop lasts that long), so its sidecar's spare
// (`.json.tmp`) is deleted and a sidecar still saying `endedAt: null` is finished as `interrupted`.
// That is safe with several daemons sharing the directory: it judges by the files, not by memory.
import { lstat, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { STATION_MOUNT_RE } from '../config/schema.js';
import type { Logger } from '../log.js';
import { TMP_SUFFIX, writeSidecar } from './recording-file.js';
import { parseRecordingMeta, RECORDER_FILE_RE, RECORDING_FILE_RE, SIDECAR_SUFFIX } from './recording-names.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
/** A recording whose file was not written for this long is over (limits.reconnectGraceMs is at most 10 min). */
export const STALE_MS = 60 * 60 * 1000;

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
    if (this.timer !== undefined) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.opts.intervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Finish what a dead daemon left, then delete what is too old; resolves with the deleted paths.
   * Never rejects. One sweep at a time.
   */
  sweep(): Promise<string[]> {
    this.running ??= this.sweepOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async sweepOnce(): Promise<string[]> {
    const deleted: string[] = [];
    const cutoff = this.opts.keepDays > 0 ? this.now() - this.opts.keepDays * DAY_MS : -Infinity;
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
          if (RECORDING_FILE_RE.test(name)) await this.tidy(join(stationDir, name), present, deleted);
        }
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
    const files = deleted.filter((p) => RECORDING_FILE_RE.test(basename(p))).length;
    if (files > 0) this.opts.logger.info('recordings older than keepDays deleted', { files, keepDays: this.opts.keepDays });
    return deleted;
  }

  /** A recording nobody has written to for STALE_MS: no spare left, and a sidecar that has an end. */
  private async tidy(path: string, present: Set<string>, deleted: string[]): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || !st.isFile() || st.mtimeMs > this.now() - STALE_MS) return;
    const name = basename(path);
    const sidecar = path + SIDECAR_SUFFIX;
    if (present.has(name + SIDECAR_SUFFIX)) {
      let meta;
      try {
        const side = await lstat(sidecar);
        if (side.isFile() && side.size < 64 * 1024) meta = parseRecordingMeta(JSON.parse(await readFile(sidecar, 'utf8')));
      } catch {
        meta = undefined; // not a sidecar of ours: left alone
      }
      if (meta !== undefined && meta.endedAt === null) {
        const at = new Date(st.mtimeMs).toISOString();
        // the spare, if any, is used for this write (it works on a full disk)
        await writeSidecar(path, { ...meta, endedAt: at, bytes: st.size, failed: { reason: 'interrupted', at } });
        this.opts.logger.warn('recording was cut short by a daemon that stopped without finishing it; its sidecar says so now', { file: path, endedAt: at });
      }
    }
    const spare = sidecar + TMP_SUFFIX;
    try {
      await unlink(spare);
      deleted.push(spare);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
