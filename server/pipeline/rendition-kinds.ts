// The one table of rendition kinds: for each rendition format and what the broadcaster sends, how
// the daemon makes that rendition — a copy or a transcode, whether ffmpeg runs, what feeds it, how
// its output is cut into units for Icecast, ffmpeg's output arguments, the ffmpeg parts it needs,
// the content type and the ice-* audio info. The args builder (ffmpeg-args.ts), the renditions
// (broadcast/renditions.ts), `icewire doctor` and the config schema all read it.
//
// Adding a format is adding its name to RENDITION_FORMATS and its row(s) to KINDS. Every input
// reaches the renditions as Opus packets (an upload whose audio is not Opus is made Opus by the
// normaliser first, pipeline/input-kinds.ts), so the rows that read the Opus streams serve every
// input. A copy row fed the upload serves the input whose codec is the rendition's own (MP3 in, an
// MP3 rendition: the client's frames as sent). Pure: data and small functions.
import type { Container, InputMedia } from './media-type.js';
import type { FramerFormat } from './stream-framer.js';

/** The formats a rendition can have (config `renditions[].format`). */
export const RENDITION_FORMATS = ['ogg-opus', 'ogg-vorbis', 'mp3', 'webm'] as const;
export type RenditionFormat = (typeof RENDITION_FORMATS)[number];

/**
 * What an Icecast MP3 mount keeps titles in: its <charset> in icecast.xml (Icecast's default:
 * ISO-8859-1); config `renditions[].charset`, MP3 only.
 */
export const TITLE_CHARSETS = ['UTF-8', 'ISO-8859-1'] as const;
export type TitleCharset = (typeof TITLE_CHARSETS)[number];

export interface RenditionPlan {
  /** Icecast mount path, e.g. /live.ogg */
  readonly mount: string;
  readonly format: RenditionFormat;
  /** kbit/s for transcodes; undefined = the format's default (or a copy where the kind allows one). */
  readonly bitrate: number | undefined;
  /** MP3: the charset the Icecast mount keeps titles in (config `charset`); undefined = Icecast's default. */
  readonly charset?: TitleCharset | undefined;
}

/**
 * What a rendition is made from:
 * - `opus-pages`: the daemon's own Ogg/Opus pages, sent to Icecast as they are (no ffmpeg). A new,
 *   cleanly finished chain carries each new title (OpusTags).
 * - `opus-stream`: the same Opus packets as one never-chained Ogg/Opus stream into ffmpeg (a chain
 *   boundary would restart its decoder). It outlives the broadcaster's reconnects.
 * - `upload`: the broadcaster's bytes as sent: into ffmpeg (WebM with video; a reconnect starts a
 *   new ffmpeg from the new connection's stream header), or straight to Icecast (an MP3 upload to
 *   an MP3 mount, frame by frame, with silent frames in a gap).
 */
export type Feed = 'opus-pages' | 'opus-stream' | 'upload';

/** What a row looks at in the input: its container and audio codec (undefined: the stream header will tell). */
export type Served = Pick<InputMedia, 'audio' | 'container'>;

export interface RenditionKind {
  /** For logs and doctor lines, e.g. `mp3 transcode`. */
  readonly name: string;
  readonly format: RenditionFormat;
  /** Whether this row serves an input with a plan's bitrate (the first row that does wins). */
  readonly serves: (input: Served, bitrate: number | undefined) => boolean;
  /** The audio is decoded and encoded again (false: the packets listeners get are the ones sent). */
  readonly transcodes: boolean;
  readonly feed: Feed;
  /** false: the daemon writes the stream itself and no ffmpeg runs. */
  readonly runsFfmpeg: boolean;
  /** How the rendition's bytes are cut into units Icecast can resume at (stream-framer.ts). */
  readonly framer: FramerFormat;
  /** The bare content type Icecast needs (docs/notes/icecast.md: with parameters it is an unknown format). */
  readonly contentType: (input: Pick<InputMedia, 'video' | 'container'> | undefined) => string;
  /** kbit/s of a transcode when the plan names none. */
  readonly defaultKbps: number;
  /**
   * ffmpeg's output arguments (for a kind that runs no ffmpeg: the ffmpeg command that makes the
   * same stream, which the argv tests run against real ffmpeg). `video`: the input has video.
   */
  readonly outputArgs: (o: { readonly kbps: string; readonly video: boolean }) => readonly string[];
  /** ffmpeg encoders the output arguments use. */
  readonly encoders: readonly string[];
  /** ffmpeg muxer the output arguments use. */
  readonly muxer: string;
}

