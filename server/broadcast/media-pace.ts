// How far a broadcaster's media may run ahead of the clock. A packet's duration is the client's
// claim: 14 bytes can say "120 ms", so a megabyte can claim hours, and everything that follows
// media time (transcoders, listeners' timestamps, granule positions) would run hours ahead.
//
// The rule: over the whole broadcast, the audio received may claim at most the time that has
// passed since it started, plus CLOCK_DRIFT of it, plus MEDIA_LEAD_MS. Every connection of the
// broadcast counts against the same clock, so a resumed page may send what it recorded while it
// was away (that time passed too), a stalled upload may catch up (its audio was recorded in real
// time), and a client that sends a cluster a second (Firefox) is far inside the lead. A client
// replaying a file at full speed, or forging durations, is refused within MEDIA_LEAD_MS of media.
// (Measured lead of real clients: docs/security.md, "Media time".)
import type { Clock } from '../clock.js';
import { IcewireError } from '../errors.js';
import { opusPacketSamples } from '../pipeline/opus-format.js';

/** How much audio a broadcast may hold ahead of the clock (a client's pre-roll, a burst after a stall). */
export const MEDIA_LEAD_MS = 30000;
/** Audio clocks and the system clock disagree by far less than this share. */
export const CLOCK_DRIFT = 0.01;
const SAMPLES_PER_MS = 48;

export class MediaPace {
  private readonly startedAt: number;
  private samples = 0;
  /** The furthest the media ran ahead of the clock, in ms (for the log). */
  maxLeadMs = 0;
  /** When the last packet was taken (the clock's ms). */
  takenAt = 0;
  /** How late the last packet came: the time since the start, less the audio received with it (ms; late-reads.ts). */
  lateMs = 0;

  constructor(private readonly clock: Pick<Clock, 'now'>, private readonly leadMs = MEDIA_LEAD_MS) {
    this.startedAt = clock.now();
  }

  /** Audio received, in ms of media. */
  get mediaMs(): number {
    return this.samples / SAMPLES_PER_MS;
  }

  /** One Opus packet arrived: true, or IW_ERR_INGEST_TOO_FAST thrown when it would put the audio beyond the bound. */
  admit(packet: Uint8Array): true {
    if (this.take(opusPacketSamples(packet))) return true;
    const elapsedS = Math.round((this.clock.now() - this.startedAt) / 1000);
    throw new IcewireError('IW_ERR_INGEST_TOO_FAST', { detail: `${Math.round(this.mediaMs / 1000)} s of audio (and more) in ${elapsedS} s` });
  }

  /** `samples` (48 kHz) more arrived: false when that puts the media beyond the bound (it is not counted). */
  take(samples: number): boolean {
    const now = this.clock.now();
    const elapsed = now - this.startedAt;
    const lead = (this.samples + samples) / SAMPLES_PER_MS - elapsed;
    if (lead > this.leadMs + elapsed * CLOCK_DRIFT) return false;
    this.samples += samples;
    this.takenAt = now;
    this.lateMs = -lead;
    if (lead > this.maxLeadMs) this.maxLeadMs = lead;
    return true;
  }
}
