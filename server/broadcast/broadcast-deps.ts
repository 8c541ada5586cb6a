// What a broadcast is built with and talks to: the daemon's config slice (BroadcastDeps), the
// connection side (BroadcastSink) and the status frame it sends (BroadcastStatus). broadcast.ts
// re-exports them; they live here so the state machine's module is only the state machine.
import type { Clock } from '../clock.js';
import type { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { StatsPoller } from '../icecast/stats-poller.js';
import type { updateMetadata } from '../icecast/metadata-update.js';
import type { Broadcast } from './broadcast.js';
import type { NormaliserFactory } from './input-normaliser.js';
import type { ShowRecorder } from './ogg-fanout.js';
import type { RenditionContext, RenditionFactory } from './renditions.js';
import type { StatusData } from '../../www/src/wire-contract.js';

/** A status frame's data (the wire contract). */
export type BroadcastStatus = StatusData;

/** The connection side of a broadcast (the WebSocket). */
export interface BroadcastSink {
  sendStatus(status: BroadcastStatus): void;
  /** The broadcast ended (or moved to another connection) because of err; undefined = normal end. */
  close(err: IcewireError | undefined): void;
}

/** What every broadcast is built with (the daemon's config slice); the renditions get their part. */
export interface BroadcastDeps extends Omit<RenditionContext, 'station' | 'input' | 'clock' | 'log'> {
  readonly icecastPublicUrl: string;
  readonly stats: Pick<StatsPoller, 'listeners'> | undefined;
  readonly logger: Logger;
  /** How long a broadcast waits for its broadcaster to come back. */
  readonly reconnectGraceMs: number;
  /** How long the broadcaster's socket may stay paused (downstream not reading) before ingest-too-slow. */
  readonly stallTimeoutMs: number;
  /** How long an attached broadcaster may send nothing. */
  readonly idleTimeoutMs: number;
  readonly statusIntervalMs?: number;
  /** The show recorder for this broadcast, when its station mount records. */
  readonly createRecorder?: (b: Broadcast) => ShowRecorder | undefined;
  readonly clock?: Clock;
  /** Builds each rendition (default: the real Icecast connection and pipe). */
  readonly createRendition?: RenditionFactory;
  /** Sends a title to one Icecast mount (default: Icecast's /admin/metadata). */
  readonly updateTitle?: typeof updateMetadata;
  /** Makes Opus of an upload whose audio is not Opus (default: an ffmpeg). */
  readonly createNormaliser?: NormaliserFactory;
}
