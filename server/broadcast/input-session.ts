// One connection's media stream, demuxed: the Opus packets (for the renditions the daemon writes
// itself), the raw stream header and Cluster offsets (to restart an ffmpeg that needs the raw
// WebM at a Cluster boundary). A broadcaster who reconnects starts a new session; the broadcast
// carries on.
import type { InputMedia } from '../pipeline/media-type.js';
import { OggReader } from '../pipeline/ogg-reader.js';
import { WebmDemuxer } from '../pipeline/webm-demuxer.js';

export interface SessionOutput {
  /** The OpusHead, once, when the stream header is complete. */
  readonly opusHead?: Buffer;
  /** Opus packets completed by this chunk, in order. */
  readonly opus: Buffer[];
  /** Offsets (within this chunk) where a Cluster starts: places a raw consumer can restart at. */
  readonly syncOffsets: number[];
  /** Set when the stream is not valid media. */
  readonly error?: string;
}

export class InputSession {
  private readonly webm: WebmDemuxer | undefined;
  private readonly ogg: OggReader | undefined;
  private audioTrack: number | undefined;
  /** The raw stream header (EBML..Tracks, or the Ogg header pages) once known. */
  header: Buffer | undefined;
  /** Bytes pushed so far. */
  offset = 0;
  private failed = false;

  constructor(readonly input: InputMedia) {
    if (input.container === 'webm') this.webm = new WebmDemuxer({ audioFramesOnly: true });
    else this.ogg = new OggReader();
  }

  push(chunk: Buffer): SessionOutput {
    const start = this.offset;
    this.offset += chunk.length;
    if (this.failed) return { opus: [], syncOffsets: [] };
    const events = this.webm !== undefined ? this.webm.push(chunk) : this.ogg!.push(chunk);
    const opus: Buffer[] = [];
    const syncOffsets: number[] = [];
    let opusHead: Buffer | undefined;
    for (const ev of events) {
      switch (ev.type) {
        case 'tracks': {
          this.header = ev.header;
          const audio = ev.tracks.find((t) => t.type === 'audio' && t.codec === 'opus');
          if (audio === undefined || audio.codecPrivate === undefined) {
            this.failed = true;
            return { opus, syncOffsets, error: 'the stream has no Opus audio track' };
          }
          this.audioTrack = audio.number;
          opusHead = audio.codecPrivate;
          break;
        }
        case 'frame':
          if (ev.track === this.audioTrack) opus.push(ev.data);
          break;
        case 'cluster':
          // offsets before this chunk can't be used any more (their bytes are gone)
          if (ev.offset >= start) syncOffsets.push(ev.offset - start);
          break;
        case 'error':
          this.failed = true;
          return { opus, syncOffsets, error: ev.detail };
      }
    }
    return { ...(opusHead !== undefined ? { opusHead } : {}), opus, syncOffsets };
  }
}
