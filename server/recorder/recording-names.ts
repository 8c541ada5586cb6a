// Names and sidecars of archive files: `<dir>/<station-mount>/<start>.<ext>` with `<start>` the UTC
// start time without colons (`2026-11-21T14-30-05Z`, `-1`, `-2`… when a name is taken), and
// `<file>.json` beside it saying whose show it is. Pure.

/** An archive file's name. Strict on purpose: it is what the download route accepts. */
export const RECORDING_FILE_RE = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(-\d+)?\.(ogg|webm)$/;
/** Every file the recorder writes in a station directory (archive, sidecar, sidecar being replaced). */
export const RECORDER_FILE_RE = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(-\d+)?\.(ogg|webm)(\.json(\.tmp)?)?$/;
export const SIDECAR_SUFFIX = '.json';

export type RecordingFormat = 'ogg-opus' | 'webm';

export function extensionFor(format: RecordingFormat): 'ogg' | 'webm' {
  return format === 'webm' ? 'webm' : 'ogg';
}

export function contentTypeForRecording(format: RecordingFormat): string {
  return format === 'webm' ? 'video/webm' : 'audio/ogg';
}

export function formatOfFile(name: string): RecordingFormat | undefined {
  if (name.endsWith('.ogg')) return 'ogg-opus';
  if (name.endsWith('.webm')) return 'webm';
  return undefined;
}

/** `2026-11-21T14-30-05Z`: ISO 8601 UTC to the second, `-` for `:` (portable file names). */
export function recordingStem(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace(/:/g, '-')}Z`;
}

/** The n-th candidate name for a recording starting at `at` (0: no suffix). */
export function recordingFileName(at: Date, format: RecordingFormat, n = 0): string {
  return `${recordingStem(at)}${n > 0 ? `-${n}` : ''}.${extensionFor(format)}`;
}

/**
 * Why a recording stopped before its show did. `disk-full`: no space (or quota) left;
 * `not-writable`: permissions or a read-only file system; `write-error`: any other error from the
 * file system; `interrupted`: the daemon died while recording (found afterwards, see retention.ts).
 */
export const RECORDING_FAILURES = ['disk-full', 'not-writable', 'write-error', 'interrupted'] as const;
export type RecordingFailureReason = (typeof RECORDING_FAILURES)[number];

export interface RecordingFailure {
  readonly reason: RecordingFailureReason;
  /** ISO 8601: when the recording stopped. */
  readonly at: string;
  /** The file system's error code (`ENOSPC`…), when there was one. */
  readonly code?: string;
}

/** The failure reason for a file system error code. Pure. */
export function failureReasonOf(code: string | undefined): RecordingFailureReason {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'disk-full';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'not-writable';
    default:
      return 'write-error';
  }
}

/**
 * What a broadcaster reads about a failed recording. `hasFile`: part of the show is in a file
 * (the recording stopped part way); otherwise nothing could be recorded at all. Pure.
 */
export function failureMessage(reason: RecordingFailureReason, hasFile: boolean): string {
  const what = hasFile ? 'The recording stopped here' : 'This part of the show was not recorded';
  switch (reason) {
    case 'disk-full':
      return `${what}: the server's disk was full. The show itself went on. Ask the station's operator to free space.`;
    case 'not-writable':
      return `${what}: the server may not write to its recordings folder. The show itself went on. Ask the station's operator to check it.`;
    case 'write-error':
      return `${what}: the server could not write the file. The show itself went on. Ask the station's operator to check the disk.`;
    case 'interrupted':
      return 'The recording stops here: the server stopped unexpectedly during the show. What was recorded until then plays.';
  }
}

/** What the sidecar `<file>.json` holds. */
export interface RecordingMeta {
  readonly user: string;
  readonly stationMount: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** ISO 8601; null while recording (or if the daemon died before finishing the file). */
  readonly endedAt: string | null;
  readonly bytes: number;
  readonly format: RecordingFormat;
  /** Set when the recording stopped before the show did (the file has what came before). */
  readonly failed?: RecordingFailure;
}

/** A sidecar's parsed JSON if it has the right shape, else undefined. */
export function parseRecordingMeta(value: unknown): RecordingMeta | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.user !== 'string' || typeof v.stationMount !== 'string' || typeof v.startedAt !== 'string') return undefined;
  if (v.endedAt !== null && typeof v.endedAt !== 'string') return undefined;
  if (typeof v.bytes !== 'number' || !Number.isFinite(v.bytes) || v.bytes < 0) return undefined;
  if (v.format !== 'ogg-opus' && v.format !== 'webm') return undefined;
  const meta: RecordingMeta = { user: v.user, stationMount: v.stationMount, startedAt: v.startedAt, endedAt: v.endedAt, bytes: v.bytes, format: v.format };
  if (v.failed === undefined) return meta;
  const f = v.failed as Record<string, unknown> | null;
  if (f === null || typeof f !== 'object' || !RECORDING_FAILURES.includes(f.reason as RecordingFailureReason) || typeof f.at !== 'string') return undefined;
  if (f.code !== undefined && typeof f.code !== 'string') return undefined;
  return { ...meta, failed: { reason: f.reason as RecordingFailureReason, at: f.at, ...(f.code !== undefined ? { code: f.code as string } : {}) } };
}
