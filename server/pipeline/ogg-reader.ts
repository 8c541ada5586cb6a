// A streaming Ogg/Opus reader for Firefox's MediaRecorder output (audio/ogg;codecs=opus). Pure,
// like WebmDemuxer, and with the same events, so a caller can treat both inputs alike: one
// `tracks` event (one Opus audio track, codecPrivate = OpusHead) and one `frame` per Opus packet.
// Every page's CRC is checked; memory is bounded by a page (at most 65,307 bytes) plus one packet
// (maxPacketBytes). On invalid input it reports one error event and stops; it never throws.
// A chained stream (a new Opus logical stream after the previous one's end page: what Liquidsoap
// and other source clients send at each new track or title) continues the same track: its header
// packets are checked and skipped, its audio packets follow on the same timeline. A chain with
// another channel count can't continue the stream and is refused.
import { oggPageCrc, opusPacketSamples, parseOpusHead } from './opus-format.js';
import { Demuxer, InvalidMedia, type DemuxErrorEvent, type FrameEvent, type TracksEvent } from './demux.js';

export interface OggTracksEvent extends TracksEvent {
  /** Serial number of the Opus logical stream. */
  readonly serial: number;
  /** The OpusTags packet (vendor and user comments). */
  readonly opusTags: Buffer;
}

export interface OggFrameEvent extends FrameEvent {
  /** Duration from the packet's TOC, 48 kHz samples (0 if the packet is not valid Opus). */
  readonly samples: number;
  /** The page's granule position, on the last packet completed on a page. */
  readonly granule?: number;
}

export type OggEvent = OggTracksEvent | OggFrameEvent | DemuxErrorEvent;

export interface OggReaderOptions {
  /** Largest packet reassembled (Opus packets are at most ~61 kB). */
  readonly maxPacketBytes?: number;
}

export const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024;

/** Largest possible Ogg page: 27-byte header, 255 lacing values, 255 × 255 body bytes. */
const MAX_PAGE_BYTES = 27 + 255 + 255 * 255;

/** The track number given to the Opus stream in events (Ogg has serials, not track numbers). */
export const OGG_OPUS_TRACK = 1;

/**
 * Streaming Ogg/Opus reader. frame timeMs is the packet's start in the stream's granule timeline
 * (granule / 48), pre-skip not subtracted — the same convention as WebM block times, whose
 * CodecDelay is not subtracted either. The first audio page fixes the start (its granule minus
 * its packets' durations); later packets follow by TOC durations.
 */
export class OggReader extends Demuxer<OggTracksEvent | OggFrameEvent> {
  private readonly maxPacketBytes: number;
  private serial: number | undefined;
  private opusHead: Buffer | undefined;
  /** Packets of our stream seen so far, up to 2 (OpusHead, OpusTags). */
  private headerPackets = 0;
  private headerPages: Buffer[] = [];
  private headerBytes = 0;
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Whether the last page ended inside a packet (its last lacing value was 255). */
  private open = false;
  private position: number | undefined;
  private ended = false;
  /** In a chained stream after the first: its header packets are not the track's. */
  private chained = false;

  constructor(options: OggReaderOptions = {}) {
    super();
    const max = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    this.maxPacketBytes = Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_PACKET_BYTES;
  }

  /** Bytes held inside the reader (pending input, a partial packet, header pages). */
  get bufferedBytes(): number {
    return this.queue.length + this.partialLength + this.headerBytes;
  }

  protected release(): void {
    this.dropPartial();
    this.headerPages = [];
    this.headerBytes = 0;
  }

  protected parse(): void {
    const q = this.queue;
    for (;;) {
      const check = Math.min(q.length, 5);
      for (let i = 0; i < check; i++) {
        if (q.peek(i) !== [0x4f, 0x67, 0x67, 0x53, 0][i]) throw new InvalidMedia(i < 4 ? 'not an Ogg page (no OggS capture pattern)' : 'unknown Ogg version');
      }
      if (q.length < 27) return;
      const segments = q.peek(26);
      if (q.length < 27 + segments) return;
      let bodyLength = 0;
      for (let i = 0; i < segments; i++) bodyLength += q.peek(27 + i);
      if (q.length < 27 + segments + bodyLength) return;
      const page = q.take(27 + segments + bodyLength);
      if (oggPageCrc(page) !== page.readUInt32LE(22)) throw new InvalidMedia('Ogg page CRC mismatch');
      this.onPage(page);
    }
  }

