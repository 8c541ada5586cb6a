// A music deck: a queue of local files played through an <audio> element whose output goes into
// the deck's mixer channel (MediaElementAudioSourceNode), so long tracks stream from disk instead
// of being decoded into memory. Play/pause, seek, auto-advance; the UI renders `state()`.
import type { MixerChannel } from './mixer.js';
import { readTags } from './tags.js';

export interface Track {
  readonly id: number;
  readonly file: Blob;
  readonly name: string;
  title: string;
  artist: string;
  duration: number | undefined;
}

export interface DeckState {
  current: Track | undefined;
  queue: readonly Track[];
  playing: boolean;
  position: number;
  duration: number;
  autoAdvance: boolean;
  error: string | undefined;
}

let nextTrackId = 1;

export class Deck {
  readonly audio: HTMLAudioElement;
  private readonly source: MediaElementAudioSourceNode;
  private queue: Track[] = [];
  private current: Track | undefined;
  private url: string | undefined;
  private errorValue: string | undefined;
  autoAdvance = true;

  constructor(ctx: AudioContext, readonly channel: MixerChannel, private readonly onChange: (why: 'track' | 'transport' | 'queue') => void) {
    this.audio = new Audio();
    this.audio.preload = 'auto';
    this.source = ctx.createMediaElementSource(this.audio);
    channel.connectSource(this.source);
    this.audio.addEventListener('ended', () => {
      if (this.autoAdvance && this.queue.length > 0) void this.next(true);
      else this.onChange('transport');
    });
    for (const ev of ['play', 'pause', 'seeked', 'durationchange']) this.audio.addEventListener(ev, () => this.onChange('transport'));
    this.audio.addEventListener('error', () => {
      if (this.current === undefined) return;
      this.errorValue = `This browser cannot play "${this.current.name}". Try an MP3, Ogg, FLAC, WAV or M4A file.`;
      this.onChange('track');
    });
  }

  get id(): string { return this.channel.id; }

  state(): DeckState {
    const d = this.audio.duration;
    return {
      current: this.current,
      queue: [...this.queue],
      playing: !this.audio.paused && this.current !== undefined,
      position: this.audio.currentTime || 0,
      duration: Number.isFinite(d) ? d : (this.current?.duration ?? 0),
      autoAdvance: this.autoAdvance,
      error: this.errorValue,
    };
  }

  /** Add files to the queue (tags read in the background); the first loads if the deck is empty. */
  async add(files: readonly (Blob & { name?: string })[]): Promise<void> {
    const added = files.map((file): Track => ({ id: nextTrackId++, file, name: file.name ?? 'track', title: '', artist: '', duration: undefined }));
    this.queue.push(...added);
    if (this.current === undefined) await this.next(false);
    this.onChange('queue');
    await Promise.all(added.map(async (t) => {
      const tags = await readTags(t.file as Blob & { name?: string });
      t.title = tags.title;
      t.artist = tags.artist;
      t.duration = tags.duration;
      this.onChange(t === this.current ? 'track' : 'queue');
    }));
  }

  /** The deck's files in order: the loaded track, then the queue (what the studio's shelf keeps). */
  files(): File[] {
    return [this.current, ...this.queue].filter((t): t is Track => t !== undefined)
      .map((t) => (t.file instanceof File ? t.file : new File([t.file], t.name)));
  }

  remove(id: number): void {
    this.queue = this.queue.filter((t) => t.id !== id);
    this.onChange('queue');
  }

  /** Load the next queued track; keep playing if asked (auto-advance, or Next while playing). */
  async next(play: boolean): Promise<void> {
    const t = this.queue.shift();
    if (t === undefined) return;
    this.load(t);
    if (play) await this.play();
    this.onChange('track');
  }

  private load(t: Track): void {
    if (this.url !== undefined) URL.revokeObjectURL(this.url);
    this.errorValue = undefined;
    this.current = t;
    this.url = URL.createObjectURL(t.file);
    this.audio.src = this.url;
  }

  async play(): Promise<void> {
    if (this.current === undefined) {
      await this.next(false);
      if (this.current === undefined) return;
    }
    try {
      await this.audio.play();
    } catch (err) {
      if ((err as { name?: string }).name !== 'AbortError') {
        this.errorValue = `The deck could not start (${(err as { name?: string }).name ?? 'error'}). Click the page once, then press play again.`;
        this.onChange('track');
      }
    }
  }

  pause(): void {
    this.audio.pause();
  }

  async toggle(): Promise<void> {
    if (this.audio.paused) await this.play();
    else this.pause();
  }

  seek(seconds: number): void {
    if (this.current === undefined) return;
    const d = this.state().duration;
    this.audio.currentTime = Math.max(0, d > 0 ? Math.min(d - 0.05, seconds) : seconds);
  }

  seekBy(seconds: number): void {
    this.seek((this.audio.currentTime || 0) + seconds);
  }
}
