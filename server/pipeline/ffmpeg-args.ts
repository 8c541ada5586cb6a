// ffmpeg argument building. Pure: a rendition plan and the input media in, argument arrays out.
// Low-latency choices are measured (docs/notes/ffmpeg.md): tiny probe on input, 20 ms Ogg pages, 100 ms
// WebM clusters, and flushing every packet so nothing waits in ffmpeg's output buffer.
import type { RenditionFormat, TitleCharset } from '../config/schema.js';
import type { InputMedia } from './media-type.js';

export interface RenditionPlan {
  /** Icecast mount path, e.g. /live.ogg */
  readonly mount: string;
  readonly format: RenditionFormat;
  /** kbit/s for transcodes; undefined = format default (or copy for Opus/WebM). */
  readonly bitrate: number | undefined;
  /** MP3: the charset the Icecast mount keeps titles in (config `charset`); undefined = Icecast's default. */
  readonly charset?: TitleCharset | undefined;
}

export const DEFAULT_BITRATE_KBPS: Record<RenditionFormat, number> = {
  'ogg-opus': 96,
  'ogg-vorbis': 128,
  mp3: 128,
  webm: 96,
};

/** True when the rendition is a remux of what the browser sent (no decode, no quality loss). */
export function isCopy(plan: RenditionPlan): boolean {
  return (plan.format === 'ogg-opus' || plan.format === 'webm') && plan.bitrate === undefined;
}

/** The bare content type Icecast needs (docs/notes/icecast.md: parameters make it an unknown format). */
export function contentTypeFor(format: RenditionFormat, input: Pick<InputMedia, 'video'> | undefined): string {
  switch (format) {
    case 'ogg-opus':
    case 'ogg-vorbis':
      return 'audio/ogg';
    case 'mp3':
      return 'audio/mpeg';
    case 'webm':
      return input?.video !== undefined ? 'video/webm' : 'audio/webm';
  }
}

export function inputOptions(input: InputMedia): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-f', input.container === 'webm' ? 'matroska' : 'ogg',
    // Probing waits for data; the container header already tells the codecs.
    '-probesize', '32', '-analyzeduration', '0',
  ];
}

export function outputOptions(plan: RenditionPlan, input: InputMedia): string[] {
  const kbps = `${plan.bitrate ?? DEFAULT_BITRATE_KBPS[plan.format]}k`;
  const common = ['-flush_packets', '1'];
  switch (plan.format) {
    case 'ogg-opus':
      return [
        '-map', '0:a:0', '-vn',
        ...(isCopy(plan) ? ['-c:a', 'copy'] : ['-c:a', 'libopus', '-b:a', kbps, '-application', 'audio']),
        '-f', 'ogg', '-page_duration', '20000', ...common,
      ];
    case 'ogg-vorbis':
      return ['-map', '0:a:0', '-vn', '-c:a', 'libvorbis', '-b:a', kbps, '-f', 'ogg', '-page_duration', '20000', ...common];
    case 'mp3':
      // No ID3 tag and no Xing frame: a live stream can't seek back to fill them in.
      return ['-map', '0:a:0', '-vn', '-c:a', 'libmp3lame', '-b:a', kbps, '-id3v2_version', '0', '-write_xing', '0', '-f', 'mp3', ...common];
    case 'webm': {
      const video = input.video !== undefined ? ['-map', '0:v:0', '-c:v', 'copy'] : [];
      const audio = isCopy(plan) ? ['-c:a', 'copy'] : ['-c:a', 'libopus', '-b:a', kbps];
      // Short clusters: Icecast can only start a WebM listener at a cluster boundary.
      return [...video, '-map', '0:a:0', ...audio, '-f', 'webm', '-live', '1', '-cluster_time_limit', '100', '-cluster_size_limit', '262144', ...common];
    }
  }
}

/** The full argv (for logs and tests); the process module passes the two halves to fluent-ffmpeg. */
export function ffmpegArgv(plan: RenditionPlan, input: InputMedia): string[] {
  return [...inputOptions(input), '-i', 'pipe:0', ...outputOptions(plan, input), 'pipe:1'];
}

/** ice-audio-info / ice-bitrate values for the rendition. */
export function iceAudioInfo(plan: RenditionPlan): { bitrate: number | undefined; audioInfo: string } {
  const bitrate = isCopy(plan) ? undefined : (plan.bitrate ?? DEFAULT_BITRATE_KBPS[plan.format]);
  // Browsers record Opus at 48 kHz; the channel count depends on the device, so it is not claimed.
  const parts = ['samplerate=48000'];
  if (bitrate !== undefined) parts.push(`bitrate=${bitrate}`);
  return { bitrate, audioInfo: parts.join(';') };
}
