// Input whose media time runs far ahead of the wall clock, in valid containers: tiny Opus packets
// that each claim 120 ms (six 20 ms CELT frames of 2 bytes), packed 256 to a laced WebM block or
// 255 to an Ogg page. About 1 MiB claims 2.5 hours. Everything a parser checks is well formed:
// only the claimed durations are a lie. For tests of what trusts media time (recording segments,
// pacing, the refusal of input that runs ahead of real time).
import { buildOpusTags, oggPageCrc } from '../../server/pipeline/opus-format.js';
import { block, ebmlHeader, el, elUnknown, str, uint } from './ebml.js';

/** 14 bytes: TOC 0xff (CELT fullband 20 ms, stereo, code 3), frame count 6 (CBR), 6 x 2 bytes. */
export const RUNAWAY_PACKET = Buffer.from([0xff, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/** What each packet claims. */
export const RUNAWAY_PACKET_MS = 120;
/** Packets per WebM block (fixed-size lacing counts frames in one byte: 256 at most). */
export const RUNAWAY_PACKETS_PER_BLOCK = 256;

/** OpusHead: stereo, pre-skip 312, 48 kHz, mapping family 0. */
export function runawayOpusHead(): Buffer {
  const h = Buffer.alloc(19);
  h.write('OpusHead', 0, 'latin1');
  h[8] = 1;
  h[9] = 2;
  h.writeUInt16LE(312, 10);
  h.writeUInt32LE(48000, 12);
  return h;
}

// ---- WebM ----

/** EBML header, Segment of unknown size (as MediaRecorder writes it), Info and one Opus track. */
export function runawayWebmHeader(): Buffer {
  const sampleRate = Buffer.alloc(8);
  sampleRate.writeDoubleBE(48000);
  const info = el(0x1549a966, uint(0x2ad7b1, 1000000), str(0x4d80, 'runaway'), str(0x5741, 'runaway'));
  const track = el(0xae,
    uint(0xd7, 1), uint(0x73c5, 1), uint(0x83, 2), str(0x86, 'A_OPUS'),
    el(0x63a2, runawayOpusHead()), el(0xe1, el(0xb5, sampleRate), uint(0x9f, 2)));
  return Buffer.concat([ebmlHeader('webm'), elUnknown(0x18538067), info, el(0x1654ae6b, track)]);
}

/**
 * Cluster number `index`: one keyframe SimpleBlock with 256 runaway packets in fixed-size lacing,
 * its timecode where the claimed durations of the clusters before it put it (30.72 s apart).
 */
export function runawayWebmCluster(index: number): Buffer {
  const packets = Array.from({ length: RUNAWAY_PACKETS_PER_BLOCK }, () => RUNAWAY_PACKET);
  return el(0x1f43b675, uint(0xe7, index * RUNAWAY_PACKETS_PER_BLOCK * RUNAWAY_PACKET_MS), el(0xa3, block(1, 0, 0x80, packets, 'fixed')));
}

// ---- Ogg ----

function oggPage(serial: number, sequence: number, granule: bigint, flags: number, packets: Buffer[]): Buffer {
  const lacing: number[] = [];
  for (const p of packets) {
    let left = p.length;
    while (left >= 255) { lacing.push(255); left -= 255; }
    lacing.push(left);
  }
  if (lacing.length > 255) throw new RangeError('too many packets for one Ogg page');
  const head = Buffer.alloc(27);
  head.write('OggS', 0, 'latin1');
  head[5] = flags;
  head.writeBigUInt64LE(granule, 6);
  head.writeUInt32LE(serial, 14);
  head.writeUInt32LE(sequence, 18);
  head[26] = lacing.length;
  const page = Buffer.concat([head, Buffer.from(lacing), ...packets]);
  page.writeUInt32LE(oggPageCrc(page), 22);
  return page;
}

const OGG_SERIAL = 0x52554e41;

/** The two Ogg/Opus header pages (OpusHead, OpusTags). */
export function runawayOggHeader(): Buffer {
  return Buffer.concat([oggPage(OGG_SERIAL, 0, 0n, 0x02, [runawayOpusHead()]), oggPage(OGG_SERIAL, 1, 0n, 0, [buildOpusTags('runaway')])]);
}

/** Ogg page number `index` of audio: 255 runaway packets, granule position to match their claim. */
export function runawayOggPage(index: number): Buffer {
  const n = 255;
  const granule = BigInt((index + 1) * n * RUNAWAY_PACKET_MS * 48);
  return oggPage(OGG_SERIAL, index + 2, granule, 0, Array.from({ length: n }, () => RUNAWAY_PACKET));
}

/**
 * A whole runaway stream of about `bytes`, as chunks a client sends: the header, then clusters
 * (WebM) or pages (Ogg), `perChunk` to a chunk. Also what it claims, in seconds of media.
 */
export function runawayStream(kind: 'webm' | 'ogg', bytes: number, perChunk = 4): { chunks: Buffer[]; claimedSeconds: number } {
  const chunks: Buffer[] = [kind === 'webm' ? runawayWebmHeader() : runawayOggHeader()];
  let total = chunks[0]!.length;
  let units = 0;
  let pending: Buffer[] = [];
  while (total < bytes) {
    const unit = kind === 'webm' ? runawayWebmCluster(units) : runawayOggPage(units);
    units++;
    total += unit.length;
    pending.push(unit);
    if (pending.length === perChunk) { chunks.push(Buffer.concat(pending)); pending = []; }
  }
  if (pending.length > 0) chunks.push(Buffer.concat(pending));
  const packetsPerUnit = kind === 'webm' ? RUNAWAY_PACKETS_PER_BLOCK : 255;
  return { chunks, claimedSeconds: (units * packetsPerUnit * RUNAWAY_PACKET_MS) / 1000 };
}
