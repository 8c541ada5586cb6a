// Is sound still arriving on a call? ICE takes several seconds to call a dead path "disconnected"
// (it pings a working pair every 2.5 s), so after a pulled cable or a dead Wi-Fi both pages would
// keep saying "connected" and "on air" through seconds of silence. This watch counts the audio
// packets the connection receives (getStats) and says "stalled" once none came for STALL_MS, and
// "flowing" as soon as they come again. It only informs the pages' states; getting the call back
// is ICE's work (and the restarts in guest-link.ts / guest-call.ts). DOM-free: the packet count
// and the timers are injected (unit tests use fakes).

/** No audio packet for this long: the call is stalled (an Opus packet comes every 20 ms). */
export const STALL_MS = 1000;
/** How often the packet count is read. */
export const WATCH_EVERY_MS = 250;

export interface MediaWatchDeps {
  /** Audio packets received so far (undefined: no incoming audio yet, or no connection). */
  packets(): Promise<number | undefined>;
  onChange(stalled: boolean): void;
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export class MediaWatch {
  private last: number | undefined;
  private lastAt = 0;
  private stalledValue = false;
  private timer: unknown;
  private stopped = false;

  constructor(private readonly deps: MediaWatchDeps) {
    this.schedule();
  }

  get stalled(): boolean {
    return this.stalledValue;
  }

  stop(): void {
    this.stopped = true;
    this.deps.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.setTimeout(() => void this.tick(), WATCH_EVERY_MS);
  }

  private async tick(): Promise<void> {
    let n: number | undefined;
    try {
      n = await this.deps.packets();
    } catch {
      n = undefined;
    }
    if (this.stopped) return;
    const now = this.deps.now();
    if (n === undefined) {
      // nothing to watch (yet): not a stall
      this.last = undefined;
      this.set(false);
    } else if (n !== this.last) {
      // more packets (or a new connection counting from zero)
      this.last = n;
      this.lastAt = now;
      this.set(false);
    } else if (now - this.lastAt >= STALL_MS) {
      this.set(true);
    }
    this.schedule();
  }

  private set(stalled: boolean): void {
    if (stalled === this.stalledValue) return;
    this.stalledValue = stalled;
    this.deps.onChange(stalled);
  }
}

/** The audio packets a peer connection has received (the sum over its incoming audio streams). */
export async function receivedAudioPackets(pc: RTCPeerConnection): Promise<number | undefined> {
  if (pc.connectionState === 'closed') return undefined;
  const report = await pc.getStats();
  let total: number | undefined;
  report.forEach((s: { type?: string; kind?: string; packetsReceived?: number }) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio' && typeof s.packetsReceived === 'number') total = (total ?? 0) + s.packetsReceived;
  });
  return total;
}

/** A watch on the audio a call's current peer connection receives, on the call's own timers. */
export function watchPeer(
  pc: () => RTCPeerConnection,
  timers: Pick<MediaWatchDeps, 'setTimeout' | 'clearTimeout'> & { now?(): number },
  onChange: () => void,
): MediaWatch {
  return new MediaWatch({
    packets: () => receivedAudioPackets(pc()),
    onChange,
    now: () => (timers.now ?? Date.now)(),
    setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
    clearTimeout: (h) => timers.clearTimeout(h),
  });
}
