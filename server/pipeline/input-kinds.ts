// How the daemon gets a broadcast's Opus master from each kind of input. A broadcast's central
// stream is Opus packets: the Ogg/Opus streams the daemon writes (copy renditions, the transcoders'
// feed), silence in gaps, the recording and a resume that continues the same stream all work on
// them. An input whose audio is Opus is demuxed by the daemon itself, packets unchanged (WebM,
// Ogg, MP4). Any other audio goes through one "normaliser" ffmpeg per connection that turns it
// into Opus: its output joins the same path (docs/architecture.md, "Inputs", says why and what it
// costs). Pure: data and small functions.
import type { AudioCodec, Container } from './media-type.js';

/** The normaliser's Opus bitrate: the master every rendition of such a broadcast is made from. */
export const NORMALISED_OPUS_KBPS = 128;

/**
 * What the normaliser reads: the stream as sent (its container's ffmpeg demuxer), or for AAC in
 * MP4 the frames the daemon demuxed, as ADTS.
 */
export type NormaliserDemuxer = 'aac' | 'mp3' | 'ogg' | 'matroska' | 'flac';

export type OpusSource =
  /** The daemon demuxes the Opus packets itself: no process, the packets listeners get are the ones sent. */
  | { readonly kind: 'demux' }
  /** One ffmpeg per connection makes Opus. `frames`: fed the demuxed frames as ADTS (MP4), else the upload as sent. */
  | { readonly kind: 'normalise'; readonly demuxer: NormaliserDemuxer; readonly frames: boolean };

const DEMUX: OpusSource = { kind: 'demux' };
const raw = (demuxer: NormaliserDemuxer): OpusSource => ({ kind: 'normalise', demuxer, frames: false });

/** The table: container × audio codec -> how the Opus master is made; absent: not accepted. */
const SOURCES: Readonly<Record<Container, Partial<Record<AudioCodec, OpusSource>>>> = {
  webm: { opus: DEMUX, vorbis: raw('matroska') },
  ogg: { opus: DEMUX, vorbis: raw('ogg'), flac: raw('ogg') },
  mp4: { opus: DEMUX, aac: { kind: 'normalise', demuxer: 'aac', frames: true } },
  mp3: { mp3: raw('mp3') },
  adts: { aac: raw('aac') },
  flac: { flac: raw('flac') },
};

/** How the Opus master is made from `codec` in `container`; undefined: that combination is not taken. */
export function opusSourceFor(container: Container, codec: AudioCodec): OpusSource | undefined {
  return SOURCES[container][codec];
}

/**
 * The normaliser's ffmpeg arguments. Input: a tiny probe (the stream header or the first frame says
 * what it is). Output: stereo 48 kHz Opus in 20 ms frames — the same OpusHead from every
 * normaliser, so a reconnect's new one continues the broadcast's stream — in 20 ms Ogg pages,
 * each flushed at once.
 */
export function normaliserArgs(demuxer: NormaliserDemuxer): { input: string[]; output: string[] } {
  return {
    input: ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning', '-f', demuxer, '-probesize', '32', '-analyzeduration', '0'],
    output: [
      '-map', '0:a:0', '-vn', '-c:a', 'libopus', '-b:a', `${NORMALISED_OPUS_KBPS}k`, '-ac', '2', '-ar', '48000',
      '-frame_duration', '20', '-application', 'audio', '-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1',
    ],
  };
}

/** The codec of an Ogg stream from its first pages (skipping a Skeleton stream); `need-more` until they tell. */
export function oggAudioCodec(head: Uint8Array): AudioCodec | 'need-more' | undefined {
  let pos = 0;
  for (;;) {
    if (head.length < pos + 27) return 'need-more';
    if (head[pos] !== 0x4f || head[pos + 1] !== 0x67 || head[pos + 2] !== 0x67 || head[pos + 3] !== 0x53) return undefined;
    // only beginning-of-stream pages name codecs
    if ((head[pos + 5]! & 0x02) === 0) return undefined;
    const segments = head[pos + 26]!;
    if (head.length < pos + 27 + segments) return 'need-more';
    let body = 0;
    for (let i = 0; i < segments; i++) body += head[pos + 27 + i]!;
    const at = pos + 27 + segments;
    if (head.length < at + Math.min(body, 8)) return 'need-more';
    const text = Buffer.from(head.subarray(at, at + Math.min(body, 8))).toString('latin1');
    if (text.startsWith('OpusHead')) return 'opus';
    if (text.startsWith('\x01vorbis')) return 'vorbis';
    if (text.startsWith('\x7fFLAC')) return 'flac';
    if (!text.startsWith('fishead')) return undefined;
    pos = at + body;
  }
}
