// A broadcast's media path: the broadcaster's bytes in, to every rendition and the recorder.
//
// Each connection's stream is demuxed (InputSession). Its Opus packets go into the Ogg/Opus
// streams the daemon writes itself: `copy` (sent to Ogg/Opus mounts as is, a new chain per title)
// and `feed` (never chained, read by transcoding ffmpegs), and to the show recorder. Renditions
// fed the upload get the bytes as sent. The first connection's OpusHead defines the broadcast's
// streams; a resumed connection's packets continue them (same serial, granules keep counting), so
// listeners never see a new stream because the broadcaster reconnected.
import type { Clock } from '../clock.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { InputSession } from './input-session.js';
import { OggFanout, type OpusConsumer, type ShowRecorder, type StreamTags } from './ogg-fanout.js';
import type { Rendition } from './rendition-pipe.js';

export class MediaPath {
  private session: InputSession;
  /** The next raw chunk is the first of a connection's stream. */
  private rawStreamStart = true;
  private opusStarted = false;
  /** The Ogg/Opus stream transcoders read (never chained). */
  private readonly feed: OggFanout;
  /** The Ogg/Opus stream Ogg/Opus mounts send (a new chain per title). */
  private readonly copy: OggFanout;
  private readonly recorder: ShowRecorder | undefined;
  /** Everything that gets the Opus packets, in order: the two streams, then the recorder. */
  private readonly consumers: OpusConsumer[];

  constructor(
    input: InputMedia,
    private readonly renditions: readonly Rendition[],
    recorder: ShowRecorder | undefined,
    private readonly log: Logger,
    clock?: Clock,
  ) {
    this.session = new InputSession(input);
    this.feed = new OggFanout(renditions.filter((r) => r.kind.feed === 'opus-stream'), false, clock);
    this.copy = new OggFanout(renditions.filter((r) => r.kind.feed === 'opus-pages'), true, clock);
    this.recorder = recorder === undefined ? undefined : guardRecorder(recorder, log);
    this.consumers = [this.feed, this.copy, ...(this.recorder !== undefined ? [this.recorder] : [])];
  }

  /** The Opus streams have started (silence can be written into them). */
  get started(): boolean {
    return this.opusStarted;
  }

  /**
   * One chunk of the broadcaster's stream. `admit` decides whether each Opus packet is heard
   * (late audio after a stall is not). Returns false when a consumer is full (pause the socket);
   * throws IcewireError(IW_ERR_INGEST_INVALID_MEDIA) when the stream is not valid media.
   */
  push(chunk: Buffer, admit: (packet: Buffer) => boolean): boolean {
    const out = this.session.push(chunk);
    if (out.error !== undefined) throw new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { detail: out.error });
    let ok = true;
    for (const r of this.renditions) if (!r.raw(chunk, out.syncOffsets, this.session.header)) ok = false;
    this.recorder?.raw(chunk, this.rawStreamStart);
    this.rawStreamStart = false;
    if (out.opusHead !== undefined && !this.opusStarted) {
      try {
        for (const c of this.consumers) c.start(out.opusHead);
      } catch (err) {
        throw err instanceof IcewireError ? err : new IcewireError('IW_ERR_INGEST_INVALID_MEDIA', { cause: err });
      }
      this.opusStarted = true;
    }
    if (this.opusStarted && out.opus.length > 0) {
      for (const packet of out.opus) {
        if (!admit(packet)) continue;
        for (const c of this.consumers) if (!c.packet(packet)) ok = false;
      }
      // one page per chunk and stream: one write per mount
      if (!this.feed.flush()) ok = false;
      if (!this.copy.flush()) ok = false;
    }
    return ok;
  }

  /** A new connection: its stream starts with its own container header. */
  newConnection(input: InputMedia): void {
    this.session = new InputSession(input);
    this.rawStreamStart = true;
    for (const r of this.renditions) r.newRawStream();
  }

  /** A gap of ms in every Opus stream (whole 20 ms frames). */
  silence(ms: number): void {
    for (const c of this.consumers) c.silence(ms);
  }

  /** New "now playing" tags: Ogg/Opus mounts get a new chain carrying them. */
  retitle(tags: StreamTags): void {
    this.copy.retitle(tags);
  }

  /**
   * Finish every rendition and the recording cleanly: end pages written, Icecast told. The
   * recording's end page does not wait for a slow rendition (SIGTERM has a hard bound).
   */
  async finish(): Promise<void> {
    const feedEos = this.feed.end();
    const copyEos = this.copy.end();
    await Promise.all([
      ...this.renditions.map(async (r) => {
        try {
          await r.finish(r.kind.feed === 'opus-pages' ? copyEos : feedEos);
        } catch (e) {
          this.log.warn('error while finishing a rendition', { rendition: r.plan.mount, err: e });
          await r.kill();
        }
      }),
      this.recorder?.finish(),
    ]);
  }
}

/**
 * A recorder must never take a broadcast down: any exception from it is logged once and the
 * recorder is dropped (the show goes on unrecorded).
 */
function guardRecorder(r: ShowRecorder, log: Logger): ShowRecorder {
  let broken = false;
  const guard = <T>(what: string, fn: () => T, fallback: T): T => {
    if (broken) return fallback;
    try {
      return fn();
    } catch (err) {
      broken = true;
      log.error('the recorder failed; the broadcast continues unrecorded', { during: what, err });
      return fallback;
    }
  };
  return {
    start: (head) => guard('start', () => r.start(head), undefined),
    packet: (data) => guard('packet', () => r.packet(data), true),
    silence: (ms) => guard('silence', () => r.silence(ms), undefined),
    raw: (chunk, newStream) => guard('raw', () => r.raw(chunk, newStream), undefined),
    finish: () => guard('finish', () => r.finish(), Promise.resolve()),
  };
}
