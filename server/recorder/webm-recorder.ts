// Video recordings: the WebM bytes exactly as sent, one file per connection (a resumed
// connection sends a new WebM header), split into segments only where a file can start decodable.
import { WebmDemuxer } from '../pipeline/webm-demuxer.js';
import { BaseRecorder, type ShowRecorderOptions } from './file-sequence.js';

/** WebM bytes held back while deciding whether a Cluster starts with a keyframe (then split anyway). */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

/**
 * Video: the WebM bytes as sent. With segments, a new file starts at the first Cluster after the
 * segment time whose first video frame is a keyframe (so every file starts decodable): the stream
 * header (EBML…Tracks) then the bytes from that Cluster on. A recording that resumes after a
 * failure starts its new file the same way. Clusters are found with our own demuxer on the raw
 * bytes; bytes from a candidate Cluster are held until its first video frame says whether it is
 * a split point.
 */
export class WebmRecorder extends BaseRecorder {
  /** Follows this connection's stream; undefined once it could not (then bytes are just written). */
  private demuxer: WebmDemuxer | undefined;
  private streaming = false;
  private header: Buffer | undefined;
  private videoTrack: number | undefined;
  /** Bytes of this connection's stream seen so far. */
  private pos = 0;
  private segmentStart = 0;
  /** Stream offset of the Cluster being considered as a split point, and the bytes held from it. */
  private candidate: number | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(opts: ShowRecorderOptions) {
    super(opts, 'webm');
  }

  start(): void {
    // the raw bytes are the recording
  }

  packet(): boolean {
    return true;
  }

  silence(): void {
    // a video file stops where its connection stopped; the next connection starts a new file
  }

  raw(chunk: Buffer, newStream: boolean): void {
    try {
      if (this.stopped) return;
      if (newStream || !this.streaming) {
        // a new stream starts with its own header: its file starts at its first byte
        this.closeFile();
        this.resetStream();
        this.openFile();
      } else if (this.file !== undefined) {
        this.writable(); // a write error closes the file and suspends the recording
      }
      if (this.demuxer === undefined) {
        this.file?.write(chunk);
        return;
      }
      this.split(chunk);
    } catch (err) {
      this.stop(err, 'recording stopped: unexpected error');
    }
  }

  protected finalBytes(): Buffer | undefined {
    // held bytes belong to the file being closed (no split happened)
    const held = this.takeHeld();
    return held.length > 0 ? held : undefined;
  }

  private resetStream(): void {
    this.demuxer = new WebmDemuxer();
    this.streaming = true;
    this.header = undefined;
    this.videoTrack = undefined;
    this.pos = 0;
    this.segmentStart = this.now();
    this.candidate = undefined;
    this.held = [];
    this.heldBytes = 0;
  }

  private takeHeld(): Buffer {
    const b = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    this.candidate = undefined;
    return b;
  }

  private split(chunk: Buffer): void {
    const start = this.pos;
    this.pos += chunk.length;
    const events = this.demuxer!.push(chunk);
    let cursor = start;
    // chunk bytes up to stream offset `to` go to the held bytes (a candidate is open) or the file
    const emit = (to: number): void => {
      if (to <= cursor) return;
      const part = chunk.subarray(cursor - start, to - start);
      cursor = to;
      if (this.candidate !== undefined) {
        this.held.push(part);
        this.heldBytes += part.length;
      } else {
        this.file?.write(part); // no file: suspended after a failure, the bytes are lost
      }
    };
    // a split point is due: the segment time is up, or (no file) a retry after a failure
    const due = (): boolean => (this.file === undefined
      ? this.retryDue()
      : this.opts.segmentMs !== undefined && this.now() - this.segmentStart >= this.opts.segmentMs);
    for (const ev of events) {
      if (ev.type === 'tracks') {
        this.header = ev.header;
        this.videoTrack = ev.tracks.find((t) => t.type === 'video')?.number;
      } else if (ev.type === 'error') {
        // not WebM we can follow: keep recording the bytes, stop splitting this stream
        this.log.warn('recording: cannot follow this stream\'s Clusters; no segments or resumed files for it', { detail: ev.detail });
        emit(start + chunk.length);
        const held = this.takeHeld();
        this.file?.write(held);
        this.demuxer = undefined;
        return;
      } else if (ev.type === 'cluster') {
        if (this.candidate !== undefined || this.header === undefined || ev.offset < cursor || !due()) continue;
        emit(ev.offset);
        this.candidate = ev.offset;
        if (this.videoTrack === undefined) this.cutHere();
      } else if (ev.type === 'frame' && this.candidate !== undefined && ev.track === this.videoTrack) {
        if (ev.keyframe) this.cutHere();
        else {
          // not a clean start: it stays in this file (taken first: no file must still clear it)
          const held = this.takeHeld();
          this.file?.write(held);
        }
      }
      if (this.stopped) return;
    }
    emit(start + chunk.length);
    if (this.heldBytes > MAX_HELD_BYTES) this.cutHere();
  }

  /** A new file from the candidate Cluster on: header + held bytes. */
  private cutHere(): void {
    const held = this.takeHeld();
    this.closeFile();
    if (!this.openFile()) return;
    this.segmentStart = this.now();
    this.file!.write(this.header!, true);
    this.file!.write(held);
  }
}
