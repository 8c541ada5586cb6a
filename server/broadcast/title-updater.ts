// "Now playing" for the renditions that take a title by URL (MP3, Ogg/Vorbis: Icecast's
// /admin/metadata). Ogg/Opus mounts carry it in the stream itself (a new chain), not here.
//
// One update in flight at a time, then the latest title: a flood of metadata frames costs Icecast
// at most one request per rendition at a time. Icecast only takes a title once it has seen the
// stream's codec headers, which a transcoder writes a moment after going live: each mount is tried
// a few times, backing off, while the title is still the current one.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { acceptsUrlMetadata, type updateMetadata } from '../icecast/metadata-update.js';
import type { StationPlan } from './station-plan.js';

export const TITLE_ATTEMPTS = 5;
const BACKOFF_MS = 500;

export interface TitleUpdaterOptions {
  /** The mounts that take a title by URL. */
  readonly mounts: readonly string[];
  /** The title to send now (undefined: none). */
  readonly current: () => string | undefined;
  /** Send it to one mount: true when Icecast took it. */
  readonly send: (mount: string, title: string) => Promise<boolean>;
  /** No more updates (the broadcast is ending). */
  readonly stopped: () => boolean;
  readonly clock: Clock;
  readonly log: Logger;
}

export class TitleUpdater {
  private inFlight = false;
  private again = false;

  constructor(private readonly o: TitleUpdaterOptions) {}

  /** Send the current title (now, or after the update in flight). Never rejects. */
  async push(): Promise<void> {
    if (this.o.mounts.length === 0) return;
    if (this.inFlight) { this.again = true; return; }
    this.inFlight = true;
    try {
      do {
        this.again = false;
        await this.pushOnce();
      } while (this.again && !this.o.stopped());
    } finally {
      this.inFlight = false;
    }
  }

  private async pushOnce(): Promise<void> {
    const title = this.o.current();
    if (title === undefined) return;
    await Promise.all(this.o.mounts.map(async (mount) => {
      for (let attempt = 1; attempt <= TITLE_ATTEMPTS && !this.o.stopped() && this.o.current() === title; attempt++) {
        try {
          if (await this.o.send(mount, title)) return;
          if (attempt === TITLE_ATTEMPTS) this.o.log.warn('Icecast did not take the title', { rendition: mount });
        } catch (err) {
          if (attempt === TITLE_ATTEMPTS) this.o.log.warn('could not update the title', { rendition: mount, error: (err as Error).message });
        }
        await this.o.clock.sleep(BACKOFF_MS * attempt);
      }
    }));
  }
}

/**
 * The updater for a station's renditions that take a title by URL: each mount gets the title in
 * its charset (title-text.ts), with the station's source credentials.
 */
export function titleUpdaterFor(
  plan: StationPlan,
  o: Pick<TitleUpdaterOptions, 'current' | 'stopped' | 'clock' | 'log'> & { icecastUrl: string; connectTimeoutMs: number; send: typeof updateMetadata },
): TitleUpdater {
  const byUrl = new Map(plan.renditions.filter((r) => acceptsUrlMetadata(r.format)).map((r) => [r.mount, r]));
  return new TitleUpdater({
    mounts: [...byUrl.keys()],
    current: o.current,
    send: (mount, title) => o.send({
      url: o.icecastUrl, mount, user: plan.sourceUser, password: plan.sourcePassword, title, timeoutMs: o.connectTimeoutMs,
      format: byUrl.get(mount)!.format, charset: byUrl.get(mount)!.charset,
    }),
    stopped: o.stopped,
    clock: o.clock,
    log: o.log,
  });
}
