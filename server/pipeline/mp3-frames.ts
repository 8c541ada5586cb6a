// MPEG audio (MP3, and layers I/II) as a stream of frames: a source client's upload cut at frame
// boundaries, so an MP3 rendition can carry the client's frames unchanged and an Icecast source
// that reconnects resumes at a whole frame; and silent frames of the same kind to fill a gap while
// the client is away. Pure. ISO 11172-3 / 13818-3 headers; ID3v2 tags and junk between frames are
// skipped.

export interface FrameHeader {
  /** 1, 2 or 2.5 (MPEG-2.5). */
  readonly version: 1 | 2 | 2.5;
  readonly layer: 1 | 2 | 3;
  readonly kbps: number;
  readonly sampleRate: number;
  readonly padding: boolean;
  readonly mono: boolean;
  /** The whole frame, header included. */
  readonly bytes: number;
  readonly samples: number;
}

const KBPS: Readonly<Record<string, readonly number[]>> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES: Readonly<Record<string, readonly number[]>> = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] };

/** The header at buf[at..at+4], or undefined if those bytes are not a usable frame header (free format included). */
export function parseFrameHeader(buf: Uint8Array, at = 0): FrameHeader | undefined {
  if (buf.length < at + 4) return undefined;
  const b1 = buf[at + 1]!;
  const b2 = buf[at + 2]!;
  if (buf[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const v = (b1 >> 3) & 3;
  const l = (b1 >> 1) & 3;
  if (v === 1 || l === 0) return undefined;
  const version = v === 3 ? 1 : v === 2 ? 2 : 2.5;
  const layer = (4 - l) as 1 | 2 | 3;
  const kbps = KBPS[`${version === 1 ? 1 : 2}-${layer}`]![b2 >> 4];
  const sampleRate = RATES[version]![(b2 >> 2) & 3];
  if (kbps === undefined || kbps === 0 || sampleRate === undefined) return undefined;
  const padding = ((b2 >> 1) & 1) === 1;
  const bytes = layer === 1
    ? (Math.floor((12 * kbps * 1000) / sampleRate) + (padding ? 1 : 0)) * 4
    : Math.floor(((layer === 3 && version !== 1 ? 72 : 144) * kbps * 1000) / sampleRate) + (padding ? 1 : 0);
  const samples = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
  return { version, layer, kbps, sampleRate, padding, mono: buf[at + 3]! >> 6 === 3, bytes, samples };
}

/** Same stream parameters (a frame of another kind after a frame is junk that looks like a header). */
function sameKind(a: FrameHeader, b: FrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/**
 * A frame that decodes to silence, of the kind `header` (a frame's first four bytes) describes, with
 * no CRC and no padding: the header, then zeros — zero side information (layer III) or zero bit
 * allocation (layers I and II) carries no samples.
 */
export function silentFrame(header: Uint8Array): Buffer {
  const h = Buffer.from([header[0]!, header[1]! | 1, header[2]! & ~0x02, header[3]!]);
  const info = parseFrameHeader(h);
  if (info === undefined) throw new RangeError('not an MPEG audio frame header');
  const frame = Buffer.alloc(info.bytes);
  h.copy(frame);
  return frame;
}

/** Milliseconds one frame of this kind lasts. */
export function frameMs(h: FrameHeader): number {
  return (h.samples * 1000) / h.sampleRate;
}

/**
 * Cuts an MPEG audio stream into whole frames. A frame counts once the next header confirms it
 * (same version, layer and rate), so junk that happens to look like a header is skipped; once two
 * frames follow each other, frames go out as soon as they are complete. Holds at most one frame.
 */
export class Mp3Framer {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes still to skip (the rest of an ID3v2 tag). */
  private skip = 0;
  private locked: FrameHeader | undefined;
  /** Bytes skipped as junk so far (for the log). */
  junkBytes = 0;
  /** The last frame's header bytes and fields (silent frames copy them). */
  last: { header: Buffer; info: FrameHeader } | undefined;

  push(chunk: Buffer): Buffer[] {
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let pos = 0;
    while (this.buf.length - pos >= 4) {
      if (this.buf[pos] === 0x49 && this.buf[pos + 1] === 0x44 && this.buf[pos + 2] === 0x33) {
        // ID3v2: "ID3", version, flags, 28-bit syncsafe size (+ a footer when flagged)
        if (this.buf.length - pos < 10) break;
        const size = ((this.buf[pos + 6]! & 0x7f) << 21) | ((this.buf[pos + 7]! & 0x7f) << 14) | ((this.buf[pos + 8]! & 0x7f) << 7) | (this.buf[pos + 9]! & 0x7f);
        const total = 10 + size + ((this.buf[pos + 5]! & 0x10) !== 0 ? 10 : 0);
        const have = Math.min(total, this.buf.length - pos);
        pos += have;
        this.skip = total - have;
        this.locked = undefined;
        continue;
      }
      const h = parseFrameHeader(this.buf, pos);
      if (h === undefined || (this.locked !== undefined && !sameKind(h, this.locked))) {
        this.locked = undefined;
        pos++;
        this.junkBytes++;
        continue;
      }
      if (this.locked === undefined) {
        // confirm by the next frame's header
        if (this.buf.length - pos < h.bytes + 4) break;
        const next = parseFrameHeader(this.buf, pos + h.bytes);
        if (next === undefined || !sameKind(h, next)) { pos++; this.junkBytes++; continue; }
      } else if (this.buf.length - pos < h.bytes) {
        break;
      }
      const frame = this.buf.subarray(pos, pos + h.bytes);
      out.push(Buffer.from(frame));
      this.last = { header: Buffer.from(frame.subarray(0, 4)), info: h };
      this.locked = h;
      pos += h.bytes;
    }
    this.buf = pos === 0 ? this.buf : Buffer.from(this.buf.subarray(pos));
    return out;
  }
}
