// What the Ogg/Opus code relies on about the formats themselves: the Ogg page CRC (RFC 3533),
// an Opus packet's duration from its TOC byte (RFC 6716 §3.1), and the OpusHead / OpusTags
// packets (RFC 7845 §5). Pure.
import { IcewireError } from '../errors.js';

const ZERO4 = new Uint8Array(4);

// CRC-32 of Ogg pages: polynomial 0x04c11db7, MSB first (no reflection), initial value 0, no final
// XOR, computed over the whole page with its CRC field set to zero. Slice-by-8: eight tables, where
// table k holds the CRC of byte i followed by k zero bytes, so the loop takes eight bytes a step
// (about 4x the byte-at-a-time loop on a page of audio).
const CRC_TABLES = ((): Int32Array[] => {
  const t0 = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t0[i] = r;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!;
    const t = new Int32Array(256);
    for (let i = 0; i < 256; i++) t[i] = (prev[i]! << 8) ^ t0[prev[i]! >>> 24]!;
    tables.push(t);
  }
  return tables;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = CRC_TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** Continue an Ogg CRC over buf[start, end). Start with crc = 0. */
export function oggCrc32(buf: Uint8Array, crc = 0, start = 0, end = buf.length): number {
  let c = crc | 0;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    c ^= (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
    c = T7[c >>> 24]! ^ T6[(c >>> 16) & 0xff]! ^ T5[(c >>> 8) & 0xff]! ^ T4[c & 0xff]! ^
      T3[buf[i + 4]!]! ^ T2[buf[i + 5]!]! ^ T1[buf[i + 6]!]! ^ T0[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = (c << 8) ^ T0[((c >>> 24) ^ buf[i]!) & 0xff]!;
  return c >>> 0;
}

/** CRC of a whole page as stored in bytes 22..25 (computed with that field taken as zero). */
export function oggPageCrc(page: Uint8Array): number {
  let c = oggCrc32(page, 0, 0, 22);
  c = oggCrc32(ZERO4, c);
  return oggCrc32(page, c, 26, page.length);
}

// Samples (48 kHz) per frame for TOC configs 0..31 (RFC 6716 §3.1, Table 2):
// SILK NB/MB/WB 10/20/40/60 ms, Hybrid SWB/FB 10/20 ms, CELT NB/WB/SWB/FB 2.5/5/10/20 ms.
const FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
  480, 960, 480, 960,
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/**
 * Duration of an Opus packet in 48 kHz samples, from its TOC byte (and frame count byte for code
 * 3). 0 for a packet that is not valid Opus (empty, code 3 without a count or with 0 frames, or
 * longer than the 120 ms the codec allows).
 */
export function opusPacketSamples(data: Uint8Array): number {
  if (data.length < 1) return 0;
  const toc = data[0]!;
  const perFrame = FRAME_SAMPLES[toc >> 3]!;
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code !== 3) frames = 2;
  else {
    if (data.length < 2) return 0;
    frames = data[1]! & 0x3f;
  }
  const samples = frames * perFrame;
  return samples > 5760 ? 0 : samples;
}

export interface OpusHead {
  readonly channels: number;
  readonly preSkip: number;
  readonly inputSampleRate: number;
  readonly mappingFamily: number;
  /** Streams and coupled (stereo) streams in each packet: 1 and channels-1 for family 0. */
  readonly streams: number;
  readonly coupledStreams: number;
}

/** The fields of an OpusHead (RFC 7845 §5.1), or undefined if it is not a usable one. */
export function parseOpusHead(head: Uint8Array): OpusHead | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.length);
  if (b.length < 19 || b.toString('latin1', 0, 8) !== 'OpusHead') return undefined;
  if (b[8]! >> 4 !== 0) return undefined; // major version 0 only (RFC 7845: reject 16+)
  const channels = b[9]!;
  const mappingFamily = b[18]!;
  if (channels === 0) return undefined;
  const base = { channels, preSkip: b.readUInt16LE(10), inputSampleRate: b.readUInt32LE(12), mappingFamily };
  if (mappingFamily === 0) {
    if (channels > 2) return undefined;
    return { ...base, streams: 1, coupledStreams: channels - 1 };
  }
  if (b.length < 21 + channels) return undefined;
  const streams = b[19]!;
  const coupledStreams = b[20]!;
  if (streams === 0 || coupledStreams > streams || streams + coupledStreams > 255) return undefined;
  return { ...base, streams, coupledStreams };
}

/** An OpusTags packet (RFC 7845 §5.2). */
export function buildOpusTags(vendor: string, tags: Readonly<Record<string, string>> = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('OpusTags', 'latin1')];
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  };
  str(vendor);
  const entries = Object.entries(tags);
  const count = Buffer.alloc(4);
  count.writeUInt32LE(entries.length);
  parts.push(count);
  for (const [key, value] of entries) {
    // Vorbis comment field names: printable ASCII 0x20..0x7D except '='.
    if (key.length === 0 || !/^[\x20-\x3c\x3e-\x7d]+$/.test(key)) {
      throw new IcewireError('IW_ERR_INTERNAL', { detail: `invalid Vorbis comment field name ${JSON.stringify(key)}` });
    }
    str(`${key}=${value}`);
  }
  return Buffer.concat(parts);
}
