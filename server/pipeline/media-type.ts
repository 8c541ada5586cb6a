// What a broadcaster sends: from a webcast hello's mime (MediaRecorder's mimeType) or a source
// client's Content-Type, and the first bytes that must confirm it. Pure.

/**
 * The container (or bare stream) of an upload: WebM and Ogg from Chromium and Firefox, fragmented
 * MP4 from Safari (and Chromium on request), and what desktop source clients send: MP3, AAC in
 * ADTS frames, native FLAC.
 */
export type Container = 'webm' | 'ogg' | 'mp4' | 'mp3' | 'adts' | 'flac';
export type AudioCodec = 'opus' | 'aac' | 'mp3' | 'vorbis' | 'flac';
export type VideoCodec = 'vp8' | 'vp9' | 'av1' | 'h264';

export interface InputMedia {
  readonly container: Container;
  /**
   * The audio codec the type names, or that the container implies. undefined: only the stream's
   * header will tell (`audio/mp4` records AAC in Safari and Opus in Chromium; an Ogg stream from a
   * source client may be Opus, Vorbis or FLAC).
   */
  readonly audio: AudioCodec | undefined;
  readonly video: VideoCodec | undefined;
  /** The mime as the client sent it (for logs). */
  readonly mime: string;
}

/** The codecs each container can carry here (the first is what a type without `codecs` means for WebM). */
const AUDIO_IN: Readonly<Record<Container, readonly AudioCodec[]>> = {
  webm: ['opus', 'vorbis'],
  ogg: ['opus', 'vorbis', 'flac'],
  mp4: ['opus', 'aac'],
  mp3: ['mp3'],
  adts: ['aac'],
  flac: ['flac'],
};
const VIDEO_IN: Readonly<Record<Container, readonly VideoCodec[]>> = {
  webm: ['vp8', 'vp9'],
  ogg: [],
  mp4: ['h264', 'vp9', 'av1'],
  mp3: [],
  adts: [],
  flac: [],
};

/** Bare types (lower case) and the container each names. */
const TYPES: Readonly<Record<string, Container>> = {
  'audio/webm': 'webm', 'video/webm': 'webm', 'audio/x-matroska': 'webm', 'video/x-matroska': 'webm',
  'audio/ogg': 'ogg', 'application/ogg': 'ogg', 'audio/x-ogg': 'ogg', 'audio/opus': 'ogg', 'audio/vorbis': 'ogg',
  'audio/mp4': 'mp4', 'video/mp4': 'mp4', 'audio/x-m4a': 'mp4',
  'audio/mpeg': 'mp3', 'audio/mp3': 'mp3', 'audio/x-mpeg': 'mp3',
  'audio/aac': 'adts', 'audio/aacp': 'adts', 'audio/x-aac': 'adts', 'audio/x-hx-aac-adts': 'adts',
  'audio/flac': 'flac', 'audio/x-flac': 'flac',
};

function codecOf(c: string): { audio?: AudioCodec; video?: VideoCodec } | undefined {
  if (c === 'opus') return { audio: 'opus' };
  if (c === 'vorbis') return { audio: 'vorbis' };
  if (c === 'flac') return { audio: 'flac' };
  if (c === 'mp3' || c === 'mp4a.40.34' || c === 'mp4a.6b') return { audio: 'mp3' };
  if (c === 'aac' || c === 'mp4a' || c.startsWith('mp4a.40.') || c.startsWith('mp4a.67')) return { audio: 'aac' };
  if (c === 'vp8' || c.startsWith('vp8.')) return { video: 'vp8' };
  if (c === 'vp9' || c.startsWith('vp9.') || c.startsWith('vp09')) return { video: 'vp9' };
  if (c === 'av1' || c.startsWith('av01')) return { video: 'av1' };
  if (c === 'avc1' || c.startsWith('avc1.') || c === 'avc3' || c.startsWith('avc3.') || c === 'h264') return { video: 'h264' };
  return undefined;
}

/**
 * Parse a MediaRecorder mime or a source client's Content-Type. Returns undefined for anything
 * icewire can't take. Accepts WebM (Opus or Vorbis; VP8/VP9 video), Ogg (Opus, Vorbis, FLAC), MP4
 * (Opus or AAC; H.264/VP9/AV1 video), MP3, AAC (ADTS) and FLAC; `codecs` must name what the
 * container can carry, at most one audio and one video codec.
 */