  private onPage(page: Buffer): void {
    const type = page[5]!;
    const serial = page.readUInt32LE(14);
    const segments = page[26]!;
    const lacing = page.subarray(27, 27 + segments);
    const body = page.subarray(27 + segments);
    if (this.serial === undefined) {
      if ((type & 0x02) === 0) throw new InvalidMedia('no Ogg/Opus stream: the first pages have no OpusHead');
      // A BOS page of another stream (Skeleton…) is skipped; Opus's BOS page starts with OpusHead.
      if (body.toString('latin1', 0, 8) !== 'OpusHead') return;
      this.serial = serial;
    } else if (serial !== this.serial) {
      // pages of another logical stream beside ours (Skeleton…) are skipped; after our end, a BOS starts the next chain
      if ((type & 0x02) === 0 || !this.ended) return;
      if (body.toString('latin1', 0, 8) !== 'OpusHead') throw new InvalidMedia('a chained Ogg stream that is not Opus');
      this.serial = serial;
      this.ended = false;
      this.chained = true;
      this.headerPackets = 0;
      this.dropPartial();
    }
    if (this.ended) throw new InvalidMedia('Ogg page after the end of the stream');
    if (this.headerPackets < 2 && !this.chained) {
      this.headerPages.push(Buffer.from(page));
      this.headerBytes += page.length;
      // Bounded even against endless empty pages before OpusTags completes.
      if (this.headerBytes > this.maxPacketBytes + MAX_PAGE_BYTES) throw new InvalidMedia('Ogg/Opus headers too large');
    }

    const packets: Buffer[] = [];
    let pos = 0;
    let i = 0;
    if ((type & 0x01) === 0) {
      // A packet left open by the previous page was never finished: drop it (RFC 3533 §6).
      this.dropPartial();
    } else if (!this.open) {
      // Continues a packet we never saw the start of: drop the fragment.
      while (i < segments) {
        pos += lacing[i]!;
        if (lacing[i++]! < 255) break;
      }
    }
    for (; i < segments; i++) {
      const n = lacing[i]!;
      if (this.partialLength + n > this.maxPacketBytes) throw new InvalidMedia(`Ogg packet over ${this.maxPacketBytes} bytes`);
      this.partial.push(body.subarray(pos, pos + n));
      this.partialLength += n;
      pos += n;
      this.open = n === 255;
      if (!this.open) {
        packets.push(Buffer.concat(this.partial, this.partialLength));
        this.dropPartial();
      }
    }
    // Keep an unfinished packet's bytes, not the whole page (or the caller's chunk) they came in.
    if (this.open) this.partial = [Buffer.concat(this.partial, this.partialLength)];

    const granuleBig = page.readBigInt64LE(6);
    const granule = granuleBig === -1n ? undefined : Number(granuleBig);
    const audio: Buffer[] = [];
    for (const p of packets) {
      if (this.headerPackets === 0) {
        const head = parseOpusHead(p);
        if (head === undefined) throw new InvalidMedia('invalid OpusHead');
        if (this.chained && head.channels !== parseOpusHead(this.opusHead!)!.channels) {
          throw new InvalidMedia(`a chained Ogg/Opus stream changed from ${parseOpusHead(this.opusHead!)!.channels} to ${head.channels} channels`);
        }
        if (!this.chained) this.opusHead = p;
        this.headerPackets = 1;
      } else if (this.headerPackets === 1) {
        if (p.toString('latin1', 0, 8) !== 'OpusTags') throw new InvalidMedia('the second Ogg/Opus packet is not OpusTags');
        this.headerPackets = 2;
        if (!this.chained) this.emitTracks(serial, p);
      } else {
        audio.push(p);
      }
    }
    if (audio.length > 0) this.emitFrames(audio, granule);
    if ((type & 0x04) !== 0) this.ended = true;
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialLength = 0;
    this.open = false;
  }

  private emitTracks(serial: number, opusTags: Buffer): void {
    const head = parseOpusHead(this.opusHead!)!;
    const header = Buffer.concat(this.headerPages);
    this.headerPages = [];
    this.headerBytes = 0;
    this.events.push({
      type: 'tracks',
      tracks: [{
        number: OGG_OPUS_TRACK,
        type: 'audio',
        codec: 'opus',
        codecId: 'A_OPUS',
        codecPrivate: this.opusHead!,
        channels: head.channels,
        samplingRate: 48000,
        codecDelayNs: Math.round((head.preSkip * 1e9) / 48000),
      }],
      header,
      serial,
      opusTags,
    });
  }

  private emitFrames(packets: Buffer[], granule: number | undefined): void {
    const samples = packets.map((p) => opusPacketSamples(p));
    if (this.position === undefined) {
      const total = samples.reduce((a, b) => a + b, 0);
      this.position = granule === undefined ? 0 : Math.max(0, granule - total);
    }
    packets.forEach((data, k) => {
      const timeMs = this.position! / 48;
      this.position! += samples[k]!;
      const last = k === packets.length - 1;
      this.events.push(last && granule !== undefined
        ? { type: 'frame', track: OGG_OPUS_TRACK, timeMs, keyframe: true, data, samples: samples[k]!, granule }
        : { type: 'frame', track: OGG_OPUS_TRACK, timeMs, keyframe: true, data, samples: samples[k]! });
    });
  }
}
