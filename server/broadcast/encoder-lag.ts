// How far a transcoding ffmpeg is behind the audio it was given, and what to drop when it falls
// too far behind. On a saturated machine an encoder runs slower than real time; what it has not
// encoded yet waits in its stdin pipe (64 kB: four seconds of Opus), and every listener of its
// mount falls further behind with every second. Instead, once the encoder is LAG_SHED_ABOVE_MS
// behind, the daemon stops handing it audio (whole Ogg pages: the pages it gets still form a valid
// stream, with a jump in time that the decoder skips) until it has caught up to LAG_RESUME_BELOW_MS:
// listeners hear a gap and stay at live delay.
//
// "Behind" is audio the encoder owes AND that it has had time for: the lag is the smaller of the
// audio handed over and not yet encoded, and how long ago the encoder was given the audio it
// should be producing now. That audio is the first past what it produced plus LOOKAHEAD_MS: an
// encoder holds back the last few tens of ms it was given until more comes (LAME's and
// libvorbis's look-ahead, whole output frames), and that is not lag however long no input follows
// (the daemon itself stalled, a quiet upload). Fed in real time, both measures are the encoder's
// delay. Input read late and handed over at once (after the daemon itself stalled, or a stalled
// upload catching up) is owed but was given just now: an encoder that gets through it in time is
// not behind. Silence the daemon writes into a gap is not audio the encoder owes (it is encoded,
// and it takes the encoder's time, but dropping real audio for it would be dropping the show to
// keep up with nothing). What the encoder wrote counts only once the daemon has read it: the pipe
// judges on the turn after the input came, when the output that was ready has been read
// (rendition-pipe.ts). Pure: bytes and the clock's time in, milliseconds out.
import type { Cancel, Clock } from '../clock.js';
import type { FramerFormat, Unit } from '../pipeline/stream-framer.js';

/** Shed input while the encoder is more than this behind (well above its own few tens of ms). */
export const LAG_SHED_ABOVE_MS = 1000;
/** ... until it is back under this. */
export const LAG_RESUME_BELOW_MS = 400;
/** Audio an encoder may hold back, waiting for what follows, without being behind (ms; MP3 and Vorbis hold 40-100). */
export const LOOKAHEAD_MS = 150;

/** The granule position (48 kHz samples for Opus) of the last Ogg page in buf, or undefined. */
export function lastGranule(buf: Buffer): number | undefined {
  let at = 0;
  let granule: number | undefined;
  while (at + 27 <= buf.length && buf[at] === 0x4f && buf[at + 1] === 0x67) {
    const segments = buf[at + 26]!;
    if (at + 27 + segments > buf.length) break;
    let body = 0;
    for (let i = 0; i < segments; i++) body += buf[at + 27 + i]!;
    const lo = buf.readUInt32LE(at + 6);
    const hi = buf.readInt32LE(at + 10);
    if (hi >= 0) granule = hi * 0x100000000 + lo; // -1: no packet ends on this page
    at += 27 + segments + body;
  }
  return granule;
}

/** One handing-over: where it ends on the encoder's input timeline (ms), when, and whether it was silence. */
interface Handed { readonly from: number; readonly to: number; readonly at: number; readonly silence: boolean }

export class EncoderLag {
  /** Input handed to the encoder (audio and silence), ms: the end of its input timeline. */
  private inMs = 0;
  /** Audio the encoder produced, ms. */
  private outMs = 0;
  /**
   * What was handed over and not yet encoded, oldest first. Bounded: nothing is handed over while
   * the lag is above LAG_SHED_ABOVE_MS, and what is handed over at once is bounded by the media
   * lead (media-pace.ts) and the encoder's queue (maxQueueBytes).
   */
  private owed: Handed[] = [];
  /** The granule of the last page handed over (the feed's granules start at 0). */
  private inGranule = 0;
  private outBytes = 0;
  /** Ogg output: its sample rate (from the codec header); its first granule seen. */
  private oggRate: number | undefined;
  private shedding = false;

  /** `format`: the encoder's output framing; `kbps`: its bitrate (MP3 is constant bitrate). */
  constructor(private readonly format: FramerFormat, private readonly kbps: number, private readonly clock: Pick<Clock, 'now'>) {}

  /** Audio (not silence) handed over and not yet encoded, ms. */
  get owedMs(): number {
    this.settle();
    let ms = 0;
    for (const h of this.owed) if (!h.silence) ms += h.to - Math.max(h.from, this.outMs);
    return ms;
  }

