// The live broadcasts, one per station mount, and the limit on how many run at once. claim() is
// the one place a front door gets a broadcast for a connection: the running one resumed (with its
// token, or a desktop source client coming back to its own show, resume-ticket.ts), or a new one
// if the mount is free and the daemon has room. A broadcaster a station manager kicked is refused
// on that station for a while, so a client that reconnects by itself (butt) is not straight back.
import { systemClock, type Cancel, type Clock } from '../clock.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { InputMedia } from '../pipeline/media-type.js';
import type { Broadcast, BroadcastSink, EndReason, IngestKind } from './broadcast.js';

/** How long a new claim waits for a failed broadcast on the same mount to finish closing. */
const PREVIOUS_END_WAIT_MS = 5000;

export interface ClaimRequest {
  readonly stationMount: string;
  /** Who is asking (an account name, or in passthrough mode the Icecast user they typed). */
  readonly user: string;
  /** The Icecast source password the broadcast would use (passthrough: the broadcaster's credential). */
  readonly sourcePassword: string;
  readonly input: InputMedia;
  /** The hello's resume token, if any. */
  readonly resume: string | undefined;
  /** The front door (default: the webcast WebSocket). */
  readonly ingest?: IngestKind;
  /** The new connection. */
  readonly sink: BroadcastSink;
  /** Whether the connection still wants a broadcast after a wait (it may have gone). */
  readonly stillWanted: () => boolean;
  /** Build the new broadcast; called only once every check has passed. */
  readonly create: () => Broadcast;
}

export type Claim =
  /** The running broadcast continues on this connection. */
  | { readonly kind: 'resumed'; readonly broadcast: Broadcast }
  /** A new broadcast, registered; the caller starts it. */
  | { readonly kind: 'new'; readonly broadcast: Broadcast }
  /** The connection went away while the claim waited. */
  | { readonly kind: 'gone' };

export class BroadcastRegistry {
  private readonly byMount = new Map<string, Broadcast>();
  /** station + user -> refused until then (ms): kicked broadcasters. */
  private readonly bans = new Map<string, number>();
  private readonly clock: Clock;

  /** `holdWhileLive`: taken by each broadcast from its start until it ended (what runs only while something is live). */
  constructor(private readonly opts: { maxBroadcasts: number; logger: Logger; clock?: Clock; kickBanMs?: number; holdWhileLive?: () => Cancel }) {
    this.clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.byMount.size;
  }

  get(stationMount: string): Broadcast | undefined {
    return this.byMount.get(stationMount);
  }

  all(): Broadcast[] {
    return [...this.byMount.values()];
  }

  /**
   * A broadcast for a connection: resume the running one (its token, the same broadcaster, the
   * same kind of media), or create one. Throws IW_ERR_MOUNT_BUSY when someone else is live on the
   * mount, IW_ERR_LIMIT_BROADCASTS when the daemon is full.
   */
  async claim(req: ClaimRequest): Promise<Claim> {
    const until = this.bans.get(banKey(req.stationMount, req.user));
    if (until !== undefined && until > this.clock.now()) {
      const minutes = Math.max(1, Math.ceil((until - this.clock.now()) / 60000));
      throw new IcewireError('IW_ERR_KICKED_WAIT', {
        message: `The station ended your broadcast a moment ago. You can go live on this station again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        detail: `${req.user} was kicked from ${req.stationMount}; refused for ${until - this.clock.now()} ms more (limits.kickBanMs)`,
      });
    }
    const current = this.byMount.get(req.stationMount);
    if (current !== undefined && current.canResume(req.resume, req.user, req.sourcePassword, req.input, req.ingest)) {
      // the same broadcaster coming back after a drop (or from a new tab): the show goes on
      current.attach(req.sink, req.input);
      return { kind: 'resumed', broadcast: current };
    }
    if (current?.isEnding === true) {
      // A broadcaster retrying right after a failure: let the old one finish closing its Icecast
      // sources rather than answer "busy" (or have Icecast say "in use").
      await Promise.race([current.whenEnded(), this.clock.sleep(PREVIOUS_END_WAIT_MS)]);
    }
    if (!req.stillWanted()) return { kind: 'gone' };
    if (this.byMount.has(req.stationMount)) {
      throw new IcewireError('IW_ERR_MOUNT_BUSY', { detail: `station mount ${req.stationMount} is live already` });
    }
    if (this.byMount.size >= this.opts.maxBroadcasts) {
      throw new IcewireError('IW_ERR_LIMIT_BROADCASTS', { detail: `${this.byMount.size} broadcasts are live (limits.maxBroadcasts)` });
    }
    const b = req.create();
    this.byMount.set(b.stationMount, b);
    const release = this.opts.holdWhileLive?.();
    b.once('ended', (reason) => {
      release?.();
      if (this.byMount.get(b.stationMount) === b) this.byMount.delete(b.stationMount);
      const banMs = this.opts.kickBanMs ?? 0;
      if (reason === 'kicked' && banMs > 0) this.ban(b.stationMount, b.user, banMs);
    });
    return { kind: 'new', broadcast: b };
  }

  /** Refuse `user` on `stationMount` for `ms` (a kick). Expired bans are forgotten as new ones come. */
  ban(stationMount: string, user: string, ms: number): void {
    const now = this.clock.now();
    for (const [k, until] of this.bans) if (until <= now) this.bans.delete(k);
    this.bans.set(banKey(stationMount, user), now + ms);
    this.opts.logger.info('kicked broadcaster refused on the station for a while', { station: stationMount, user, ms });
  }

  /** End every broadcast; after timeoutMs, kill what is left. */
  async endAll(reason: EndReason, err: IcewireError | undefined, timeoutMs: number): Promise<void> {
    const live = this.all();
    if (live.length === 0) return;
    this.opts.logger.info('ending all broadcasts', { count: live.length, reason });
    const done = Promise.all(live.map((b) => b.end(reason, err)));
    const timedOut = await Promise.race([done.then(() => false), this.clock.sleep(timeoutMs).then(() => true)]);
    if (timedOut) {
      this.opts.logger.warn('broadcasts did not end in time; killing their ffmpeg', { timeoutMs });
      await Promise.all(live.map((b) => b.kill()));
      await done;
    }
  }
}

function banKey(stationMount: string, user: string): string {
  return `${stationMount}\u0000${user}`;
}
