// ffmpeg argument building, read from the rendition kinds table. Pure: a rendition plan and
// ffmpeg's input in, argument arrays out. Low-latency choices are measured (docs/notes/ffmpeg.md, docs/performance.md):
// a tiny probe on input; the table's outputs use 20 ms Ogg pages, 100 ms WebM clusters and flush
// every packet so nothing waits in ffmpeg's output buffer.
import type { InputMedia } from './media-type.js';
import { ffmpegInputFor, INPUT_DEMUXER, kbpsOf, kindFor, type RenditionFormat, type RenditionPlan } from './rendition-kinds.js';

export type { RenditionPlan };

/** True when the rendition is a remux of what the browser sent (no decode, no quality loss). */
export function isCopy(plan: Pick<RenditionPlan, 'format' | 'bitrate'>): boolean {
  return !kindFor(plan).transcodes;
}

/** The bare content type Icecast needs (docs/notes/icecast.md: parameters make it an unknown format). */
export function contentTypeFor(format: RenditionFormat, input: Pick<InputMedia, 'video' | 'container'> | undefined): string {
  return kindFor({ format, bitrate: undefined }).contentType(input);
}

/** ffmpeg's input side for a stream in `input`'s container. */
export function inputOptions(input: Pick<InputMedia, 'container'>): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-f', INPUT_DEMUXER[input.container],
    // Probing waits for data; the container header already tells the codecs.
    '-probesize', '32', '-analyzeduration', '0',
  ];
}

/** ffmpeg's output side making `plan` from `input` (what ffmpeg reads). */
export function outputOptions(plan: RenditionPlan, input: InputMedia): string[] {
  const kind = kindFor(plan, input);
  const kbps = `${kbpsOf(kind, plan) ?? kind.defaultKbps}k`;
  return [...kind.outputArgs({ kbps, video: input.video !== undefined })];
}

/**
 * The full argv of the ffmpeg making `plan` from an upload in `input` (for logs and tests): it
 * reads what its kind is fed (the daemon's Ogg/Opus stream, or the upload as sent); the process
 * module passes the two halves to fluent-ffmpeg.
 */
export function ffmpegArgv(plan: RenditionPlan, input: InputMedia): string[] {
  return [...inputOptions(ffmpegInputFor(kindFor(plan, input), input)), '-i', 'pipe:0', ...outputOptions(plan, input), 'pipe:1'];
}

/** ice-audio-info / ice-bitrate values for the rendition (made from `input`, default: a browser's). */
export function iceAudioInfo(plan: RenditionPlan, input?: InputMedia): { bitrate: number | undefined; audioInfo: string | undefined } {
  const kind = kindFor(plan, input);
  // the client's own frames: only the client knows its rate
  if (kind.feed === 'upload' && !kind.runsFfmpeg) return { bitrate: undefined, audioInfo: undefined };
  const bitrate = kbpsOf(kind, plan);
  // Opus is 48 kHz (browsers record it so, the normaliser makes it so); the channel count depends on the device, so it is not claimed.
  const parts = ['samplerate=48000'];
  if (bitrate !== undefined) parts.push(`bitrate=${bitrate}`);
  return { bitrate, audioInfo: parts.join(';') };
}