/** ffmpeg's demuxer (`-f`) for each container the daemon feeds it. */
export const INPUT_DEMUXER: Readonly<Record<Container, string>> = { webm: 'matroska', ogg: 'ogg', mp4: 'mp4', mp3: 'mp3', adts: 'aac', flac: 'flac' };

/** The continuous Ogg/Opus stream the daemon writes, as ffmpeg input (feed `opus-stream`). */
export const OPUS_STREAM_INPUT: InputMedia = { container: 'ogg', audio: 'opus', video: undefined, mime: 'audio/ogg;codecs=opus' };

/** The kinds of input the daemon accepts (media-type.ts): what doctor checks every rendition against. */
export const ACCEPTED_INPUTS: readonly InputMedia[] = [
  { container: 'webm', audio: 'opus', video: undefined, mime: 'audio/webm;codecs=opus' },
  { container: 'webm', audio: 'opus', video: 'vp8', mime: 'video/webm;codecs=vp8,opus' },
  { container: 'webm', audio: 'vorbis', video: undefined, mime: 'audio/webm;codecs=vorbis' },
  { container: 'ogg', audio: undefined, video: undefined, mime: 'audio/ogg' },
  { container: 'mp4', audio: undefined, video: undefined, mime: 'audio/mp4' },
  { container: 'mp3', audio: 'mp3', video: undefined, mime: 'audio/mpeg' },
  { container: 'adts', audio: 'aac', video: undefined, mime: 'audio/aac' },
  { container: 'flac', audio: 'flac', video: undefined, mime: 'audio/flac' },
];

const AUDIO_ONLY = ['-map', '0:a:0', '-vn'];
/** Every packet flushed at once: nothing waits in ffmpeg's output buffer. */
const FLUSH = ['-flush_packets', '1'];
/** 20 ms Ogg pages (docs/notes/ffmpeg.md: low latency). */
const OGG_OUT = ['-f', 'ogg', '-page_duration', '20000', ...FLUSH];
/** Short clusters: Icecast can only start a WebM listener at a cluster boundary. */
const WEBM_OUT = ['-f', 'webm', '-live', '1', '-cluster_time_limit', '100', '-cluster_size_limit', '262144', ...FLUSH];
const audioOgg = (): string => 'audio/ogg';
const any = (): boolean => true;
const noBitrate = (_i: Served, kbps: number | undefined): boolean => kbps === undefined;
/** WebM renditions of a WebM upload remux what the broadcaster sent, video and all. */
const webmIn = (input: Served): boolean => input.container === 'webm';
const webmVideo = (video: boolean): string[] => (video ? ['-map', '0:v:0', '-c:v', 'copy'] : []);
const webmType = (input: Pick<InputMedia, 'video' | 'container'> | undefined): string => (input?.video !== undefined && input.container === 'webm' ? 'video/webm' : 'audio/webm');

