// A streaming Matroska/WebM demuxer for MediaRecorder output. Pure: bytes in, events out, no I/O,
// no timers. It keeps only what it must (an element header, the one block or header element being
// read, and the stream header until Tracks is complete), so memory is bounded by maxElementBytes
// whatever the input. Live recordings use unknown-size Segment and Cluster elements; an
// unknown-size Cluster ends where the next Segment-level element (Cluster, Cues, Tags…) begins.
// On invalid input it reports one error event and stops; it never throws.
import {
  CODECS, HEADER_ELEMENT_CAP, ID, SEGMENT_CHILDREN, UNKNOWN, childrenOf, readFloat, readString, readUint, readVint,
  type Container, type ElementHeader,
} from './ebml.js';
import { Demuxer, InvalidMedia, type ClusterEvent, type FrameEvent, type Track, type TracksEvent } from './demux.js';

export type { ClusterEvent, Codec, DemuxErrorEvent, DemuxEvent, FrameEvent, Track, TracksEvent } from './demux.js';

export interface WebmDemuxerOptions {
  /** Largest element read whole (block, Tracks…) or skipped, and largest stream header. */
  readonly maxElementBytes?: number;
  /**
   * Frame events for audio tracks only: video SimpleBlocks are skipped as they stream past, never
   * joined or copied (the daemon passes the upload's video on as bytes; it only needs the Opus).
   */
  readonly audioFramesOnly?: boolean;
}

export const DEFAULT_MAX_ELEMENT_BYTES = 8 * 1024 * 1024;

/**
 * Streaming WebM demuxer. push() returns the events the new bytes complete; after an error event
 * the demuxer is stopped and every later push() returns [].
 */
export class WebmDemuxer extends Demuxer<TracksEvent | FrameEvent | ClusterEvent> {
  private readonly maxElementBytes: number;
  private readonly stack: Container[] = [];
  private magicChecked = 0;
  private ebmlSeen = false;
  private segmentSeen = false;
  private tracks: Map<number, Track> | undefined;
  /** Stream bytes kept until Tracks is complete (the header handed to restarted consumers). */
  private headerParts: Buffer[] | undefined = [];
  private headerBytes = 0;
  private skipRemaining = 0;
  private timecodeScaleNs = 1_000_000;
  private clusterOffset = 0;
  private clusterTimecode: number | undefined;

  /** Video SimpleBlocks are skipped unread (no frame events for them). */
  private readonly audioFramesOnly: boolean;

  constructor(options: WebmDemuxerOptions = {}) {
    super();
    this.audioFramesOnly = options.audioFramesOnly === true;
    const max = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
    this.maxElementBytes = Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_ELEMENT_BYTES;
  }

  /** Bytes held inside the demuxer (pending input and the stream header kept so far). */
  get bufferedBytes(): number {
    return this.queue.length + this.headerBytes;
  }

  protected release(): void {
    this.headerParts = undefined;
    this.headerBytes = 0;
  }

  /** Consume n available bytes, keeping them while the header is being collected. */
  private consume(n: number): Buffer | undefined {
    if (this.headerParts === undefined) {
      this.queue.skip(n);
      return undefined;
    }
    const bytes = Buffer.from(this.queue.take(n));
    this.headerParts.push(bytes);
    this.headerBytes += n;
    if (this.headerBytes > this.maxElementBytes) {
      throw new InvalidMedia(`no Tracks within the first ${this.maxElementBytes} bytes`);
    }
    return bytes;
  }

  /** Consume n available bytes and return them; may share the caller's memory (copy to keep). */
  private read(n: number): Buffer {
    return this.headerParts === undefined ? this.queue.take(n) : this.consume(n)!;
  }

