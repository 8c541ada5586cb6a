// The broadcaster's upload, watched: when media last arrived, since when it has been held back
// (a consumer full: the connection holds its frames, inflow.ts), and what that means at each
// status tick:
//   too-slow  held longer than stallTimeoutMs (a rendition stopped reading): end, ingest-too-slow
//   idle      attached and flowing, but no media for idleTimeoutMs (a stuck recorder): end, idle-timeout
//   fill      no media for a few seconds (a connection that died without closing; the page notices
//             only after a few seconds): keep the streams going on silence
// and, packet by packet, whether the audio's claimed time runs ahead of the clock (media-pace.ts).
import type { Clock } from '../clock.js';
import { MediaPace } from './media-pace.js';

/** A browser sends a chunk at least every second: this long without one, silence fills in. */
export const INPUT_GAP_SILENCE_MS = 2500;

export type UploadVerdict = 'ok' | 'fill' | 'idle' | 'too-slow';

export class UploadWatch {
  /** When the last media arrived (or the connection began). */
  lastDataAt: number;
  /** Held back since then: a consumer is full (undefined: flowing). */
  pausedSince: number | undefined;
  /** The audio's claimed time against the clock, over every connection of the broadcast. */
  readonly pace: MediaPace;

  constructor(private readonly clock: Clock, private readonly limits: { readonly stallTimeoutMs: number; readonly idleTimeoutMs: number }) {
    this.lastDataAt = clock.now();
    this.pace = new MediaPace(clock);
  }

  /** Media arrived. */
  data(): void {
    this.lastDataAt = this.clock.now();
  }

  /** A consumer is full: the upload is held back (the first time counts). */
  pause(): void {
    this.pausedSince ??= this.clock.now();
  }

  /** Flowing again, or a new connection (which starts now). */
  flow(newConnection = false): void {
    this.pausedSince = undefined;
    if (newConnection) this.lastDataAt = this.clock.now();
  }

  get quietMs(): number {
    return this.clock.now() - this.lastDataAt;
  }

  /** What the broadcast should do now. `attached`: a broadcaster is connected; `live`: it went live; `filling`: silence already fills. */
  verdict(attached: boolean, live: boolean, filling: boolean): UploadVerdict {
    if (this.pausedSince !== undefined && this.clock.now() - this.pausedSince > this.limits.stallTimeoutMs) return 'too-slow';
    if (!attached || this.pausedSince !== undefined) return 'ok';
    if (this.quietMs > this.limits.idleTimeoutMs) return 'idle';
    return this.quietMs > INPUT_GAP_SILENCE_MS && !filling && live ? 'fill' : 'ok';
  }
}
