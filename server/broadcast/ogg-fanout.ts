// One Ogg/Opus stream written by the daemon from the broadcaster's Opus packets, and the
// renditions it feeds. A broadcast has two: one that ffmpeg transcoders read (never chained: a
// chain boundary would restart their decoder) and one that Ogg/Opus mounts send as is (a new,
// cleanly finished chain carries each new title in its OpusTags; docs/notes/browsers.md).
import { randomInt } from 'node:crypto';
import { systemClock, type Cancel, type Clock } from '../clock.js';
import { OggOpusWriter } from '../pipeline/ogg-opus-writer.js';
import type { Rendition } from './rendition-pipe.js';

/** What receives the broadcast's Opus packets (the Ogg fan-outs, the show recorder). */
export interface OpusConsumer {
  /** The stream's OpusHead, once, before any packet. */
  start(opusHead: Buffer): void;
  /** false = the consumer is full: slow the broadcaster down. */
  packet(data: Buffer): boolean;
  /**
   * The packets of one incoming chunk are all in: send what packet() held back (the Ogg streams
   * put a chunk's packets in one page, one write per mount). false = slow down.
   */
  flush?(): boolean;
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

/**
 * The stream's first audio goes out as two pages this far apart. Icecast adds a listener who was
 * waiting for the stream only after it handled the first audio page, and serves it at its next
 * page (or after a 250 ms wait): a second page soon after gets the first audio to that listener
 * within milliseconds instead of a chunk later (docs/performance.md).
 */
export const FIRST_AUDIO_SPLIT_MS = 10;

export class OggFanout implements OpusConsumer {
  private writer: OggOpusWriter | undefined;
  private tags: StreamTags = {};
  /** This chunk's packets, until flush() (the array is reused: no allocation per packet). */
  private readonly held: Buffer[] = [];
  private heldCount = 0;
  /** The next flush is the stream's first audio. */
  private firstAudio = false;
  /** The second page of the first audio, until FIRST_AUDIO_SPLIT_MS has passed. */
  private late: Buffer | undefined;
  private cancelLate: Cancel | undefined;

  /** `splitFirstAudio`: the stream goes to Icecast as is (FIRST_AUDIO_SPLIT_MS). */
  constructor(private readonly targets: readonly Rendition[], private readonly splitFirstAudio = false, private readonly clock: Clock = systemClock) {}

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
    this.firstAudio = this.splitFirstAudio;
  }

  packet(data: Buffer): boolean {
    if (this.writer === undefined || this.writer.ended) return true;
    this.held[this.heldCount++] = data;
    return true;
  }

  flush(): boolean {
    const w = this.writer;
    const n = this.heldCount;
    if (n === 0 || w === undefined || w.ended) return true;
    this.sendLate();
    let page: Buffer;
    if (this.firstAudio && n > 1) {
      page = w.packets(this.held, 1);
      const late = w.packets(this.held.slice(1, n));
      if (page.length > 0 && late.length > 0) {
        this.late = late;
        this.cancelLate = this.clock.after(FIRST_AUDIO_SPLIT_MS, () => this.sendLate());
      } else if (page.length === 0) page = late;
    } else page = w.packets(this.held, n);
    if (page.length > 0) this.firstAudio = false;
    this.heldCount = 0;
    this.held.fill(undefined as unknown as Buffer, 0, n);
    return page.length === 0 || this.send(page);
  }

  private send(pages: Buffer): boolean {
    let ok = true;
    for (const t of this.targets) if (!t.oggPages(pages)) ok = false;
    return ok;
  }

  /** The first audio's second page, now (its time came, or other pages must follow it). */
  private sendLate(): void {
    const late = this.late;
    if (late === undefined) return;
    this.late = undefined;
    this.cancelLate?.();
    this.send(late);
  }

  silence(ms: number): void {
    if (this.writer === undefined || this.writer.ended) return;
    this.flush();
    this.sendLate();
    const pages = this.writer.silence(ms);
    for (const t of this.targets) t.oggPages(pages, true);
  }

  /**
   * New tags: end this chain cleanly and start the next one carrying them (before the first
   * packet: the first chain gets them).
   */
  retitle(tags: StreamTags): void {
    this.tags = tags;
    const w = this.writer;
    if (w === undefined || w.ended) return;
    this.flush();
    this.sendLate();
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
    this.flush();
    this.sendLate();
    return this.writer.end();
  }
}
