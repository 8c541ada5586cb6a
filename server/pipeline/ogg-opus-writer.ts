// Ogg/Opus pages written by the daemon itself (RFC 3533 pages, RFC 7845 mapping), one page per
// packet so a page leaves as soon as its packet arrives. One writer is one logical stream: it
// keeps its serial number, page sequence and granule position for as long as it lives, so a
// broadcaster's reconnect continues the same stream (fill the gap with silence()). Pure.
import { IcewireError } from '../errors.js';

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
const ZERO4 = new Uint8Array(4);
const EMPTY = Buffer.alloc(0);
/** packet()'s one-element list, reused. */
const ONE: (Buffer | undefined)[] = [undefined];

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

export interface OggOpusWriterOptions {
  /** Ogg bitstream serial number (uint32). Keep it across reconnects; a new chain needs a new one. */
  readonly serial: number;
  /** The OpusHead packet (WebM CodecPrivate, or the first Ogg packet). */
  readonly opusHead: Buffer;
  /** OpusTags vendor string (default "icewire"). */
  readonly vendor?: string;
  /** User comments, e.g. { TITLE: 'Morning show' }. */
  readonly tags?: Readonly<Record<string, string>>;
  /** A complete OpusTags packet to use as is (e.g. the broadcaster's own), instead of vendor/tags. */
  readonly opusTags?: Buffer;
}

/** Audio packets per page in silence(): 50 × 20 ms keeps pages at about one second. */
const SILENCE_PACKETS_PER_PAGE = 50;
/** Padding per silence packet: 20 ms of ~64 kbit/s, a normal Opus rate. */
const SILENCE_PADDING_BYTES = 154;
/** Range-coder bytes that make a CELT frame decode with its silence flag set. */
const CELT_SILENCE = [0xff, 0xfe];
/** CELT-only fullband TOC configs by frame length in samples (RFC 6716 Table 2: 28..31). */
const CELT_CONFIG: [number, number][] = [[960, 31], [480, 30], [240, 29], [120, 28]];

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

/**
 * Writes one Ogg/Opus logical stream. headers() first, then packet() per Opus packet (each
 * returns a page to send now), silence() for gaps, end() last.
 *
 * Granule positions follow RFC 7845 §4: the granule of a page is the number of 48 kHz samples
 * decoded up to the end of its last packet, counting from the first packet and *including* the
 * pre-skip samples the player discards. So the first audio page's granule is just the duration of
 * its packet (960 for 20 ms), and the playback time of sample g is (g - preSkip) / 48000.
 *
 * Chaining (a new title, a new encoder): `Buffer.concat([w.end(), (w = w.newChain({ serial,
 * tags })).headers()])`. The new chain starts at granule 0 with its own pre-skip, as RFC 7845
 * requires of every chain; the serial must differ from the previous chain's.
 */
export class OggOpusWriter {
  readonly serial: number;
  readonly opusHead: Buffer;
  readonly head: OpusHead;
  private readonly vendor: string;
  private readonly headerPages: Buffer;
  private sequence = 0;
  private granule = 0;
  private done = false;
  private dropped = 0;