export function parseMime(mime: unknown): InputMedia | undefined {
  if (typeof mime !== 'string' || mime.length > 200) return undefined;
  const [typePart, ...params] = mime.split(';');
  const type = typePart!.trim().toLowerCase();
  const container = Object.hasOwn(TYPES, type) ? TYPES[type] : undefined;
  if (container === undefined) return undefined;
  const isVideoType = type.startsWith('video/');
  let codecs: string[] | undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    const value = p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase();
    if (key === 'codecs') codecs = value.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
  }
  let audio: AudioCodec | undefined;
  let video: VideoCodec | undefined;
  for (const c of codecs ?? []) {
    const parsed = codecOf(c);
    if (parsed === undefined) return undefined;
    if (parsed.audio !== undefined) {
      if (audio !== undefined || !AUDIO_IN[container].includes(parsed.audio)) return undefined;
      audio = parsed.audio;
    }
    if (parsed.video !== undefined) {
      if (video !== undefined || !VIDEO_IN[container].includes(parsed.video)) return undefined;
      video = parsed.video;
    }
  }
  if (video !== undefined && !isVideoType) return undefined;
  if (isVideoType && VIDEO_IN[container].length === 0) return undefined;
  // A video recording without audio has nothing to send to an audio station.
  if (codecs !== undefined && audio === undefined) return undefined;
  // Without `codecs`: MediaRecorder's WebM audio is Opus and its WebM video VP8; single-codec
  // streams are what they are; MP4 and Ogg say in their header.
  if (audio === undefined && (container === 'webm' || AUDIO_IN[container].length === 1)) audio = AUDIO_IN[container][0];
  if (isVideoType && video === undefined) video = container === 'webm' ? 'vp8' : 'h264';
  return { container, audio, video, mime };
}

export type MagicVerdict = 'ok' | 'bad' | 'need-more';

/** Bytes needed to tell every container apart (an MP4 `ftyp` box type sits at 4..8). */
export const MAGIC_BYTES = 8;

type Test = (head: Uint8Array) => boolean | 'need-more';

const starts = (magic: readonly number[], at = 0): Test => (head) => {
  for (let i = 0; i < magic.length; i++) {
    if (at + i >= head.length) return 'need-more';
    if (head[at + i] !== magic[i]) return false;
  }
  return true;
};
/** Frame sync (11 bits set) and the layer bits: ADTS has layer 00, MPEG audio layers I-III 01-11. */
const frameSync = (adts: boolean): Test => (head) => {
  if (head.length > 0 && head[0] !== 0xff) return false;
  if (head.length < 2) return 'need-more';
  return (head[1]! & 0xe0) === 0xe0 && ((head[1]! & 0x06) === 0) === adts;
};

/** How each container's stream begins; an ID3 tag may also start an MP3 (or, rarely, an ADTS) stream. */
const MAGIC: Readonly<Record<Container | 'id3', Test>> = {
  webm: starts([0x1a, 0x45, 0xdf, 0xa3]),
  ogg: starts([0x4f, 0x67, 0x67, 0x53]),
  flac: starts([0x66, 0x4c, 0x61, 0x43]),
  id3: starts([0x49, 0x44, 0x33]),
  mp4: starts([0x66, 0x74, 0x79, 0x70], 4),
  adts: frameSync(true),
  mp3: frameSync(false),
};

/** Is `head` (the stream's first bytes, possibly fewer than MAGIC_BYTES) the start of `container`? */
export function checkMagic(container: Container, head: Uint8Array): MagicVerdict {
  const own = MAGIC[container](head);
  if (own === true) return 'ok';
  if (container === 'mp3' || container === 'adts') {
    const id3 = MAGIC.id3(head);
    if (id3 === true) return 'ok';
    if (id3 === 'need-more' || own === 'need-more') return 'need-more';
    return 'bad';
  }
  return own === 'need-more' ? 'need-more' : 'bad';
}

/** What the first bytes are: a container, an ID3 tag, `need-more` until they can tell, undefined when none of these. */
export function sniffContainer(head: Uint8Array): Container | 'id3' | 'need-more' | undefined {
  let undecided = false;
  for (const [name, test] of Object.entries(MAGIC) as [Container | 'id3', Test][]) {
    const r = test(head);
    if (r === true) return name;
    if (r === 'need-more') undecided = true;
  }
  return undecided ? 'need-more' : undefined;
}
