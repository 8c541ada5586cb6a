// Finding recordings on disk: a broadcaster's list, and one file by name for a download. Names are
// checked against strict patterns before they touch a path, and the file must resolve, symlinks
// and all, to exactly `<real recordings dir>/<station-mount>/<file>`: nothing outside the
// directory can be reached, whatever the request says.
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { STATION_MOUNT_RE } from '../config/schema.js';
import type { RecordingLedger } from './recording-ledger.js';
import {
  formatOfFile, parseRecordingMeta, RECORDING_FILE_RE, SIDECAR_SUFFIX, type RecordingFailure, type RecordingFormat, type RecordingMeta,
} from './recording-names.js';

/** A sidecar is a few hundred bytes; anything much bigger is not ours. */
const MAX_SIDECAR_BYTES = 64 * 1024;

export interface RecordingEntry {
  /** The file's name; null for a stretch of a show that has no file (it could not be created). */
  readonly name: string | null;
  readonly stationMount: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  /** Size on disk now (grows while the show is live). */
  readonly bytes: number;
  readonly format: RecordingFormat;
  /** Why the recording stopped before the show did, if it did. */
  readonly failed: RecordingFailure | null;
}

/** A station mount and file name as a download may ask for them. Pure. */
export function validRecordingName(stationMount: string, file: string): boolean {
  return STATION_MOUNT_RE.test(stationMount) && RECORDING_FILE_RE.test(file);
}

async function readSidecar(path: string): Promise<RecordingMeta | undefined> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size > MAX_SIDECAR_BYTES) return undefined;
    return parseRecordingMeta(JSON.parse(await readFile(path, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * The user's recordings, newest first: the files on disk, with what the ledger knows where a
 * sidecar could not be written, and the ledger's stretches that have no file. A missing directory
 * is an empty list of files.
 */
export async function listRecordings(dir: string, user: string, ledger?: RecordingLedger): Promise<RecordingEntry[]> {
  const out: RecordingEntry[] = (ledger?.stretchesOf(user) ?? []).map((s) => ({
    name: null, stationMount: s.stationMount, startedAt: s.startedAt, endedAt: s.endedAt, bytes: 0, format: s.format, failed: s.failed,
  }));
  let stations;
  try {
    stations = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return sortNewestFirst(out);
    throw err;
  }
  for (const s of stations) {
    // a Dirent of a symlink is not a directory: links are not followed
    if (!s.isDirectory() || !STATION_MOUNT_RE.test(s.name)) continue;
    const stationDir = join(dir, s.name);
    let files;
    try {
      files = await readdir(stationDir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const f of files) {
      if (!f.isFile() || !RECORDING_FILE_RE.test(f.name)) continue;
      const path = join(stationDir, f.name);
      const meta = ledger?.sidecarOf(s.name, f.name) ?? await readSidecar(path + SIDECAR_SUFFIX);
      if (meta === undefined || meta.user !== user) continue;
      const st = await stat(path).catch(() => undefined);
      if (st === undefined) continue;
      out.push({
        name: f.name, stationMount: s.name, startedAt: meta.startedAt, endedAt: meta.endedAt,
        bytes: st.size, format: formatOfFile(f.name) ?? meta.format, failed: meta.failed ?? null,
      });
    }
  }
  return sortNewestFirst(out);
}

function sortNewestFirst(list: RecordingEntry[]): RecordingEntry[] {
  return list.sort((a, b) => (a.startedAt === b.startedAt ? (b.name ?? '').localeCompare(a.name ?? '') : a.startedAt < b.startedAt ? 1 : -1));
}

export type ResolvedRecording =
  | { readonly ok: true; readonly path: string; readonly format: RecordingFormat; readonly meta: RecordingMeta | undefined }
  | { readonly ok: false; readonly reason: 'bad-name' | 'not-found' };

/**
 * The archive file for a download, with its sidecar (undefined if it has none or it is not
 * readable). `not-found` for anything that is not a regular file at exactly that place.
 */
export async function resolveRecording(dir: string, stationMount: string, file: string): Promise<ResolvedRecording> {
  if (!validRecordingName(stationMount, file)) return { ok: false, reason: 'bad-name' };
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    return { ok: false, reason: 'not-found' };
  }
  const expected = join(root, stationMount, file);
  let real: string;
  try {
    real = await realpath(expected);
  } catch {
    return { ok: false, reason: 'not-found' };
  }
  // any symlink on the way (station directory or file) changes the real path: refused
  if (real !== expected) return { ok: false, reason: 'not-found' };
  const st = await stat(real).catch(() => undefined);
  if (st === undefined || !st.isFile()) return { ok: false, reason: 'not-found' };
  return { ok: true, path: real, format: formatOfFile(file)!, meta: await readSidecar(real + SIDECAR_SUFFIX) };
}
