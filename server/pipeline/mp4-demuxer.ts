// A streaming demuxer for fragmented MP4 (ISO BMFF), as MediaRecorder writes it: Safari's
// `audio/mp4` (AAC), Chromium's `audio/mp4;codecs=opus`, and files fragmented like them (ffmpeg
// `-movflags frag_keyframe+empty_moov+default_base_moof`). Pure, with the events of the other
// demuxers (demux.ts): `tracks` once the `moov` is read (Opus: codecPrivate is the OpusHead built
// from `dOps`; AAC: the AudioSpecificConfig from `esds`), a `cluster` at each `moof` (a place a
// restarted consumer can start, behind the header), a `frame` per sample.
//
// Samples are taken out of an `mdat` as its bytes arrive, so a file with one long fragment
// streams as it is sent. Memory is bounded by maxBoxBytes (a `moov`, a `moof`, one sample).
// An MP4 that is not fragmented (its sample tables in `moov`, no `moof`) can't be streamed and
// is refused with a clear error, as is anything that is not MP4.
import { Demuxer, InvalidMedia, type ClusterEvent, type FrameEvent, type Track, type TracksEvent } from './demux.js';
import { boxes, child, need, sampleEntry, type Box } from './mp4-boxes.js';

export { audioSpecificConfigFromEsds, opusHeadFromDops } from './mp4-boxes.js';

export const DEFAULT_MAX_BOX_BYTES = 16 * 1024 * 1024;
/** More samples than any fragment has (a minute of 2.5 ms Opus frames is 24,000). */
const MAX_SAMPLES_PER_RUN = 100_000;

/** Top-level boxes read whole (the rest are skipped as they stream past, or streamed: mdat). */
const READ_WHOLE = new Set(['ftyp', 'moov', 'moof']);
interface TrackState {
  readonly track: Track;
  timescale: number;
  /** Next decode time (in timescale units) when a fragment has no tfdt. */
  nextTime: number;
  defaultDuration: number;
  defaultSize: number;
  defaultFlags: number;
}

interface PendingSample {
  readonly track: number;
  /** Absolute stream offset of its first byte. */
  readonly offset: number;
  readonly size: number;
  readonly timeMs: number;
  readonly keyframe: boolean;
}

/**
 * Streaming fragmented-MP4 demuxer. push() returns the events the new bytes complete; after an
 * error event it is stopped and every later push() returns [].
 */
export class Mp4Demuxer extends Demuxer<TracksEvent | FrameEvent | ClusterEvent> {
  private readonly maxBoxBytes: number;
  private headerParts: Buffer[] | undefined = [];
  private tracks: Map<number, TrackState> | undefined;
  /** Bytes of the current box still to skip, or (in an mdat) still to come. */
  private skipRemaining = 0;
  private inMdat = false;
  private mdatRemaining = 0;
  private samples: PendingSample[] = [];
  private ftypSeen = false;

  constructor(options: { maxBoxBytes?: number } = {}) {
    super();
    const max = options.maxBoxBytes ?? DEFAULT_MAX_BOX_BYTES;
    this.maxBoxBytes = Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_BOX_BYTES;
  }

  get bufferedBytes(): number {
    return this.queue.length;
  }

  protected release(): void {
    this.headerParts = undefined;
    this.samples = [];
  }