  protected parse(): void {
    const q = this.queue;
    if (this.magicChecked < 4) {
      const magic = [0x1a, 0x45, 0xdf, 0xa3];
      while (this.magicChecked < 4 && this.magicChecked < q.length) {
        if (q.peek(this.magicChecked) !== magic[this.magicChecked]) throw new InvalidMedia('not WebM: no EBML magic');
        this.magicChecked++;
      }
      if (this.magicChecked < 4) return;
    }
    for (;;) {
      if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, q.length);
        if (n === 0) return;
        this.consume(n);
        this.skipRemaining -= n;
        continue;
      }
      while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.end <= q.offset) this.popContainer();
      const h = this.readHeader();
      if (h === undefined) return;
      // An unknown-size element ends where an element that can't be its child begins.
      for (;;) {
        const top = this.stack[this.stack.length - 1];
        if (top === undefined || !top.unknownSize || this.isChild(top.id, h.id)) break;
        this.popContainer();
      }
      const parent = this.stack[this.stack.length - 1];
      if (parent !== undefined && h.size !== UNKNOWN && q.offset + h.headerLength + h.size > parent.end) {
        throw new InvalidMedia(`element 0x${h.id.toString(16)} overruns its parent`);
      }
      if (!this.dispatch(parent?.id, h)) return;
    }
  }

  private isChild(parentId: number, id: number): boolean {
    if (id === ID.EBML || id === ID.Segment) return false;
    if (parentId === ID.Cluster) return !SEGMENT_CHILDREN.has(id);
    return true;
  }

  private popContainer(): void {
    const c = this.stack.pop()!;
    if (c.id === ID.Cluster) this.clusterTimecode = undefined;
  }

  /** Element header at the front of the queue, without consuming it; undefined if incomplete. */
  private readHeader(): ElementHeader | undefined {
    const q = this.queue;
    if (q.length < 1) return undefined;
    const first = q.peek(0);
    if (first < 0x10) throw new InvalidMedia('invalid element ID');
    const idLength = Math.clz32(first) - 23;
    if (q.length < idLength + 1) return undefined;
    let id = 0;
    for (let i = 0; i < idLength; i++) id = id * 256 + q.peek(i);
    const sizeFirst = q.peek(idLength);
    if (sizeFirst === 0) throw new InvalidMedia(`invalid size of element 0x${id.toString(16)}`);
    const sizeLength = Math.clz32(sizeFirst) - 23;
    if (q.length < idLength + sizeLength) return undefined;
    let size = sizeFirst & (0xff >> sizeLength);
    let allOnes = size === 0xff >> sizeLength;
    for (let i = 1; i < sizeLength; i++) {
      const b = q.peek(idLength + i);
      size = size * 256 + b;
      if (b !== 0xff) allOnes = false;
    }
    return { id, size: allOnes ? UNKNOWN : size, headerLength: idLength + sizeLength };
  }

  /** Handle one element whose header is at the front; false if more bytes are needed. */
  private dispatch(parentId: number | undefined, h: ElementHeader): boolean {
    const q = this.queue;
    if (h.id === ID.Segment && parentId === undefined) {
      if (!this.ebmlSeen) throw new InvalidMedia('Segment before the EBML header');
      if (this.segmentSeen) throw new InvalidMedia('a second Segment (concatenated streams are not supported)');
      this.segmentSeen = true;
      this.enter(h);
      return true;
    }
    if (h.id === ID.Cluster && parentId === ID.Segment) {
      if (this.tracks === undefined) throw new InvalidMedia('Cluster before Tracks');
      this.clusterOffset = q.offset;
      this.clusterTimecode = undefined;
      this.enter(h);
      return true;
    }
    if (h.size === UNKNOWN) throw new InvalidMedia(`unknown size on element 0x${h.id.toString(16)}`);
    if (h.size > this.maxElementBytes) {
      throw new InvalidMedia(`element 0x${h.id.toString(16)} of ${h.size} bytes exceeds the ${this.maxElementBytes}-byte limit`);
    }
    // Header elements are small in every real recording: a bogus size there is garbage, and
    // must be called so at once rather than waited for.
    const cap = HEADER_ELEMENT_CAP.get(h.id);
    if (cap !== undefined && h.size > cap) {
      throw new InvalidMedia(`element 0x${h.id.toString(16)} of ${h.size} bytes is larger than any real one (${cap})`);
    }
    const skip = this.audioFramesOnly && parentId === ID.Cluster && h.id === ID.SimpleBlock ? this.isVideoBlock(h) : false;
    if (skip === undefined) return false;
    const whole = !skip && this.wantsWhole(parentId, h.id);
    if (!whole) {
      this.consume(h.headerLength);
      this.skipRemaining = h.size;
      return true;
    }
    if (q.length < h.headerLength + h.size) return false;
    this.consume(h.headerLength);
    const body = this.read(h.size);
    this.handleWhole(parentId, h.id, body);
    return true;
  }

  /**
   * Whether the SimpleBlock at the front belongs to a video track, from its track number (the
   * VINT its body starts with) without reading the block; undefined until those bytes are here.
   */
  private isVideoBlock(h: ElementHeader): boolean | undefined {
    const q = this.queue;
    if (q.length < h.headerLength + 1) return undefined;
    const first = q.peek(h.headerLength);
    const len = Math.clz32(first) - 23;
    if (len < 1 || len > 8) return false; // not a VINT: onBlock() says so
    if (q.length < h.headerLength + len) return undefined;
    let track = first & (0xff >> len);
    for (let i = 1; i < len; i++) track = track * 256 + q.peek(h.headerLength + i);
    return this.tracks?.get(track)?.type === 'video';
  }

  private enter(h: ElementHeader): void {
    const parent = this.stack[this.stack.length - 1];
    const start = this.queue.offset + h.headerLength;
    const own = h.size === UNKNOWN ? Infinity : start + h.size;
    this.stack.push({ id: h.id, end: Math.min(own, parent?.end ?? Infinity), unknownSize: h.size === UNKNOWN });
    this.consume(h.headerLength);
  }

  private wantsWhole(parentId: number | undefined, id: number): boolean {
    if (parentId === undefined) {
      if (id === ID.EBML) return true;
      if (!this.ebmlSeen) throw new InvalidMedia('stream does not start with an EBML header');
      return false;
    }
    if (parentId === ID.Segment) return id === ID.Info || (id === ID.Tracks && this.tracks === undefined);
    if (parentId === ID.Cluster) return id === ID.Timecode || id === ID.SimpleBlock || id === ID.BlockGroup;
    return false;
  }

  private handleWhole(parentId: number | undefined, id: number, body: Buffer): void {
    if (parentId === undefined) return this.onEbmlHeader(body);
    if (id === ID.Info) return this.onInfo(body);
    if (id === ID.Tracks) return this.onTracks(body);
    if (id === ID.Timecode) {
      if (body.length > 8) throw new InvalidMedia('Cluster Timecode longer than 8 bytes');
      if (this.clusterTimecode !== undefined) return;
      this.clusterTimecode = readUint(body);
      this.events.push({ type: 'cluster', timeMs: this.toMs(this.clusterTimecode), offset: this.clusterOffset });
      return;
    }
    if (this.clusterTimecode === undefined) throw new InvalidMedia('block before the Cluster Timecode');
    if (id === ID.SimpleBlock) return this.onBlock(body, undefined, undefined);
    // BlockGroup: a Block, keyframe unless it references another block.
    let block: Buffer | undefined;
    let references = false;
    let duration: number | undefined;
    for (const c of childrenOf(body, 'BlockGroup')) {
      if (c.id === ID.Block) block = c.data;
      else if (c.id === ID.ReferenceBlock) references = true;
      else if (c.id === ID.BlockDuration && c.data.length <= 8) duration = readUint(c.data);
    }
    if (block === undefined) throw new InvalidMedia('BlockGroup without a Block');
    this.onBlock(block, !references, duration);
  }

  private onEbmlHeader(body: Buffer): void {
    if (this.ebmlSeen) throw new InvalidMedia('a second EBML header (concatenated streams are not supported)');
    let docType: string | undefined;
    for (const c of childrenOf(body, 'EBML header')) if (c.id === ID.DocType) docType = readString(c.data);
    if (docType !== 'webm' && docType !== 'matroska') throw new InvalidMedia(`DocType ${JSON.stringify(docType ?? null)} is not webm or matroska`);
    this.ebmlSeen = true;
  }

  private onInfo(body: Buffer): void {
    for (const c of childrenOf(body, 'Info')) {
      if (c.id !== ID.TimecodeScale) continue;
      const scale = c.data.length <= 8 ? readUint(c.data) : 0;
      if (scale <= 0) throw new InvalidMedia('TimecodeScale is 0');
      this.timecodeScaleNs = scale;
    }
  }

  private onTracks(body: Buffer): void {
    const tracks: Track[] = [];
    for (const entry of childrenOf(body, 'Tracks')) {
      if (entry.id !== ID.TrackEntry) continue;
      const t: { -readonly [K in keyof Track]?: Track[K] } = {};
      let trackType = 0;
      for (const c of childrenOf(entry.data, 'TrackEntry')) {
        switch (c.id) {
          case ID.TrackNumber: t.number = readUint(c.data.subarray(0, 8)); break;
          case ID.TrackType: trackType = readUint(c.data.subarray(0, 8)); break;
          case ID.CodecID: t.codecId = readString(c.data); break;
          case ID.CodecPrivate: t.codecPrivate = Buffer.from(c.data); break;
          case ID.CodecDelay: t.codecDelayNs = readUint(c.data.subarray(0, 8)); break;
          case ID.SeekPreRoll: t.seekPreRollNs = readUint(c.data.subarray(0, 8)); break;
          case ID.DefaultDuration: t.defaultDurationNs = readUint(c.data.subarray(0, 8)); break;
          case ID.ContentEncodings: throw new InvalidMedia('ContentEncodings (compressed or encrypted tracks) are not supported');
          case ID.Audio:
            for (const a of childrenOf(c.data, 'Audio')) {
              if (a.id === ID.SamplingFrequency) t.samplingRate = readFloat(a.data);
              else if (a.id === ID.Channels) t.channels = readUint(a.data.subarray(0, 8));
            }
            break;
          case ID.Video:
            for (const v of childrenOf(c.data, 'Video')) {
              if (v.id === ID.PixelWidth) t.width = readUint(v.data.subarray(0, 8));
              else if (v.id === ID.PixelHeight) t.height = readUint(v.data.subarray(0, 8));
            }
            break;
          default: break;
        }
      }
      if (t.number === undefined || t.number === 0) throw new InvalidMedia('TrackEntry without a TrackNumber');
      if (trackType !== 1 && trackType !== 2) continue;
      const codecId = t.codecId ?? '';
      tracks.push({ ...t, number: t.number, type: trackType === 1 ? 'video' : 'audio', codecId, codec: CODECS[codecId] ?? codecId });
    }
    this.tracks = new Map(tracks.map((t) => [t.number, t]));
    const header = Buffer.concat(this.headerParts ?? []);
    this.headerParts = undefined;
    this.headerBytes = 0;
    this.events.push({ type: 'tracks', tracks, header });
  }

  private toMs(timecode: number): number {
    return this.timecodeScaleNs === 1_000_000 ? timecode : (timecode * this.timecodeScaleNs) / 1_000_000;
  }

  /** A (Simple)Block body: split its lacing and emit one frame per laced frame. */
  private onBlock(body: Buffer, groupKeyframe: boolean | undefined, duration: number | undefined): void {
    const track = readVint(body, 0);
    if (track === undefined || track.allOnes) throw new InvalidMedia('bad track number in a block');
    let pos = track.length;
    if (pos + 3 > body.length) throw new InvalidMedia('truncated block header');
    const relative = body.readInt16BE(pos);
    const flags = body[pos + 2]!;
    pos += 3;
    const sizes = this.laceSizes(body, pos, (flags >> 1) & 3);
    pos = sizes.start;
    if (!this.tracks!.has(track.value)) return;
    const timeMs = this.toMs(this.clusterTimecode! + relative);
    const keyframe = groupKeyframe ?? (flags & 0x80) !== 0;
    const durationMs = duration === undefined ? undefined : this.toMs(duration);
    for (const size of sizes.sizes) {
      // a view, not a copy: a frame is passed on at once (an Ogg page copies it), and most are
      // video frames an audio rendition never looks at
      const data = body.subarray(pos, pos + size);
      pos += size;
      this.events.push(durationMs === undefined
        ? { type: 'frame', track: track.value, timeMs, keyframe, data }
        : { type: 'frame', track: track.value, timeMs, keyframe, data, durationMs });
    }
  }

  /** Frame sizes of a block's payload starting at pos (after the flags byte). */
  private laceSizes(body: Buffer, pos: number, lacing: number): { sizes: number[]; start: number } {
    if (lacing === 0) return { sizes: [body.length - pos], start: pos };
    if (pos >= body.length) throw new InvalidMedia('truncated lacing header');
    const count = body[pos]! + 1;
    pos++;
    const sizes: number[] = [];
    let total = 0;
    if (lacing === 1) {
      // Xiph: each size is a run of 255s plus a final byte below 255.
      for (let i = 0; i < count - 1; i++) {
        let size = 0;
        let b: number;
        do {
          if (pos >= body.length) throw new InvalidMedia('truncated Xiph lacing');
          b = body[pos++]!;
          size += b;
        } while (b === 255);
        sizes.push(size);
        total += size;
      }
    } else if (lacing === 3) {
      // EBML: the first size as a VINT, the others as signed differences from the previous size.
      let prev = 0;
      for (let i = 0; i < count - 1; i++) {
        const v = readVint(body, pos);
        if (v === undefined) throw new InvalidMedia('bad EBML lacing');
        pos += v.length;
        const size = i === 0 ? v.value : prev + v.value - (2 ** (7 * v.length - 1) - 1);
        if (size < 0) throw new InvalidMedia('negative EBML lace size');
        sizes.push(size);
        total += size;
        prev = size;
      }
    } else {
      const rest = body.length - pos;
      if (rest % count !== 0) throw new InvalidMedia('fixed-size lacing does not divide the block');
      return { sizes: new Array<number>(count).fill(rest / count), start: pos };
    }
    const last = body.length - pos - total;
    if (last < 0) throw new InvalidMedia('laced frames overrun the block');
    sizes.push(last);
    return { sizes, start: pos };
  }
}
