// The one Ogg page walker for captures (what a listener received, a recording, a fake rendition's
// pages): enough to tell one continuous stream from a chain, count packets, and read page bodies.
// It starts at the first "OggS" and resyncs on garbage between pages; a truncated last page (a
// listener cut off mid-page) is left out. Pure.
import { opusPacketSamples } from '../../server/pipeline/opus-format.js';

export interface OggPage {
  /** Offset of the page's "OggS" in the buffer, and just after its body. */
  readonly offset: number;
  readonly end: number;
  readonly headerType: number;
  /** First page of a logical stream (a new chain starts with one). */
  readonly bos: boolean;
  readonly eos: boolean;
  /** The page continues a packet begun on the previous one. */
  readonly continued: boolean;
  readonly granule: bigint;
  readonly serial: number;
  readonly sequence: number;
  /** The segment table: a packet ends at each value below 255. */
  readonly lacing: readonly number[];
  readonly body: Buffer;
}

export function oggPages(buf: Buffer): OggPage[] {
  const pages: OggPage[] = [];
  let at = buf.indexOf('OggS', 0, 'latin1');
  while (at >= 0 && at + 27 <= buf.length) {
    const segments = buf[at + 26]!;
    const bodyAt = at + 27 + segments;
    if (bodyAt > buf.length) break;
    const lacing = [...buf.subarray(at + 27, bodyAt)];
    const end = bodyAt + lacing.reduce((n, v) => n + v, 0);
    if (end > buf.length) break;
    const headerType = buf[at + 5]!;
    pages.push({
      offset: at,
      end,
      headerType,
      bos: (headerType & 0x02) !== 0,
      eos: (headerType & 0x04) !== 0,
      continued: (headerType & 0x01) !== 0,
      granule: buf.readBigInt64LE(at + 6),
      serial: buf.readUInt32LE(at + 14),
      sequence: buf.readUInt32LE(at + 18),
      lacing,
      body: buf.subarray(bodyAt, end),
    });
    at = buf.indexOf('OggS', end, 'latin1');
  }
  return pages;
}

/** Packets that end on these pages (a packet spanning pages counts once, where it ends). */
export function packetsEnding(pages: readonly OggPage[]): number {
  return pages.reduce((n, p) => n + p.lacing.filter((v) => v < 255).length, 0);
}

/**
 * Where an Ogg/Opus capture's audio is not continuous: for each page after the headers, its
 * granule position must move on by exactly the samples of the packets that end on it. A page
 * can be long (one page per browser chunk, 250 ms): a large step is no gap as long as the audio
 * is in the page (the stream's last page may count fewer: end trimming). Returns a sentence per break (empty when the audio runs on without one).
 */
export function granuleBreaks(pages: readonly OggPage[]): string[] {
  const breaks: string[] = [];
  let prev: bigint | undefined;
  let carry: Buffer[] = [];
  for (const p of pages) {
    let at = 0;
    let samples = 0;
    let part: Buffer[] = carry;
    for (const v of p.lacing) {
      part.push(p.body.subarray(at, at + v));
      at += v;
      if (v < 255) {
        samples += opusPacketSamples(Buffer.concat(part));
        part = [];
      }
    }
    carry = part;
    if (p.granule <= 0n) continue; // the headers, and pages that end no packet
    // the last page of a stream may end early (end trimming): it may hold more than it counts
    const step = prev === undefined ? undefined : p.granule - prev;
    if (step !== undefined && (p.eos ? step <= 0n || step > BigInt(samples) : step !== BigInt(samples))) {
      breaks.push(`page ${p.sequence}: granule ${p.granule} after ${prev}, but its packets hold ${samples} samples`);
    }
    prev = p.granule;
  }
  return breaks;
}