  protected parse(): void {
    const q = this.queue;
    for (;;) {
      if (this.inMdat) {
        if (!this.readMdat()) return;
        continue;
      }
      if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, q.length);
        if (n === 0) return;
        this.keep(q.take(n));
        this.skipRemaining -= n;
        continue;
      }
      if (q.length < 8) return;
      let size = 0;
      for (let i = 0; i < 4; i++) size = size * 256 + q.peek(i);
      let type = '';
      for (let i = 4; i < 8; i++) type += String.fromCharCode(q.peek(i));
      if (!this.ftypSeen && type !== 'ftyp') throw new InvalidMedia('not MP4: the stream does not start with an ftyp box');
      let headerLength = 8;
      if (size === 1) {
        if (q.length < 16) return;
        size = 0;
        for (let i = 8; i < 16; i++) size = size * 256 + q.peek(i);
        headerLength = 16;
      }
      if (size === 0) {
        // a box that runs to the end of the stream: only an mdat makes sense so
        if (type !== 'mdat') throw new InvalidMedia(`MP4 box ${JSON.stringify(type)} without a size`);
        size = Number.POSITIVE_INFINITY;
      } else if (size < headerLength) {
        throw new InvalidMedia(`MP4 box ${JSON.stringify(type)} of impossible size ${size}`);
      }
      if (!/^[\x20-\x7e]{4}$/.test(type)) throw new InvalidMedia('not MP4: a box type that is not text');
      if (type === 'mdat') {
        if (this.tracks === undefined) throw new InvalidMedia('MP4 media data before its moov (not a streamable MP4)');
        if (this.samples.length === 0) throw new InvalidMedia('MP4 media data that no moof describes (an MP4 that is not fragmented can\'t be streamed)');
        q.skip(headerLength);
        this.inMdat = true;
        this.mdatRemaining = size - headerLength;
        continue;
      }
      if (READ_WHOLE.has(type)) {
        if (size > this.maxBoxBytes) throw new InvalidMedia(`MP4 ${type} box of ${size} bytes`);
        if (q.length < size) return;
        const offset = q.offset;
        const bytes = q.take(size);
        this.keep(bytes);
        this.onBox({ type, body: bytes.subarray(headerLength), offset });
        continue;
      }
      // anything else (free, udta, sidx, mfra…) streams past unread
      if (!Number.isFinite(size)) throw new InvalidMedia(`MP4 box ${JSON.stringify(type)} without a size`);
      this.skipRemaining = size;
    }
  }

  /** Header bytes are kept until the moov is complete (the header a restarted consumer gets). */
  private keep(bytes: Buffer): void {
    if (this.headerParts === undefined) return;
    this.headerParts.push(Buffer.from(bytes));
    if (this.headerParts.reduce((n, b) => n + b.length, 0) > this.maxBoxBytes) throw new InvalidMedia(`no moov within the first ${this.maxBoxBytes} bytes`);
  }

  private onBox(box: Box): void {
    switch (box.type) {
      case 'ftyp':
        if (this.ftypSeen) throw new InvalidMedia('a second ftyp (concatenated MP4 streams are not supported)');
        this.ftypSeen = true;
        return;
      case 'moov':
        if (this.tracks !== undefined) throw new InvalidMedia('a second moov');
        this.readMoov(box);
        return;
      case 'moof':
        if (this.tracks === undefined) throw new InvalidMedia('MP4 fragment before the moov');
        if (this.samples.length > 0) throw new InvalidMedia('MP4 fragment whose samples were not in the media data before it');
        this.events.push({ type: 'cluster', timeMs: this.fragmentTime(box), offset: box.offset });
        this.readMoof(box);
        return;
    }
  }

  private readMoov(moov: Box): void {
    const states = new Map<number, TrackState>();
    const tracks: Track[] = [];
    let fragmented = false;
    for (const b of boxes(moov.body, moov.offset + 8)) {
      if (b.type === 'mvex') {
        fragmented = true;
        for (const trex of boxes(b.body, b.offset + 8)) {
          if (trex.type !== 'trex') continue;
          need(trex.body, 24, 'trex');
          const s = states.get(trex.body.readUInt32BE(4));
          if (s === undefined) continue;
          s.defaultDuration = trex.body.readUInt32BE(12);
          s.defaultSize = trex.body.readUInt32BE(16);
          s.defaultFlags = trex.body.readUInt32BE(20);
        }
      }
      if (b.type !== 'trak') continue;
      const tkhd = child(b, 'tkhd');
      const mdia = child(b, 'mdia');
      if (tkhd === undefined || mdia === undefined) throw new InvalidMedia('MP4 track without tkhd or mdia');
      const id = tkhd.body[0] === 1 ? (need(tkhd.body, 24, 'tkhd'), tkhd.body.readUInt32BE(20)) : (need(tkhd.body, 16, 'tkhd'), tkhd.body.readUInt32BE(12));
      const mdhd = child(mdia, 'mdhd');
      const hdlr = child(mdia, 'hdlr');
      if (mdhd === undefined || hdlr === undefined) throw new InvalidMedia('MP4 track without mdhd or hdlr');
      const timescale = mdhd.body[0] === 1 ? (need(mdhd.body, 24, 'mdhd'), mdhd.body.readUInt32BE(20)) : (need(mdhd.body, 16, 'mdhd'), mdhd.body.readUInt32BE(12));
      need(hdlr.body, 12, 'hdlr');
      const handler = hdlr.body.toString('latin1', 8, 12);
      const stsd = child(child(child(mdia, 'minf') ?? mdia, 'stbl') ?? mdia, 'stsd');
      if (stsd === undefined || timescale === 0) continue;
      need(stsd.body, 8, 'stsd');
      const first = boxes(stsd.body.subarray(8), stsd.offset + 16).next();
      if (first.done === true) continue;
      const entry = sampleEntry(first.value, handler);
      if (entry === undefined) continue;
      const track: Track = { number: id, type: handler === 'soun' ? 'audio' : 'video', ...entry, ...(handler === 'soun' ? { samplingRate: timescale } : {}) };
      tracks.push(track);
      states.set(id, { track, timescale, nextTime: 0, defaultDuration: 0, defaultSize: 0, defaultFlags: 0 });
    }
    if (!fragmented) throw new InvalidMedia('an MP4 that is not fragmented can\'t be streamed (no mvex in its moov)');
    if (!tracks.some((t) => t.type === 'audio')) throw new InvalidMedia('the MP4 stream has no audio track');
    this.tracks = states;
    const header = Buffer.concat(this.headerParts ?? []);
    this.headerParts = undefined;
    this.events.push({ type: 'tracks', tracks, header });
  }

  /** The first track's tfdt time in ms (for the cluster event), 0 when there is none. */
  private fragmentTime(moof: Box): number {
    const traf = child(moof, 'traf');
    const tfhd = traf && child(traf, 'tfhd');
    const tfdt = traf && child(traf, 'tfdt');
    if (tfhd === undefined || tfdt === undefined || tfhd.body.length < 8) return 0;
    const s = this.tracks!.get(tfhd.body.readUInt32BE(4));
    if (s === undefined || tfdt.body.length < 8) return 0;
    const t = tfdt.body[0] === 1 ? (tfdt.body.length >= 12 ? Number(tfdt.body.readBigUInt64BE(4)) : 0) : tfdt.body.readUInt32BE(4);
    return (t / s.timescale) * 1000;
  }

  private readMoof(moof: Box): void {
    const samples: PendingSample[] = [];
    let previousEnd = moof.offset;
    for (const traf of boxes(moof.body, moof.offset + 8)) {
      if (traf.type !== 'traf') continue;
      const tfhd = child(traf, 'tfhd');
      if (tfhd === undefined) throw new InvalidMedia('MP4 traf without tfhd');
      need(tfhd.body, 8, 'tfhd');
      const flags = tfhd.body.readUInt32BE(0) & 0xffffff;
      const s = this.tracks!.get(tfhd.body.readUInt32BE(4));
      let pos = 8;
      const field = (present: boolean, bytes: 4 | 8): number | undefined => {
        if (!present) return undefined;
        need(tfhd.body, pos + bytes, 'tfhd');
        const v = bytes === 8 ? Number(tfhd.body.readBigUInt64BE(pos)) : tfhd.body.readUInt32BE(pos);
        pos += bytes;
        return v;
      };
      const baseOffset = field((flags & 0x1) !== 0, 8);
      field((flags & 0x2) !== 0, 4);
      const duration = field((flags & 0x8) !== 0, 4) ?? s?.defaultDuration ?? 0;
      const size = field((flags & 0x10) !== 0, 4) ?? s?.defaultSize ?? 0;
      const sampleFlags = field((flags & 0x20) !== 0, 4) ?? s?.defaultFlags ?? 0;
      // ISO 14496-12 §8.8.7: the base is explicit, or the moof (default-base-is-moof, or the first
      // traf), or where the previous traf's data ended
      let dataAt = baseOffset ?? ((flags & 0x20000) !== 0 || previousEnd === moof.offset ? moof.offset : previousEnd);
      const base = dataAt;
      const tfdt = child(traf, 'tfdt');
      if (s !== undefined && tfdt !== undefined) {
        need(tfdt.body, 8, 'tfdt');
        s.nextTime = tfdt.body[0] === 1 ? (need(tfdt.body, 12, 'tfdt'), Number(tfdt.body.readBigUInt64BE(4))) : tfdt.body.readUInt32BE(4);
      }
      for (const trun of boxes(traf.body, traf.offset + 8)) {
        if (trun.type !== 'trun') continue;
        const b = trun.body;
        need(b, 8, 'trun');
        const tf = b.readUInt32BE(0) & 0xffffff;
        const count = b.readUInt32BE(4);
        let p = 8;
        if ((tf & 0x1) !== 0) { need(b, p + 4, 'trun'); dataAt = base + b.readInt32BE(p); p += 4; }
        let firstFlags: number | undefined;
        if ((tf & 0x4) !== 0) { need(b, p + 4, 'trun'); firstFlags = b.readUInt32BE(p); p += 4; }
        const per = [0x100, 0x200, 0x400, 0x800].filter((bit) => (tf & bit) !== 0).length * 4;
        if (count > MAX_SAMPLES_PER_RUN || count * per > b.length - p) throw new InvalidMedia('MP4 trun longer than its box');
        for (let i = 0; i < count; i++) {
          const d = (tf & 0x100) !== 0 ? b.readUInt32BE((p += 4) - 4) : duration;
          const sz = (tf & 0x200) !== 0 ? b.readUInt32BE((p += 4) - 4) : size;
          let fl = (tf & 0x400) !== 0 ? b.readUInt32BE((p += 4) - 4) : sampleFlags;
          if ((tf & 0x800) !== 0) p += 4;
          if (i === 0 && firstFlags !== undefined) fl = firstFlags;
          if (sz > this.maxBoxBytes) throw new InvalidMedia(`MP4 sample of ${sz} bytes`);
          if (s !== undefined && sz > 0) {
            samples.push({ track: s.track.number, offset: dataAt, size: sz, timeMs: (s.nextTime / s.timescale) * 1000, keyframe: (fl & 0x10000) === 0 });
          }
          if (s !== undefined) s.nextTime += d;
          dataAt += sz;
        }
      }
      previousEnd = dataAt;
    }
    samples.sort((a, b) => a.offset - b.offset);
    const behind = samples.find((x) => x.offset < this.queue.offset);
    if (behind !== undefined) throw new InvalidMedia('MP4 sample data before its moof');
    this.samples = samples;
  }

  /** Take samples out of the mdat as its bytes arrive; false when more input is needed. */
  private readMdat(): boolean {
    const q = this.queue;
    if (this.mdatRemaining <= 0) {
      this.inMdat = false;
      if (this.samples.length > 0) throw new InvalidMedia('MP4 samples beyond the end of their media data');
      return true;
    }
    const next = this.samples[0];
    if (next === undefined) {
      // the rest of the mdat carries nothing we were told about
      const n = Math.min(q.length, this.mdatRemaining);
      if (n === 0) return false;
      q.skip(n);
      this.mdatRemaining -= n;
      return true;
    }
    if (next.offset + next.size > q.offset + this.mdatRemaining) throw new InvalidMedia('MP4 sample beyond the end of its media data');
    if (q.offset < next.offset) {
      const n = Math.min(q.length, next.offset - q.offset);
      if (n === 0) return false;
      q.skip(n);
      this.mdatRemaining -= n;
      return true;
    }
    if (q.offset > next.offset) throw new InvalidMedia('overlapping MP4 samples');
    if (q.length < next.size) return false;
    const data = Buffer.from(q.take(next.size));
    this.mdatRemaining -= next.size;
    this.samples.shift();
    this.events.push({ type: 'frame', track: next.track, timeMs: next.timeMs, keyframe: next.keyframe, data });
    return true;
  }
}