  constructor(opts: OggOpusWriterOptions) {
    if (!Number.isInteger(opts.serial) || opts.serial < 0 || opts.serial > 0xffffffff) {
      throw new IcewireError('IW_ERR_INTERNAL', { detail: `Ogg serial ${opts.serial} is not a uint32` });
    }
    const head = parseOpusHead(opts.opusHead);
    if (head === undefined) throw new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { detail: 'invalid OpusHead' });
    this.serial = opts.serial;
    this.opusHead = Buffer.from(opts.opusHead);
    this.head = head;
    this.vendor = opts.vendor ?? 'icewire';
    const tags = opts.opusTags ?? buildOpusTags(this.vendor, opts.tags);
    // RFC 7845 §3: OpusHead alone on the first (BOS) page, OpusTags starting on the second page
    // and finishing its last one; header pages have granule 0.
    this.headerPages = Buffer.concat([
      this.pages([this.opusHead], [0], 0x02),
      this.pages([tags], [0], 0),
    ]);
  }

  /** Opus packet duration in 48 kHz samples (see opusPacketSamples). */
  static opusPacketSamples(data: Uint8Array): number {
    return opusPacketSamples(data);
  }

  /** Granule position of the last page written (48 kHz samples including pre-skip). */
  get granulePosition(): number {
    return this.granule;
  }

  /** Sequence number the next page will carry. */
  get pageSequence(): number {
    return this.sequence;
  }

  /** Packets packet() refused because they were not valid Opus (no duration). */
  get droppedPackets(): number {
    return this.dropped;
  }

  get ended(): boolean {
    return this.done;
  }

  /** The OpusHead page (BOS) and the OpusTags page(s). The same bytes on every call. */
  headers(): Buffer {
    return this.headerPages;
  }

  /**
   * One page carrying this Opus packet, granule advanced by its duration. A packet with no valid
   * TOC (see opusPacketSamples) is dropped and counted: an empty Buffer is returned.
   */
  packet(data: Buffer): Buffer {
    ONE[0] = data;
    const page = this.packets(ONE, 1);
    ONE[0] = undefined;
    return page;
  }

  /**
   * The first `count` packets of `list` in one page (more only past 255 lacing values, ~16 kB of
   * audio), the granule advanced by their durations: what one browser chunk completed goes out in
   * one write, and a reader (Icecast) gets it whole in one read. Packets with no valid TOC are
   * dropped and counted; an empty Buffer when none is left. The hot path: one allocation, the
   * page itself.
   */
  packets(list: readonly (Buffer | undefined)[], count = list.length): Buffer {
    this.assertOpen();
    let segments = 0;
    let bodyLength = 0;
    let samples = 0;
    let valid = 0;
    for (let i = 0; i < count; i++) {
      const data = list[i]!;
      const n = opusPacketSamples(data);
      if (n === 0) continue;
      valid++;
      samples += n;
      segments += ((data.length / 255) | 0) + 1;
      bodyLength += data.length;
    }
    if (valid < count) this.dropped += count - valid;
    if (valid === 0) return EMPTY;
    if (segments > 255 || valid < count) return this.splitPackets(list, count);
    this.granule += samples;
    const page = Buffer.allocUnsafe(27 + segments + bodyLength);
    this.pageHead(page, 0, this.granule, segments);
    let lace = 27;
    let pos = 27 + segments;
    for (let i = 0; i < count; i++) {
      const data = list[i]!;
      let n = data.length;
      for (; n >= 255; n -= 255) page[lace++] = 255;
      page[lace++] = n;
      page.set(data, pos);
      pos += data.length;
    }
    page.writeUInt32LE(oggCrc32(page), 22);
    return page;
  }

  /** The general case of packets(): valid packets only, over as many pages as their lacing needs. */
  private splitPackets(list: readonly (Buffer | undefined)[], count: number): Buffer {
    const packets: Buffer[] = [];
    const granules: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = opusPacketSamples(list[i]!);
      if (n === 0) continue;
      this.granule += n;
      packets.push(list[i]!);
      granules.push(this.granule);
    }
    return this.pages(packets, granules, 0);
  }

  /**
   * Pages of Opus silence lasting durationMs, rounded to the nearest 2.5 ms: 20 ms CELT frames
   * (TOC 0xF8 mono / 0xFC stereo, then bytes that decode with CELT's silence flag set), the rest
   * in one 10, 5 or 2.5 ms frame each. About one second of packets per page.
   */
  silence(durationMs: number): Buffer {
    this.assertOpen();
    let left = Number.isFinite(durationMs) && durationMs > 0 ? Math.round(durationMs / 2.5) * 120 : 0;
    const packets: Buffer[] = [];
    const granules: number[] = [];
    for (const [samples, config] of CELT_CONFIG) {
      while (left >= samples) {
        packets.push(this.silencePacket(config, SILENCE_PADDING_BYTES));
        this.granule += samples;
        granules.push(this.granule);
        left -= samples;
      }
    }
    const out: Buffer[] = [];
    for (let i = 0; i < packets.length; i += SILENCE_PACKETS_PER_PAGE) {
      out.push(this.pages(packets.slice(i, i + SILENCE_PACKETS_PER_PAGE), granules.slice(i, i + SILENCE_PACKETS_PER_PAGE), 0));
    }
    return Buffer.concat(out);
  }

  /**
   * The end-of-stream page. It carries one 20 ms silence packet rather than being empty: a page
   * with no packet has no meaningful granule position, and players differ in how they treat one.
   * Pass the stream's last packet instead if the caller held it back (an invalid one is dropped
   * and counted). After end(), every method but headers() and the getters throws.
   */
  end(lastPacket?: Buffer): Buffer {
    this.assertOpen();
    let data = lastPacket;
    if (data !== undefined && opusPacketSamples(data) === 0) {
      this.dropped++;
      data = undefined;
    }
    data ??= this.silencePacket(31);
    this.granule += opusPacketSamples(data);
    this.done = true;
    return this.pages([data], [this.granule], 0x04);
  }

  /** A writer for the next chain of a chained stream (new serial; OpusHead and vendor kept unless given). */
  newChain(opts: Partial<OggOpusWriterOptions> & { readonly serial: number }): OggOpusWriter {
    if (opts.serial === this.serial) {
      throw new IcewireError('IW_ERR_INTERNAL', { detail: 'a new Ogg chain needs a new serial number' });
    }
    return new OggOpusWriter({ opusHead: this.opusHead, vendor: this.vendor, ...opts });
  }

  private assertOpen(): void {
    if (this.done) throw new IcewireError('IW_ERR_INTERNAL', { detail: 'Ogg stream already ended' });
  }

  /**
   * A silence packet for this stream's channel layout (multistream framing when needed). With
   * `padding`, a single-stream packet is a code-3 packet carrying that many padding bytes
   * (RFC 6716 §3.2.5), which decoders skip: a player fed only bare 3-byte silence packets
   * (~0.2 kB/s) stalls waiting for data (Chromium does), at a normal bitrate it plays on.
   */
  private silencePacket(config: number, padding = 0): Buffer {
    const { streams, coupledStreams } = this.head;
    if (padding > 0 && streams === 1) {
      const toc = (config << 3) | (coupledStreams > 0 ? 0x04 : 0) | 0x03;
      // frame count byte: CBR, padding present, one frame; then the padding length (< 255)
      return Buffer.concat([Buffer.from([toc, 0x41, padding, ...CELT_SILENCE]), Buffer.alloc(padding)]);
    }
    const bytes: number[] = [];
    for (let s = 0; s < streams; s++) {
      const toc = (config << 3) | (s < coupledStreams ? 0x04 : 0);
      // All but the last stream use self-delimited framing (RFC 6716 Appendix B): a frame length.
      bytes.push(toc, ...(s < streams - 1 ? [CELT_SILENCE.length] : []), ...CELT_SILENCE);
    }
    return Buffer.from(bytes);
  }

  /**
   * Pages holding these packets, all completing here. granules[i] is the granule after packets[i];
   * a page where no packet completes gets -1, a page continuing a packet the continued flag.
   * flags: 0x02 on the first page (BOS), 0x04 on the last (EOS).
   */
  private pages(packets: Buffer[], granules: number[], flags: number): Buffer {
    const out: Buffer[] = [];
    let lacing: number[] = [];
    let parts: Buffer[] = [];
    let granule = -1;
    let continued = false;
    let first = true;
    const flush = (last: boolean, midPacket: boolean): void => {
      const type = (continued ? 0x01 : 0) | (first ? flags & 0x02 : 0) | (last ? flags & 0x04 : 0);
      out.push(this.page(type, granule, lacing, parts));
      continued = midPacket;
      first = false;
      lacing = [];
      parts = [];
      granule = -1;
    };
    packets.forEach((data, i) => {
      let pos = 0;
      for (;;) {
        if (lacing.length === 255) flush(false, pos > 0);
        const n = Math.min(255, data.length - pos);
        lacing.push(n);
        parts.push(data.subarray(pos, pos + n));
        pos += n;
        if (n < 255) break;
      }
      granule = granules[i]!;
    });
    flush(true, false);
    return Buffer.concat(out);
  }

  private page(type: number, granule: number, lacing: number[], parts: Buffer[]): Buffer {
    const bodyLength = parts.reduce((n, p) => n + p.length, 0);
    const page = Buffer.allocUnsafe(27 + lacing.length + bodyLength);
    this.pageHead(page, type, granule, lacing.length);
    lacing.forEach((v, i) => { page[27 + i] = v; });
    let pos = 27 + lacing.length;
    for (const p of parts) pos += p.copy(page, pos);
    page.writeUInt32LE(oggCrc32(page), 22);
    return page;
  }

  /** The 27-byte page header, CRC field zero (the CRC is then taken over the whole page as is). */
  private pageHead(page: Buffer, type: number, granule: number, segments: number): void {
    page.writeUInt32BE(0x4f676753, 0); // "OggS"
    page[4] = 0;
    page[5] = type;
    // granule as int64 LE without a BigInt: -1 (no packet ends here) is all ones
    if (granule < 0) {
      page.writeInt32LE(-1, 6);
      page.writeInt32LE(-1, 10);
    } else {
      page.writeUInt32LE(granule % 0x100000000, 6);
      page.writeUInt32LE(Math.floor(granule / 0x100000000), 10);
    }
    page.writeUInt32LE(this.serial, 14);
    page.writeUInt32LE(this.sequence, 18);
    page.writeUInt32LE(0, 22);
    page[26] = segments;
    this.sequence = (this.sequence + 1) >>> 0;
  }
}
