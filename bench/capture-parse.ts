// What a listener received, packet by packet, with the time each packet was complete. Pure.
// Ogg: pages and their packets (lacing), OpusHead pre-skip; MP3: frames; WebM: SimpleBlocks of the
// audio track (the project's streaming demuxer). Sample counts come from the packets themselves
// (Opus TOC, MP3 frame size): never from the stream's timestamps or granules.
import { opusPacketSamples } from '../server/pipeline/ogg-opus-writer.js';
import { WebmDemuxer } from '../server/pipeline/webm-demuxer.js';
import { oggPages } from '../test/helpers/ogg-pages.js';

export interface TimedChunk {
  /** performance.now() when the bytes arrived (or were sent). */
  readonly t: number;
  readonly data: Buffer;
}

export interface AudioPacket {
  /** When the packet was complete at the listener. */
  readonly arrival: number;
  /** Its duration in 48 kHz samples. */
  readonly samples: number;
}

export interface ParsedCapture {
  readonly packets: AudioPacket[];
  /** Samples the decoder drops at the start (Opus pre-skip; 0 for MP3). */
  readonly skip: number;
  /** When the first complete audio unit arrived: Ogg page with granule > 0, MP3 frame, WebM audio block. */
  readonly firstAudio: number | undefined;
  readonly bytes: number;
}

/** Arrival time of the byte at `offset` (chunks in arrival order). */
function arrivalIndex(chunks: readonly TimedChunk[]): (offset: number) => number {
  const ends: number[] = [];
  let n = 0;
  for (const c of chunks) { n += c.data.length; ends.push(n); }
  return (offset: number) => {
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    return chunks[lo]?.t ?? NaN;
  };
}

export function parseOggOpus(chunks: readonly TimedChunk[]): ParsedCapture {
  const buf = Buffer.concat(chunks.map((c) => c.data));
  const arrival = arrivalIndex(chunks);
  const packets: AudioPacket[] = [];
  let skip = 0;
  let firstAudio: number | undefined;
  let headersLeft = 0;
  let partial: Buffer[] = [];
  for (const page of oggPages(buf)) {
    const t = arrival(page.end - 1);
    if (page.bos) { headersLeft = 2; partial = []; }
    if (!page.continued) partial = []; // not a continuation: nothing carries over
    let len = 0;
    let start = 0;
    for (const lace of page.lacing) {
      len += lace;
      if (lace < 255) {
        partial.push(page.body.subarray(start, start + len));
        const packet = partial.length === 1 ? partial[0]! : Buffer.concat(partial);
        partial = [];
        if (headersLeft > 0) {
          if (headersLeft === 2 && packet.length >= 19 && packet.toString('latin1', 0, 8) === 'OpusHead') skip = packet.readUInt16LE(10);
          headersLeft--;
        } else {
          packets.push({ arrival: t, samples: opusPacketSamples(packet) });
        }
        start += len;
        len = 0;
      }
    }
    if (len > 0) partial.push(page.body.subarray(start, start + len));
    if (firstAudio === undefined && page.granule > 0n && headersLeft === 0) firstAudio = t;
  }
  return { packets, skip, firstAudio, bytes: buf.length };
}

const MP3_BITRATES = {
  1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MP3_RATES = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] } as Record<number, number[]>;

/** Length and sample count of the Layer III frame header at pos, or undefined. */
function mp3Frame(buf: Buffer, pos: number): { length: number; samples: number } | undefined {
  if (pos + 4 > buf.length) return undefined;
  if (buf[pos] !== 0xff || (buf[pos + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (buf[pos + 1]! >> 3) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
  const layer = (buf[pos + 1]! >> 1) & 3; // 1 = Layer III
  if (version === 1 || layer !== 1) return undefined;
  const bi = buf[pos + 2]! >> 4;
  const si = (buf[pos + 2]! >> 2) & 3;
  if (bi === 0 || bi === 15 || si === 3) return undefined;
  const pad = (buf[pos + 2]! >> 1) & 1;
  const kbps = (version === 3 ? MP3_BITRATES[1] : MP3_BITRATES[2])[bi]!;
  const rate = MP3_RATES[version]![si]!;
  const samples = version === 3 ? 1152 : 576;
  const length = Math.floor(((samples / 8) * kbps * 1000) / rate) + pad;
  return { length, samples: Math.round((samples * 48000) / rate) };
}

export function parseMp3(chunks: readonly TimedChunk[]): ParsedCapture {
  const buf = Buffer.concat(chunks.map((c) => c.data));
  const arrival = arrivalIndex(chunks);
  const packets: AudioPacket[] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const f = mp3Frame(buf, pos);
    // a frame counts when the next one follows it (or it is the last complete one)
    if (f === undefined || pos + f.length > buf.length || (pos + f.length + 4 <= buf.length && mp3Frame(buf, pos + f.length) === undefined)) {
      pos++;
      continue;
    }
    packets.push({ arrival: arrival(pos + f.length - 1), samples: f.samples });
    pos += f.length;
  }
  return { packets, skip: 0, firstAudio: packets[0]?.arrival, bytes: buf.length };
}

export function parseWebm(chunks: readonly TimedChunk[]): ParsedCapture {
  const demux = new WebmDemuxer();
  const packets: AudioPacket[] = [];
  let audioTrack: number | undefined;
  let skip = 0;
  let bytes = 0;
  for (const c of chunks) {
    bytes += c.data.length;
    for (const ev of demux.push(c.data)) {
      if (ev.type === 'tracks') {
        const a = ev.tracks.find((t) => t.type === 'audio');
        audioTrack = a?.number;
        if (a?.codecPrivate !== undefined && a.codecPrivate.length >= 12) skip = a.codecPrivate.readUInt16LE(10);
      } else if (ev.type === 'frame' && ev.track === audioTrack) {
        packets.push({ arrival: c.t, samples: opusPacketSamples(ev.data) });
      }
    }
  }
  return { packets, skip, firstAudio: packets[0]?.arrival, bytes };
}

/** The broadcaster's side: for each Opus packet of the recording, which chunk completed it. */
export interface SourcePackets {
  /** Cumulative samples at the end of packet k. */
  readonly ends: number[];
  /** Index of the chunk that completed packet k. */
  readonly chunk: number[];
  readonly skip: number;
}

export function sourcePackets(chunks: readonly Buffer[]): SourcePackets {
  const demux = new WebmDemuxer();
  const ends: number[] = [];
  const chunkOf: number[] = [];
  let audioTrack: number | undefined;
  let skip = 0;
  let total = 0;
  chunks.forEach((data, i) => {
    for (const ev of demux.push(data)) {
      if (ev.type === 'tracks') {
        const a = ev.tracks.find((t) => t.type === 'audio');
        audioTrack = a?.number;
        if (a?.codecPrivate !== undefined && a.codecPrivate.length >= 12) skip = a.codecPrivate.readUInt16LE(10);
      } else if (ev.type === 'frame' && ev.track === audioTrack) {
        total += opusPacketSamples(ev.data);
        ends.push(total);
        chunkOf.push(i);
      }
    }
  });
  return { ends, chunk: chunkOf, skip };
}

/** Index of the packet holding sample s (cumulative ends), or -1 past the end. */
export function packetAt(ends: readonly number[], s: number): number {
  if (s < 0 || ends.length === 0 || s >= ends[ends.length - 1]!) return -1;
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! > s) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
