// The live broadcasts, one per station mount, and the limit on how many run at once.
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Broadcast, EndReason } from './broadcast.js';

export class BroadcastRegistry {
  private readonly byMount = new Map<string, Broadcast>();

  constructor(private readonly opts: { maxBroadcasts: number; logger: Logger }) {}

  get size(): number {
    return this.byMount.size;
  }

  get(stationMount: string): Broadcast | undefined {
    return this.byMount.get(stationMount);
  }

  all(): Broadcast[] {
    return [...this.byMount.values()];
  }

  /** Throws if the mount is taken or the daemon is full; removes the broadcast when it ends. */
  add(b: Broadcast): void {
    if (this.byMount.has(b.stationMount)) throw new IcewireError('IW_ERR_MOUNT_BUSY', { detail: `station mount ${b.stationMount} is live already` });
    this.checkCapacity();
    this.byMount.set(b.stationMount, b);
    b.once('ended', () => {
      if (this.byMount.get(b.stationMount) === b) this.byMount.delete(b.stationMount);
    });
  }

  checkCapacity(): void {
    if (this.byMount.size >= this.opts.maxBroadcasts) {
      throw new IcewireError('IW_ERR_LIMIT_BROADCASTS', { detail: `${this.byMount.size} broadcasts are live (limits.maxBroadcasts)` });
    }
  }

  /** End every broadcast; after timeoutMs, kill what is left. */
  async endAll(reason: EndReason, err: IcewireError | undefined, timeoutMs: number): Promise<void> {
    const live = this.all();
    if (live.length === 0) return;
    this.opts.logger.info('ending all broadcasts', { count: live.length, reason });
    const done = Promise.all(live.map((b) => b.end(reason, err)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(true), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.opts.logger.warn('broadcasts did not end in time; killing their ffmpeg', { timeoutMs });
      await Promise.all(live.map((b) => b.kill()));
      await done;
    }
  }
}
