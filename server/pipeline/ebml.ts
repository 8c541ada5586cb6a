// EBML, the encoding under Matroska/WebM: the element IDs a browser's recording uses, variable-size
// integers, and reading a small master element's children whole. Pure.
import { InvalidMedia, type Codec } from './demux.js';

// Element IDs (with their length marker, as written).
export const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  SeekPreRoll: 0x56bb,
  DefaultDuration: 0x23e383,
  ContentEncodings: 0x6d80,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  ReferenceBlock: 0xfb,
  BlockDuration: 0x9b,
  Cues: 0x1c53bb6b,
  Chapters: 0x1043a770,
  Tags: 0x1254c367,
  Attachments: 0x1941a469,
} as const;

/** Elements that may follow a Cluster inside a Segment: each ends an unknown-size Cluster. */
export const SEGMENT_CHILDREN = new Set<number>([
  ID.SeekHead, ID.Info, ID.Tracks, ID.Cluster, ID.Cues, ID.Chapters, ID.Tags, ID.Attachments,
]);

export const CODECS: Record<string, Codec> = { A_OPUS: 'opus', A_VORBIS: 'vorbis', V_VP8: 'vp8', V_VP9: 'vp9', V_AV1: 'av1' };

/** Size caps for the stream-header elements (a browser's are tens to hundreds of bytes). */
export const HEADER_ELEMENT_CAP = new Map<number, number>([[ID.EBML, 4096], [ID.Info, 65536], [ID.Tracks, 1024 * 1024]]);

/** An element size with all value bits set: "unknown" (live streams). */
export const UNKNOWN = -1;

export interface ElementHeader {
  readonly id: number;
  /** Body size, or UNKNOWN (all value bits set). */
  readonly size: number;
  readonly headerLength: number;
}

export interface Container {
  readonly id: number;
  /** Absolute end offset (Infinity when neither it nor an ancestor has a known size). */
  readonly end: number;
  readonly unknownSize: boolean;
}

/** An unsigned VINT at buf[pos]: value without the marker, or undefined if malformed/short. */
export function readVint(buf: Buffer, pos: number): { value: number; length: number; allOnes: boolean } | undefined {
  if (pos >= buf.length) return undefined;
  const first = buf[pos]!;
  if (first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (pos + length > buf.length) return undefined;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[pos + i]!;
    value = value * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  return { value, length, allOnes };
}

export function readUint(buf: Buffer): number {
  let v = 0;
  for (const b of buf) v = v * 256 + b;
  return v;
}

export function readFloat(buf: Buffer): number {
  if (buf.length === 4) return buf.readFloatBE(0);
  if (buf.length === 8) return buf.readDoubleBE(0);
  return 0;
}

export function readString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('latin1', 0, nul < 0 ? buf.length : nul);
}

/** Children of a master element read whole; throws InvalidMedia if a size overruns. */
export function childrenOf(body: Buffer, where: string): { id: number; data: Buffer }[] {
  const out: { id: number; data: Buffer }[] = [];
  let pos = 0;
  while (pos < body.length) {
    const first = body[pos]!;
    const idLength = Math.clz32(first) - 23;
    if (first < 0x10 || pos + idLength > body.length) throw new InvalidMedia(`bad element ID in ${where}`);
    let id = 0;
    for (let i = 0; i < idLength; i++) id = id * 256 + body[pos + i]!;
    const size = readVint(body, pos + idLength);
    if (size === undefined || size.allOnes) throw new InvalidMedia(`bad element size in ${where}`);
    const start = pos + idLength + size.length;
    if (start + size.value > body.length) throw new InvalidMedia(`element 0x${id.toString(16)} overruns ${where}`);
    out.push({ id, data: body.subarray(start, start + size.value) });
    pos = start + size.value;
  }
  return out;
}
