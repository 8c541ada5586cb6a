// One connection's media stream, turned into the broadcast's Opus packets. Opus sent in WebM, Ogg
// or MP4 is demuxed here, packets unchanged, returned by push(). Any other audio (AAC in MP4,
// ADTS, MP3, Vorbis, FLAC) goes to a normaliser ffmpeg (input-normaliser.ts) whose packets arrive
// later through `out` — only when something needs Opus (a broadcast of MP3 to MP3 mounts only
// runs none). The first bytes must be what the type announced; until the stream header says which
// codec it carries, the bytes are held (bounded). Also kept: the raw stream header and Cluster /
// fragment offsets, for an ffmpeg that reads the upload as sent and must restart at one. A
// broadcaster who reconnects starts a new session; the broadcast carries on.
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import { adtsConfigFromAsc, adtsFrame, type AdtsConfig } from '../pipeline/adts.js';
import { InvalidMedia, type Track } from '../pipeline/demux.js';
import { oggAudioCodec, opusSourceFor, type OpusSource } from '../pipeline/input-kinds.js';
import { checkMagic, MAGIC_BYTES, type AudioCodec, type InputMedia } from '../pipeline/media-type.js';
import { Mp4Demuxer } from '../pipeline/mp4-demuxer.js';
import { OggReader } from '../pipeline/ogg-reader.js';
import { WebmDemuxer } from '../pipeline/webm-demuxer.js';
import type { Normaliser, NormaliserFactory, NormaliserOutput } from './input-normaliser.js';

const NOTHING = Buffer.alloc(0);

/** Bytes held while the stream header is still to say what it carries. */
const MAX_UNDECIDED_BYTES = 1024 * 1024;

export interface SessionOutput {
  /** The OpusHead, once, when the stream header is complete (demuxed Opus only). */
  readonly opusHead?: Buffer;
  /** Opus packets completed by this chunk, in order. */
  readonly opus: Buffer[];
  /** Offsets (within this chunk) where a Cluster / fragment starts: places a raw consumer can restart at. */
  readonly syncOffsets: number[];
  /** Set when the stream is not valid media. */
  readonly error?: string;
  /** The normaliser's stdin is full: pause the broadcaster. */
  readonly full?: boolean;
}

export interface SessionOptions {
  /** Whether anything reads Opus (else no normaliser runs). */
  readonly needsOpus: boolean;
  readonly normaliser: NormaliserFactory;
  /** Where the normaliser's packets go. */
  readonly out: NormaliserOutput;
  readonly ffmpegPath: string;
  readonly maxQueueBytes: number;
  readonly clock: Clock;
  readonly log: Logger;
}

type Demux = WebmDemuxer | OggReader | Mp4Demuxer;

export class InputSession {
  private demuxer: Demux | undefined;
  /** How the Opus comes, once the stream has said which codec it carries. */
  private source: OpusSource | undefined;
  private audioTrack: number | undefined;
  private adts: AdtsConfig | undefined;
  private normaliser: Normaliser | undefined;
  /** Raw bytes held until the codec is known. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The raw stream header (EBML..Tracks, the Ogg header pages, ftyp..moov) once known. */
  header: Buffer | undefined;
  /** Bytes pushed so far. */
  offset = 0;
  private failed = false;

  constructor(readonly input: InputMedia, private readonly o: SessionOptions) {
    if (input.container === 'webm') this.demuxer = new WebmDemuxer({ audioFramesOnly: true });
    else if (input.container === 'mp4') this.demuxer = new Mp4Demuxer();
  }

  push(chunk: Buffer): SessionOutput {
    const start = this.offset;
    this.offset += chunk.length;
    const out = { opus: [] as Buffer[], syncOffsets: [] as number[] };
    if (this.failed || chunk.length === 0) return out;
    try {
      let opusHead: Buffer | undefined;
      if (this.demuxer === undefined && this.source !== undefined) {
        // a stream the normaliser reads as sent
        this.normalise(chunk);
      } else if (this.demuxer === undefined) {
        // Ogg, MP3, ADTS, FLAC: the first bytes say what the stream carries
        this.hold(chunk);
        const codec = this.sniff();
        if (codec === undefined) return out;
        const held = this.release();
        if (this.decide(codec) === 'demux') {
          this.demuxer = new OggReader();
          opusHead = this.demux(held, 0, out);
        } else {
          this.normalise(held);
        }
      } else {
        if (this.source === undefined || this.source.kind === 'normalise') this.hold(chunk);
        opusHead = this.demux(chunk, start, out);
        if (this.source?.kind === 'normalise' && !this.source.frames) this.normalise(this.release());
        else if (this.source !== undefined) this.release();
      }
      const full = this.normaliser?.needsDrain === true;
      return { ...out, ...(opusHead !== undefined ? { opusHead } : {}), ...(full ? { full } : {}) };
    } catch (err) {
      this.failed = true;
      this.release();
      const detail = err instanceof InvalidMedia || err instanceof IcewireError ? (err instanceof IcewireError ? err.detail ?? err.message : err.message) : String(err);
      return { ...out, error: detail };
    }
  }

