// What the streaming demuxers (WebmDemuxer, OggReader) share: the events a caller sees, whatever
// the container, and the one way they take bytes in and stop at the first invalid byte. Pure.
import { ByteQueue } from './byte-queue.js';

/** Codec names for the CodecIDs browsers record; any other CodecID is passed through as is. */
export type Codec = 'opus' | 'vp8' | 'vp9' | 'av1' | (string & {});

export interface Track {
  /** TrackNumber, as used by blocks (browsers number tracks differently from each other). */
  readonly number: number;
  readonly type: 'audio' | 'video';
  readonly codec: Codec;
  /** The raw CodecID (A_OPUS, V_VP8…). */
  readonly codecId: string;
  /** CodecPrivate; for Opus the OpusHead (RFC 7845 §5.1). */
  readonly codecPrivate?: Buffer;
  readonly channels?: number;
  readonly samplingRate?: number;
  readonly width?: number;
  readonly height?: number;
  /** CodecDelay (Opus: the pre-skip as nanoseconds). Block times do not subtract it. */
  readonly codecDelayNs?: number;
  readonly seekPreRollNs?: number;
  readonly defaultDurationNs?: number;
}

export interface TracksEvent {
  readonly type: 'tracks';
  /** Audio and video tracks only, in the order of the Tracks element. */
  readonly tracks: Track[];
  /**
   * The exact bytes from the start of the stream to the end of Tracks (EBML header, Segment
   * start, SeekHead/Info/Tracks…): a new consumer can be fed this header plus data from a later
   * Cluster start. For Ogg input: the Ogg header pages.
   */
  readonly header: Buffer;
}

export interface FrameEvent {
  readonly type: 'frame';
  readonly track: number;
  /**
   * Presentation time in ms: Cluster Timecode + block relative timecode, scaled by TimecodeScale
   * (may be fractional for a non-default scale). CodecDelay is not subtracted. Frames split from
   * one laced block all carry the block's time.
   */
  readonly timeMs: number;
  readonly keyframe: boolean;
  /** May share memory with the bytes pushed in: copy it to keep it beyond the current chunk. */
  readonly data: Buffer;
  /** BlockDuration in ms, when the block was in a BlockGroup that had one. */
  readonly durationMs?: number;
}

export interface ClusterEvent {
  readonly type: 'cluster';
  readonly timeMs: number;
  /** Byte offset of the Cluster element's first byte in the input stream. */
  readonly offset: number;
}

export interface DemuxErrorEvent {
  readonly type: 'error';
  readonly code: 'IW_ERR_INGEST_INVALID_MEDIA';
  /** For the log: what was wrong and where (byte offset). */
  readonly detail: string;
}

export type DemuxEvent = TracksEvent | FrameEvent | ClusterEvent | DemuxErrorEvent;

/** Thrown inside a demuxer's parsing at invalid input; becomes the one error event. */
export class InvalidMedia extends Error {}

/**
 * A streaming demuxer: push() returns the events the new bytes complete. It never throws: on
 * invalid input it reports one error event, drops what it holds and stops; every later push()
 * returns [].
 */
export abstract class Demuxer<E extends { readonly type: string }> {
  protected readonly queue = new ByteQueue();
  protected events: (E | DemuxErrorEvent)[] = [];
  private stopped = false;

  /** Whether the demuxer stopped after an error. */
  get failed(): boolean {
    return this.stopped;
  }

  push(chunk: Uint8Array): (E | DemuxErrorEvent)[] {
    if (this.stopped || chunk.length === 0) return [];
    this.queue.push(chunk);
    try {
      this.parse();
    } catch (err) {
      // InvalidMedia is the normal way out of deep parsing code; anything else is a bug, still
      // reported as an event because callers rely on push() never throwing.
      const detail = err instanceof InvalidMedia ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
      this.events.push({ type: 'error', code: 'IW_ERR_INGEST_INVALID_MEDIA', detail: `${detail} [offset=${this.queue.offset}]` });
      this.stopped = true;
      this.queue.clear();
      this.release();
    }
    const out = this.events;
    this.events = [];
    return out;
  }

  /** Read what the queue holds, pushing events; throws InvalidMedia at invalid input. */
  protected abstract parse(): void;
  /** After a failure: drop everything held (bounded memory, nothing more to parse). */
  protected abstract release(): void;
}
