// A broadcast's status frames: what they say, and when a broadcaster's client gets one
// (docs/protocol.md): at once on every state change (the broadcast pushes those itself), when
// something the page shows changes (at most every STATUS_MIN_GAP_MS), and otherwise every
// STATUS_KEEPALIVE_MS as a keep-alive: the page takes 5 s without a frame as a dead connection and
// resumes on a new one. Each frame is a socket write: a thousand quiet broadcasts make a third of
// the writes of one frame a second each.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { InputMedia } from '../pipeline/media-type.js';
import type { Rendition } from './rendition-pipe.js';
import { renditionStatus } from './renditions.js';
import type { BroadcastState, EndReason, StatusData } from '../../www/src/wire-contract.js';

/** Changes the page shows (listener counts, a rendition reconnecting) wait at least this long. */
export const STATUS_MIN_GAP_MS = 2000;
/** Nothing changed: a frame anyway after this long (under the page's 5 s dead-connection gap). */
export const STATUS_KEEPALIVE_MS = 3000;

/** What a status frame shows that is worth a frame of its own when it changes. */
export interface StatusFacts {
  readonly state: BroadcastState;
  readonly title: string | undefined;
  /** Late audio dropped so far, ms. */
  readonly shedMs: number;
  /** Per rendition: its Icecast connection's state and its listener count. */
  readonly renditions: readonly { readonly state: string; readonly listeners: number }[];
}

/** A compact fingerprint of the facts (compared, not parsed). */
export function statusKey(f: StatusFacts): string {
  let k = `${f.state}|${f.title ?? ''}|${Math.floor(f.shedMs / 1000)}`;
  for (const r of f.renditions) k += `|${r.state}:${r.listeners}`;
  return k;
}

export class StatusCadence {
  private sentAt = -Infinity;
  private key = '';

  /** At a periodic tick: is a frame due? */
  due(now: number, key: string): boolean {
    const since = now - this.sentAt;
    return since >= STATUS_KEEPALIVE_MS || (since >= STATUS_MIN_GAP_MS && key !== this.key);
  }

  /** A frame went out (periodic or at a state change). */
  sent(now: number, key: string): void {
    this.sentAt = now;
    this.key = key;
  }
}

/** What a status frame is made from (the broadcast). */
export interface StatusSource {
  readonly state: BroadcastState;
  readonly input: InputMedia;
  readonly bytesIn: number;
  readonly since: Date | undefined;
  readonly lifecycle: { readonly reason: EndReason | undefined };
  readonly title: string | undefined;
  readonly shedMs: number;
  readonly isEnding: boolean;
  readonly resumeToken: string;
}

export interface StatusFramesOptions {
  readonly source: StatusSource;
  readonly parts: readonly Rendition[];
  readonly icecastPublicUrl: string;
  readonly listeners: (mount: string) => number;
  readonly clock: Clock;
  readonly log: Logger;
}

export class StatusFrames {
  private readonly cadence = new StatusCadence();
  private readonly publicBase: string;

  constructor(private readonly o: StatusFramesOptions) {
    this.publicBase = o.icecastPublicUrl.replace(/\/+$/, '');
  }

  status(): StatusData {
    const b = this.o.source;
    const renditions = this.o.parts.map((p) => renditionStatus(p, {
      input: b.input, publicBase: this.publicBase, listeners: this.o.listeners(p.plan.mount), over: b.isEnding,
    }));
    const { title, since, shedMs } = b;
    const reason = b.lifecycle.reason;
    return {
      state: b.state,
      listeners: renditions.reduce((n, r) => n + r.listeners, 0),
      bytesIn: b.bytesIn,
      bytesOut: renditions.reduce((n, r) => n + r.bytesOut, 0),
      ...(since !== undefined ? { since: since.toISOString() } : {}),
      renditions,
      ...(reason !== undefined ? { reason } : {}),
      ...(title !== undefined ? { title } : {}),
      ...(shedMs > 0 ? { shedMs: Math.round(shedMs) } : {}),
    };
  }

  /** A frame to `send` now; `periodic`: only if one is due. */
  push(send: (status: StatusData) => void, periodic: boolean): void {
    const b = this.o.source;
    const now = this.o.clock.now();
    const key = statusKey({ state: b.state, title: b.title, shedMs: b.shedMs, renditions: this.o.parts.map((p) => ({ state: p.output.state, listeners: this.o.listeners(p.plan.mount) })) });
    if (periodic && !this.cadence.due(now, key)) return;
    this.cadence.sent(now, key);
    try {
      send({ ...this.status(), ...(b.isEnding ? {} : { resume: b.resumeToken }) });
    } catch (err) {
      this.o.log.warn('could not send status', { err });
    }
  }
}