  private hold(chunk: Buffer): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > MAX_UNDECIDED_BYTES) throw new InvalidMedia(`no audio track the daemon can use in the first ${MAX_UNDECIDED_BYTES} bytes`);
  }

  private release(): Buffer {
    // nothing held (the usual case once the codec is known): no new Buffer per chunk on the hot path
    if (this.held.length === 0) return NOTHING;
    const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return all;
  }

  /** For Ogg and bare streams: the codec once the first bytes tell, undefined while they can't yet. */
  private sniff(): AudioCodec | undefined {
    const head = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    const magic = checkMagic(this.input.container, head.subarray(0, MAGIC_BYTES));
    if (magic === 'bad') throw new InvalidMedia(`the data is not ${this.input.container.toUpperCase()} (its first bytes do not match ${this.input.mime})`);
    if (magic === 'need-more') return undefined;
    if (this.input.container !== 'ogg') return this.input.audio;
    const codec = oggAudioCodec(head);
    if (codec === 'need-more') return undefined;
    if (codec === undefined) throw new InvalidMedia('an Ogg stream that carries neither Opus, Vorbis nor FLAC');
    return codec;
  }

  /** How Opus is made from `codec`; throws when that is not possible or not what was announced. */
  private decide(codec: AudioCodec): OpusSource['kind'] {
    // a type without `codecs` only names the container (audio/webm may carry Vorbis from a source client)
    const announced = /codecs=/i.test(this.input.mime) ? this.input.audio : undefined;
    if (announced !== undefined && announced !== codec) {
      throw new InvalidMedia(`the stream carries ${codec} but was announced as ${this.input.mime}`);
    }
    const source = opusSourceFor(this.input.container, codec);
    if (source === undefined) throw new InvalidMedia(`${codec} audio in ${this.input.container} is not supported`);
    this.source = source;
    return source.kind;
  }

  /** Feed a demuxer; Opus packets into `out`, the normaliser's frames to it. Returns the OpusHead when it completes. */
  private demux(chunk: Buffer, start: number, out: { opus: Buffer[]; syncOffsets: number[] }): Buffer | undefined {
    let opusHead: Buffer | undefined;
    for (const ev of this.demuxer!.push(chunk)) {
      switch (ev.type) {
        case 'tracks': {
          this.header = ev.header;
          const track = pickAudio(ev.tracks);
          if (track === undefined) throw new InvalidMedia('the stream has no Opus, AAC or Vorbis audio track');
          this.audioTrack = track.number;
          const kind = this.decide(track.codec as AudioCodec);
          if (kind === 'demux') {
            if (track.codecPrivate === undefined) throw new InvalidMedia('the Opus track has no OpusHead');
            opusHead = track.codecPrivate;
          } else if (this.source?.kind === 'normalise' && this.source.frames) {
            if (track.codecPrivate === undefined) throw new InvalidMedia('the AAC track has no AudioSpecificConfig');
            this.adts = adtsConfigFromAsc(track.codecPrivate);
            this.startNormaliser();
          }
          break;
        }
        case 'frame':
          if (ev.track !== this.audioTrack) break;
          if (this.adts !== undefined) this.normaliser?.write(adtsFrame(this.adts, ev.data));
          else if (this.source?.kind === 'demux') out.opus.push(ev.data);
          break;
        case 'cluster':
          // offsets before this chunk can't be used any more (their bytes are gone)
          if (ev.offset >= start) out.syncOffsets.push(ev.offset - start);
          break;
        case 'error':
          throw new InvalidMedia(ev.detail);
      }
    }
    return opusHead;
  }

  /** Upload bytes as sent into the normaliser (started on the first). */
  private normalise(data: Buffer): void {
    this.startNormaliser();
    if (data.length > 0) this.normaliser?.write(data);
  }

  private startNormaliser(): void {
    if (this.normaliser !== undefined || !this.o.needsOpus || this.source?.kind !== 'normalise') return;
    this.o.log.info('the upload is not Opus: an ffmpeg makes Opus of it', { mime: this.input.mime, demuxer: this.source.demuxer });
    this.normaliser = this.o.normaliser({
      demuxer: this.source.demuxer, ffmpegPath: this.o.ffmpegPath, logger: this.o.log, maxQueueBytes: this.o.maxQueueBytes, clock: this.o.clock, output: this.o.out,
    });
  }

  get needsDrain(): boolean {
    return this.normaliser?.needsDrain === true;
  }

  resume(): void {
    this.normaliser?.resume();
  }

  /** The connection's stream ended normally: the normaliser's last packets come out. */
  async finish(): Promise<void> {
    await this.normaliser?.finish();
  }

  /** A new connection replaces this one: nothing more of this session is wanted. */
  abandon(): void {
    this.normaliser?.abandon();
  }

  async kill(): Promise<void> {
    await this.normaliser?.kill();
  }

  get pids(): number[] {
    return this.normaliser?.pids ?? [];
  }
}

/** The audio track to use: the first Opus one (no process needed), else the first the daemon can normalise. */
function pickAudio(tracks: readonly Track[]): Track | undefined {
  const audio = tracks.filter((t) => t.type === 'audio');
  return audio.find((t) => t.codec === 'opus') ?? audio.find((t) => t.codec === 'aac' || t.codec === 'vorbis');
}
