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
}

/** A sidecar's parsed JSON if it has the right shape, else undefined. */
export function parseRecordingMeta(value: unknown): RecordingMeta | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.user !== 'string' || typeof v.stationMount !== 'string' || typeof v.startedAt !== 'string') return undefined;
  if (v.endedAt !== null && typeof v.endedAt !== 'string') return undefined;
  if (typeof v.bytes !== 'number' || !Number.isFinite(v.bytes) || v.bytes < 0) return undefined;
  if (v.format !== 'ogg-opus' && v.format !== 'webm') return undefined;
  return { user: v.user, stationMount: v.stationMount, startedAt: v.startedAt, endedAt: v.endedAt, bytes: v.bytes, format: v.format };
}
