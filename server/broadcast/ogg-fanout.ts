// One Ogg/Opus stream written by the daemon from the broadcaster's Opus packets, and the
// renditions it feeds. A broadcast has two: one that ffmpeg transcoders read (never chained: a
// chain boundary would restart their decoder) and one that Ogg/Opus mounts send as is (a new,
// cleanly finished chain carries each new title in its OpusTags; docs/notes/browsers.md).
import { randomInt } from 'node:crypto';
import { OggOpusWriter } from '../pipeline/ogg-opus-writer.js';
import type { Rendition } from './rendition-pipe.js';

/** What receives the broadcast's Opus packets (the Ogg fan-outs, the show recorder). */
export interface OpusConsumer {
  /** The stream's OpusHead, once, before any packet. */
  start(opusHead: Buffer): void;
  /** false = the consumer is full: slow the broadcaster down. */
  packet(data: Buffer): boolean;
  /** A gap (broadcaster away) of this many ms of silence. */
  silence(ms: number): void;
}

/**
 * A show recorder (server/recorder/): the Opus packets (audio broadcasts) and the broadcaster's
 * raw bytes (video broadcasts), and a clean finish on every kind of end.
 */
export interface ShowRecorder extends OpusConsumer {
  /** The broadcaster's bytes as sent; `newStream` on the first chunk of each connection. */
  raw(chunk: Buffer, newStream: boolean): void;
  /** Close the file(s) validly (end pages written). Never rejects. */
  finish(): Promise<void>;
}

export interface StreamTags {
  readonly title?: string | undefined;
  readonly artist?: string | undefined;
}

/** "Artist - Title", the form Icecast and players show. */
export function displayTitle(m: StreamTags): string | undefined {
  const title = m.title?.trim();
  const artist = m.artist?.trim();
  if (title && artist) return `${artist} - ${title}`;
  return title || artist || undefined;
}

function vorbisComments(t: StreamTags): Record<string, string> {
  const out: Record<string, string> = {};
  if (t.title) out.TITLE = t.title;
  if (t.artist) out.ARTIST = t.artist;
  return out;
}

export class OggFanout implements OpusConsumer {
  private writer: OggOpusWriter | undefined;
  private tags: StreamTags = {};

  constructor(private readonly targets: readonly Rendition[]) {}

  get started(): boolean {
    return this.writer !== undefined;
  }

  /** Whether any rendition reads this stream. */
  get hasTargets(): boolean {
    return this.targets.length > 0;
  }

  start(opusHead: Buffer): void {
    // nobody reads this stream (e.g. no Ogg/Opus mount): don't write pages for nothing
    if (this.targets.length === 0) return;
    this.writer = new OggOpusWriter({ serial: randomInt(1, 0xffffffff), opusHead, vendor: 'icewire', tags: vorbisComments(this.tags) });
    const headers = this.writer.headers();
    for (const t of this.targets) t.oggHeaders(headers);
  }

  packet(data: Buffer): boolean {
    if (this.writer === undefined || this.writer.ended) return true;
    const page = this.writer.packet(data);
    if (page.length === 0) return true;
    let ok = true;
    for (const t of this.targets) if (!t.oggPages(page)) ok = false;
    return ok;
  }

  silence(ms: number): void {
    if (this.writer === undefined || this.writer.ended) return;
    const pages = this.writer.silence(ms);
    for (const t of this.targets) t.oggPages(pages);
  }

  /**
   * New tags: end this chain cleanly and start the next one carrying them (before the first
   * packet: the first chain gets them).
   */
  retitle(tags: StreamTags): void {
    this.tags = tags;
    const w = this.writer;
    if (w === undefined || w.ended) return;
    const eos = w.end();
    for (const t of this.targets) t.oggPages(eos);
    let serial = randomInt(1, 0xffffffff);
    if (serial === w.serial) serial = (serial % 0xfffffffe) + 1;
    this.writer = w.newChain({ serial, tags: vorbisComments(tags) });
    const headers = this.writer.headers();
    for (const t of this.targets) t.oggHeaders(headers);
  }

  /** The end-of-stream page, or undefined if the stream never started. */
  end(): Buffer | undefined {
    if (this.writer === undefined || this.writer.ended) return undefined;
    return this.writer.end();
  }
}