  /**
   * How far the encoder is behind, ms: the audio it owes, but no more than the time since it was
   * given the audio it should be producing now (the first past its output and its look-ahead).
   */
  get lagMs(): number {
    const owed = this.owedMs;
    if (owed === 0) return 0;
    const due = this.outMs + LOOKAHEAD_MS;
    const next = this.owed.find((h) => !h.silence && h.to > due);
    return next === undefined ? 0 : Math.min(owed, this.clock.now() - next.at);
  }

  /** Forget what the encoder has encoded. */
  private settle(): void {
    let done = 0;
    while (done < this.owed.length && this.owed[done]!.to <= this.outMs) done++;
    if (done > 0) this.owed = this.owed.slice(done);
  }

  /**
   * Input pages for the encoder (`silence`: written into a gap): their length in ms, and whether
   * to drop them (the encoder is behind). Counted as given only when kept.
   */
  input(pages: Buffer, silence = false): { ms: number; drop: boolean } {
    const g = lastGranule(pages);
    if (g === undefined) return { ms: 0, drop: false };
    const ms = g < this.inGranule ? 0 : (g - this.inGranule) / 48;
    this.inGranule = g;
    const lag = this.lagMs;
    this.shedding = this.shedding ? lag > LAG_RESUME_BELOW_MS : lag > LAG_SHED_ABOVE_MS;
    if (!this.shedding && ms > 0) {
      this.owed.push({ from: this.inMs, to: this.inMs + ms, at: this.clock.now(), silence });
      this.inMs += ms;
    }
    return { ms, drop: this.shedding };
  }

  /** A unit the encoder wrote. */
  output(unit: Unit): void {
    if (this.format === 'mp3') {
      this.outBytes += unit.data.length;
      this.outMs = (this.outBytes * 8) / this.kbps;
    } else if (this.format === 'ogg') {
      if (unit.header) {
        this.oggRate ??= oggSampleRate(unit.data);
        return;
      }
      const g = lastGranule(unit.data);
      if (g !== undefined && this.oggRate !== undefined) this.outMs = (g / this.oggRate) * 1000;
    }
  }

  /** A new encoder (restarted): it owes nothing yet. */
  reset(): void {
    this.inMs = 0;
    this.outMs = 0;
    this.outBytes = 0;
    this.oggRate = undefined;
    this.shedding = false;
    this.owed = [];
  }
}

/** Where an EncoderFeed's decisions go (the ffmpeg pipe). */
export interface FeedSink {
  /** Pass on what the encoder wrote and the daemon read (and holds back: output-gather.ts), so the lag counts it. */
  readOutput?(): void;
  /** Hand these pages to the encoder. */
  write(pages: Buffer): void;
  /** These pages (ms long, `silence`: written into a gap) were dropped: the encoder is behind. */
  dropped(ms: number, silence: boolean): void;
  /** The encoder fell behind (true) or caught up (false), with its lag then. */
  shedding(on: boolean, lagMs: number): void;
}

/**
 * What an encoder is handed, judged on the next turn of the event loop. Input and the encoder's
 * output are read in the same turn, in whatever order the sockets became ready; after the daemon
 * itself stalled, both wait: judged as it comes, the input would meet output not read yet, and
 * audio the encoder had encoded would look owed and waited for (at mp3_50, 36 of 50 encoders were
 * shed right after the start's stall). On the next turn, what was ready has been read.
 */
export class EncoderFeed {
  private pending: { pages: Buffer; silence: boolean }[] = [];
  private cancel: Cancel | undefined;
  private shedding = false;

  constructor(readonly lag: EncoderLag, private readonly clock: Pick<Clock, 'after'>, private readonly sink: FeedSink) {}

  /** Pages for the encoder (`silence`: written into a gap): judged and passed on next turn. */
  offer(pages: Buffer, silence = false): void {
    this.pending.push({ pages, silence });
    this.cancel ??= this.clock.after(0, () => this.flush());
  }

  /** Judge and pass on what was offered, now (before anything else is written to the encoder). */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.sink.readOutput?.();
    for (const { pages, silence } of pending) {
      const { ms, drop } = this.lag.input(pages, silence);
      if (drop !== this.shedding) {
        this.shedding = drop;
        this.sink.shedding(drop, this.lag.lagMs);
      }
      if (drop) this.sink.dropped(ms, silence);
      else this.sink.write(pages);
    }
  }

  /** Forget what was offered (the encoder is being killed). */
  discard(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.pending = [];
  }
}

/** The sample rate in an Ogg stream's first header page: OpusHead (granules are always 48 kHz) or a Vorbis identification header. */
function oggSampleRate(page: Buffer): number | undefined {
  const body = 27 + page[26]!;
  if (page.toString('latin1', body, body + 8) === 'OpusHead') return 48000;
  if (page[body] === 1 && page.toString('latin1', body + 1, body + 7) === 'vorbis') return page.readUInt32LE(body + 12);
  return undefined;
}
