// The boxes of an MP4 (ISO BMFF) and what the demuxer reads out of them: walking a box's
// children, and a sample entry's codec with its codecPrivate (Opus: the OpusHead built from
// `dOps`; AAC: the AudioSpecificConfig from `esds`). Pure; mp4-demuxer.ts streams with them.
import { InvalidMedia, type Codec, type Track } from './demux.js';

const SAMPLE_ENTRY_CODECS: Readonly<Record<string, Codec>> = {
  Opus: 'opus', mp4a: 'aac', avc1: 'h264', avc3: 'h264', vp09: 'vp9', vp08: 'vp8', av01: 'av1',
};

export interface Box {
  readonly type: string;
  /** Body (after the box header). */
  readonly body: Buffer;
  /** Absolute stream offset of the box's first byte. */
  readonly offset: number;
}

/** Boxes one after another in `buf` (its offset in the stream: `base`). */
export function* boxes(buf: Buffer, base: number): Generator<Box> {
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 8) throw new InvalidMedia('truncated MP4 box header');
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let headerLength = 8;
    if (size === 1) {
      if (buf.length - pos < 16) throw new InvalidMedia('truncated MP4 box header');
      size = Number(buf.readBigUInt64BE(pos + 8));
      headerLength = 16;
    } else if (size === 0) {
      size = buf.length - pos;
    }
    if (size < headerLength || pos + size > buf.length) throw new InvalidMedia(`MP4 box ${JSON.stringify(type)} overruns its parent`);
    yield { type, body: buf.subarray(pos + headerLength, pos + size), offset: base + pos };
    pos += size;
  }
}

export function child(box: Box, type: string): Box | undefined {
  for (const b of boxes(box.body, box.offset + 8)) if (b.type === type) return b;
  return undefined;
}

export function need(buf: Buffer, bytes: number, what: string): void {
  if (buf.length < bytes) throw new InvalidMedia(`truncated MP4 ${what}`);
}

/** OpusHead (RFC 7845 §5.1) from an MP4 `dOps` box body (Opus in ISOBMFF §4.3.2): same fields, big-endian. */
export function opusHeadFromDops(dops: Buffer): Buffer {
  need(dops, 11, 'dOps');
  if (dops[0] !== 0) throw new InvalidMedia(`unknown dOps version ${dops[0]}`);
  const channels = dops[1]!;
  const family = dops[10]!;
  const mapping = family === 0 ? Buffer.alloc(0) : dops.subarray(11, 11 + 2 + channels);
  if (family !== 0 && mapping.length !== 2 + channels) throw new InvalidMedia('truncated dOps channel mapping');
  const head = Buffer.alloc(19 + mapping.length);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(dops.readUInt16BE(2), 10);
  head.writeUInt32LE(dops.readUInt32BE(4), 12);
  head.writeInt16LE(dops.readInt16BE(8), 16);
  head[18] = family;
  mapping.copy(head, 19);
  return head;
}

/** One MPEG-4 descriptor's tag, body and the offset after it. */
function descriptor(buf: Buffer, pos: number): { tag: number; body: Buffer; end: number } {
  need(buf, pos + 2, 'esds descriptor');
  const tag = buf[pos]!;
  let len = 0;
  let p = pos + 1;
  for (let i = 0; i < 4; i++) {
    need(buf, p + 1, 'esds descriptor');
    const b = buf[p++]!;
    len = (len << 7) | (b & 0x7f);
    if ((b & 0x80) === 0) break;
  }
  if (p + len > buf.length) throw new InvalidMedia('esds descriptor overruns its box');
  return { tag, body: buf.subarray(p, p + len), end: p + len };
}

/** The AudioSpecificConfig in an `esds` box body; throws for anything but MPEG-4/MPEG-2 AAC. */
export function audioSpecificConfigFromEsds(esds: Buffer): Buffer {
  need(esds, 4, 'esds');
  const es = descriptor(esds, 4);
  if (es.tag !== 0x03) throw new InvalidMedia('esds without an ES descriptor');
  need(es.body, 3, 'ES descriptor');
  const flags = es.body[2]!;
  let pos = 3 + ((flags & 0x80) !== 0 ? 2 : 0);
  if ((flags & 0x40) !== 0) pos += 1 + (es.body[pos] ?? 0);
  if ((flags & 0x20) !== 0) pos += 2;
  const dc = descriptor(es.body, pos);
  if (dc.tag !== 0x04) throw new InvalidMedia('esds without a decoder config');
  need(dc.body, 13, 'decoder config');
  const objectType = dc.body[0]!;
  // 0x40 MPEG-4 audio; 0x66-0x68 MPEG-2 AAC profiles
  if (objectType !== 0x40 && (objectType < 0x66 || objectType > 0x68)) {
    throw new InvalidMedia(`MP4 audio of object type 0x${objectType.toString(16)} is not AAC`);
  }
  const dsi = descriptor(dc.body, 13);
  if (dsi.tag !== 0x05 || dsi.body.length < 2) throw new InvalidMedia('esds without an AudioSpecificConfig');
  return Buffer.from(dsi.body);
}

/** The codec of a sample entry and, for audio, its codecPrivate and channel count. */
export function sampleEntry(entry: Box, handler: string): Pick<Track, 'codec' | 'codecId'> & { codecPrivate?: Buffer; channels?: number } | undefined {
  const codec = SAMPLE_ENTRY_CODECS[entry.type];
  if (handler === 'soun') {
    if (codec !== 'opus' && codec !== 'aac') throw new InvalidMedia(`MP4 audio codec ${JSON.stringify(entry.type)} is not supported (Opus or AAC)`);
    need(entry.body, 28, 'audio sample entry');
    // QuickTime sound description versions 1 and 2 carry more fields before the child boxes
    const version = entry.body.readUInt16BE(8);
    const childrenAt = 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
    const channels = entry.body.readUInt16BE(16);
    const inner: Box = { type: entry.type, body: entry.body.subarray(childrenAt), offset: entry.offset + childrenAt };
    if (codec === 'opus') {
      const dops = child(inner, 'dOps');
      if (dops === undefined) throw new InvalidMedia('Opus sample entry without dOps');
      return { codec, codecId: entry.type, codecPrivate: opusHeadFromDops(dops.body), channels };
    }
    const esds = child(inner, 'esds');
    if (esds === undefined) throw new InvalidMedia('AAC sample entry without esds');
    return { codec, codecId: entry.type, codecPrivate: audioSpecificConfigFromEsds(esds.body), channels };
  }
  if (handler === 'vide') return { codec: codec ?? entry.type, codecId: entry.type };
  return undefined;
}
