// Silence while the broadcaster is away or their upload stalls, and the late audio it stood in for.
//
// Every audio stream of a broadcast keeps flowing on silence packets from the moment the last
// media arrived: Icecast never sees a source go quiet long enough for its source-timeout, and
// listeners hear a gap, not a drop. When a stalled upload flows again, the audio that was held up
// arrives all at once, late: as much of it as the silence stood in for is dropped, so listeners
// stay at live delay instead of falling behind for good. A new connection's stream starts now,
// so nothing of it is late.
//
// The daemon's own stall is not the broadcaster's silence: a tick that comes more than a period,
// and at least a second, late (daemon-stall.ts) writes nothing while a connection is attached,
// because the audio of that time may be waiting in its socket; the next tick on time writes what
// is still due.
import type { Clock, Cancel } from '../clock.js';
import { opusPacketSamples } from '../pipeline/opus-format.js';
import { everyTellingStalls } from './daemon-stall.js';

/** How often silence is written while it fills a gap. */
export const SILENCE_TICK_MS = 100;
/** Opus frames are 20 ms: silence is written in whole frames. */
const FRAME_MS = 20;
const SAMPLES_PER_MS = 48;

export class GapFiller {
  private cancel: Cancel | undefined;
  /** Silence stands in for the media since then. */
  private from = 0;
  private writtenMs = 0;
  /** Late audio (48 kHz samples) still to drop. */
  private lateSamples = 0;
  /** Late audio dropped so far (48 kHz samples). */
  private droppedSamples = 0;

  constructor(
    private readonly clock: Clock,
    /** Write ms of silence into every stream (whole 20 ms frames). */
    private readonly fill: (ms: number) => void,
    /** Whether the streams can take silence now (they have started, the broadcast is not over). */
    private readonly canFill: () => boolean,
    /** Late audio dropped (ms), for the metrics. */
    private readonly onDrop?: (ms: number) => void,
    /** The daemon stalled: whether input may be waiting in a socket now, and what to do about a tick skipped for it. */
    private readonly stalls?: { inputMayWait(): boolean; skipped(stalledMs: number): void },
  ) {}

  /** Late audio dropped so far, ms. */
  get droppedMs(): number {
    return this.droppedSamples / SAMPLES_PER_MS;
  }

  get active(): boolean {
    return this.cancel !== undefined;
  }

  /** Fill from `fromMs` (the last media) until stop(). */
  start(fromMs: number): void {
    if (this.cancel !== undefined) return;
    this.from = fromMs;
    this.writtenMs = 0;
    this.cancel = everyTellingStalls(this.clock, SILENCE_TICK_MS, (stalledMs) => this.tick(stalledMs));
    this.tick(0);
  }

  /** Stop filling; returns how much silence was written. */
  stop(): number {
    this.cancel?.();
    this.cancel = undefined;
    return this.writtenMs;
  }

  /** The stalled upload flows again: drop as much late audio as the silence stood in for. Returns the silence's length. */
  resumeLate(): number {
    const ms = this.stop();
    this.lateSamples += ms * SAMPLES_PER_MS;
    return ms;
  }

  /** A new connection's stream: nothing of it is late. */
  forgetLate(): void {
    this.lateSamples = 0;
  }

  /** Whether this packet is heard (false: it is late audio the silence already stood in for). */
  admit(packet: Buffer): boolean {
    if (this.lateSamples <= 0) return true;
    const n = opusPacketSamples(packet);
    this.lateSamples -= n;
    this.droppedSamples += n;
    this.onDrop?.(n / SAMPLES_PER_MS);
    return false;
  }

  private tick(stalledMs: number): void {
    if (!this.canFill()) return;
    if (stalledMs > 0 && this.stalls?.inputMayWait() === true) {
      this.stalls.skipped(stalledMs);
      return;
    }
    const due = this.clock.now() - this.from - this.writtenMs;
    const ms = Math.floor(due / FRAME_MS) * FRAME_MS;
    if (ms < FRAME_MS) return;
    this.writtenMs += ms;
    this.fill(ms);
  }
}

/** What fillSoon() needs from its broadcast. */
export interface FillSoonDeps {
  readonly clock: Pick<Clock, 'after'>;
  /** When media last came (the clock's ms). */
  lastDataAt(): number;
  /** Whether a fill may start now (not ending, a connection attached, not filling already). */
  may(): boolean;
  /** Media came right after the timer, after this long without any: no fill. */
  arrived(quietMs: number): void;
  /** Start filling (the silence stands in for the media since `from`). */
  start(from: number): void;
}

/**
 * Start filling on the next turn of the event loop, after the input that is ready has been read:
 * media that was waiting in the socket while the timer ran means the broadcaster did not stop.
 */
export function fillSoon(d: FillSoonDeps): Cancel {
  const quietSince = d.lastDataAt();
  return d.clock.after(0, () => {
    if (!d.may()) return;
    if (d.lastDataAt() !== quietSince) d.arrived(d.lastDataAt() - quietSince);
    else d.start(quietSince);
  });
}
