// What a broadcaster sends, from the hello's mime (MediaRecorder's mimeType). Pure.

export type Container = 'webm' | 'ogg';
export type AudioCodec = 'opus';
export type VideoCodec = 'vp8' | 'vp9';

export interface InputMedia {
  readonly container: Container;
  readonly audio: AudioCodec;
  readonly video: VideoCodec | undefined;
  /** The mime as the client sent it (for logs). */
  readonly mime: string;
}

function videoCodec(c: string): VideoCodec | undefined | null {
  // null: a codec we can't stream; undefined: not a video codec
  if (c === 'vp8' || c.startsWith('vp8.')) return 'vp8';
  if (c === 'vp9' || c.startsWith('vp9.') || c.startsWith('vp09')) return 'vp9';
  if (c === 'opus') return undefined;
  return null;
}

/**
 * Parse a MediaRecorder mime. Returns undefined for anything icewire can't stream as-is.
 * Accepts: audio/webm[;codecs=opus], audio/ogg[;codecs=opus], video/webm;codecs=vp8|vp9[,opus].
 */
export function parseMime(mime: unknown): InputMedia | undefined {
  if (typeof mime !== 'string' || mime.length > 200) return undefined;
  const [typePart, ...params] = mime.split(';');
  const type = typePart!.trim().toLowerCase();
  let codecs: string[] | undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    const value = p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase();
    if (key === 'codecs') codecs = value.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
  }
  const [kind, sub] = type.split('/');
  if ((kind !== 'audio' && kind !== 'video') || (sub !== 'webm' && sub !== 'ogg')) return undefined;
  const container: Container = sub;
  let video: VideoCodec | undefined;
  let hasOpus = codecs === undefined;
  for (const c of codecs ?? []) {
    if (c === 'opus') { hasOpus = true; continue; }
    const v = videoCodec(c);
    if (v === null || v === undefined || video !== undefined) return undefined;
    video = v;
  }
  if (container === 'ogg' && (kind === 'video' || video !== undefined)) return undefined;
  if (kind === 'audio' && video !== undefined) return undefined;
  // A video recording without audio has nothing to send to an audio station; webm video always
  // carries Opus from MediaRecorder when a microphone is included.
  if (kind === 'video' && codecs !== undefined && !hasOpus) return undefined;
  if (kind === 'video' && video === undefined && codecs !== undefined) return undefined;
  if (!hasOpus && kind === 'audio') return undefined;
  return { container, audio: 'opus', video: kind === 'video' ? (video ?? 'vp8') : undefined, mime };
}