export const KINDS: readonly RenditionKind[] = [
  {
    name: 'ogg-opus copy', format: 'ogg-opus', serves: noBitrate,
    transcodes: false, feed: 'opus-pages', runsFfmpeg: false, framer: 'ogg', contentType: audioOgg, defaultKbps: 96,
    outputArgs: () => [...AUDIO_ONLY, '-c:a', 'copy', ...OGG_OUT], encoders: [], muxer: 'ogg',
  },
  {
    name: 'ogg-opus transcode', format: 'ogg-opus', serves: any,
    transcodes: true, feed: 'opus-stream', runsFfmpeg: true, framer: 'ogg', contentType: audioOgg, defaultKbps: 96,
    outputArgs: ({ kbps }) => [...AUDIO_ONLY, '-c:a', 'libopus', '-b:a', kbps, '-application', 'audio', ...OGG_OUT],
    encoders: ['libopus'], muxer: 'ogg',
  },
  {
    name: 'ogg-vorbis transcode', format: 'ogg-vorbis', serves: any,
    transcodes: true, feed: 'opus-stream', runsFfmpeg: true, framer: 'ogg', contentType: audioOgg, defaultKbps: 128,
    outputArgs: ({ kbps }) => [...AUDIO_ONLY, '-c:a', 'libvorbis', '-b:a', kbps, ...OGG_OUT],
    encoders: ['libvorbis'], muxer: 'ogg',
  },
  {
    // the client's MP3 frames as sent, no process (the ffmpeg command is the equivalent copy)
    name: 'mp3 copy', format: 'mp3', serves: (i, kbps) => i.audio === 'mp3' && kbps === undefined,
    transcodes: false, feed: 'upload', runsFfmpeg: false, framer: 'mp3', contentType: () => 'audio/mpeg', defaultKbps: 128,
    outputArgs: () => [...AUDIO_ONLY, '-c:a', 'copy', '-f', 'mp3', ...FLUSH], encoders: [], muxer: 'mp3',
  },
  {
    name: 'mp3 transcode', format: 'mp3', serves: any,
    transcodes: true, feed: 'opus-stream', runsFfmpeg: true, framer: 'mp3', contentType: () => 'audio/mpeg', defaultKbps: 128,
    // No ID3 tag and no Xing frame: a live stream can't seek back to fill them in.
    outputArgs: ({ kbps }) => [...AUDIO_ONLY, '-c:a', 'libmp3lame', '-b:a', kbps, '-id3v2_version', '0', '-write_xing', '0', '-f', 'mp3', ...FLUSH],
    encoders: ['libmp3lame'], muxer: 'mp3',
  },
  {
    name: 'webm copy', format: 'webm', serves: (i, kbps) => webmIn(i) && i.audio === 'opus' && kbps === undefined,
    transcodes: false, feed: 'upload', runsFfmpeg: true, framer: 'webm', contentType: webmType, defaultKbps: 96,
    outputArgs: ({ video }) => [...webmVideo(video), '-map', '0:a:0', '-c:a', 'copy', ...WEBM_OUT],
    encoders: [], muxer: 'webm',
  },
  {
    name: 'webm transcode', format: 'webm', serves: webmIn,
    transcodes: true, feed: 'upload', runsFfmpeg: true, framer: 'webm', contentType: webmType, defaultKbps: 96,
    outputArgs: ({ kbps, video }) => [...webmVideo(video), '-map', '0:a:0', '-c:a', 'libopus', '-b:a', kbps, ...WEBM_OUT],
    encoders: ['libopus'], muxer: 'webm',
  },
  {
    // any other upload: the Opus master remuxed (its audio only)
    name: 'webm remux', format: 'webm', serves: noBitrate,
    transcodes: false, feed: 'opus-stream', runsFfmpeg: true, framer: 'webm', contentType: webmType, defaultKbps: 96,
    outputArgs: () => [...AUDIO_ONLY, '-c:a', 'copy', ...WEBM_OUT], encoders: [], muxer: 'webm',
  },
  {
    name: 'webm from opus', format: 'webm', serves: any,
    transcodes: true, feed: 'opus-stream', runsFfmpeg: true, framer: 'webm', contentType: webmType, defaultKbps: 96,
    outputArgs: ({ kbps }) => [...AUDIO_ONLY, '-c:a', 'libopus', '-b:a', kbps, ...WEBM_OUT], encoders: ['libopus'], muxer: 'webm',
  },
];

/** Broadcasters' input before a hello has said what it is: what browsers record. */
const BROWSER_INPUT: Served = { audio: 'opus', container: 'webm' };

/** The row that makes `plan` from `input`. Throws for a combination no row serves (a table bug). */
export function kindFor(plan: Pick<RenditionPlan, 'format' | 'bitrate'>, input: Served = BROWSER_INPUT): RenditionKind {
  const kind = KINDS.find((k) => k.format === plan.format && k.serves(input, plan.bitrate));
  if (kind === undefined) throw new Error(`no rendition kind makes ${plan.format} from ${input.audio ?? 'unknown'} audio in ${input.container}`);
  return kind;
}

/** What ffmpeg reads for this kind: the daemon's Ogg/Opus stream, or the broadcaster's upload. */
export function ffmpegInputFor(kind: RenditionKind, upload: InputMedia): InputMedia {
  return kind.feed === 'upload' ? upload : OPUS_STREAM_INPUT;
}

/** The transcode's bitrate in kbit/s, undefined for a copy. */
export function kbpsOf(kind: RenditionKind, plan: Pick<RenditionPlan, 'bitrate'>): number | undefined {
  return kind.transcodes ? (plan.bitrate ?? kind.defaultKbps) : undefined;
}

export type FfmpegComponentKind = 'encoder' | 'muxer' | 'demuxer';

/** The encoders, muxer and demuxer ffmpeg must have to make `kind` from `upload` (none if no ffmpeg runs). */
export function ffmpegComponents(kind: RenditionKind, upload: InputMedia): { kind: FfmpegComponentKind; name: string }[] {
  if (!kind.runsFfmpeg) return [];
  return [
    ...kind.encoders.map((name) => ({ kind: 'encoder' as const, name })),
    { kind: 'muxer', name: kind.muxer },
    { kind: 'demuxer', name: INPUT_DEMUXER[ffmpegInputFor(kind, upload).container] },
  ];
}
