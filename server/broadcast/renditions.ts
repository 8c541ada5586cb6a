// Building a broadcast's renditions: for each planned Icecast mount, its kind from the table
// (pipeline/rendition-kinds.ts), its Icecast connection with the station's ice-* headers, and the
// pipe the kind needs — the daemon's own pages, or an ffmpeg.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { iceAudioInfo } from '../pipeline/ffmpeg-args.js';
import type { InputMedia } from '../pipeline/media-type.js';
import { kindFor, type RenditionPlan } from '../pipeline/rendition-kinds.js';
import { RenditionOutput, type ReconnectPolicy } from './rendition-output.js';
import { CopyPipe, FfmpegPipe, type Rendition } from './rendition-pipe.js';
import { UploadCopyPipe } from './upload-copy-pipe.js';
import type { StationPlan } from './station-plan.js';
import type { RenditionStatus } from '../../www/src/wire-contract.js';

export interface RenditionContext {
  readonly station: StationPlan;
  /** What the broadcaster sends. */
  readonly input: InputMedia;
  readonly icecastUrl: string;
  readonly legacySource: boolean;
  /** This daemon's name, sent to Icecast with each source connection (docs/scaling.md). */
  readonly instanceName?: string | undefined;
  readonly connectTimeoutMs: number;
  readonly reconnect: ReconnectPolicy;
  readonly ffmpegPath: string;
  readonly maxQueueBytes: number;
  readonly metrics?: Metrics | undefined;
  readonly clock: Clock;
  /** The broadcast's logger. */
  readonly log: Logger;
}

export type RenditionFactory = (plan: RenditionPlan, ctx: RenditionContext) => Rendition;

/** The real thing: an Icecast source connection fed by the daemon's pages or by an ffmpeg. */
export const createRendition: RenditionFactory = (plan, ctx) => {
  const log = ctx.log.child({ rendition: plan.mount });
  const kind = kindFor(plan, ctx.input);
  const { bitrate, audioInfo } = iceAudioInfo(plan, ctx.input);
  let pipe: CopyPipe | FfmpegPipe | UploadCopyPipe | undefined;
  const output = new RenditionOutput({
    source: {
      url: ctx.icecastUrl,
      mount: plan.mount,
      user: ctx.station.sourceUser,
      password: ctx.station.sourcePassword,
      contentType: kind.contentType(ctx.input),
      ice: { ...ctx.station.ice, bitrate, audioInfo },
      legacySource: ctx.legacySource,
      instanceName: ctx.instanceName,
      connectTimeoutMs: ctx.connectTimeoutMs,
      logger: log,
    },
    header: () => pipe!.header(),
    liveAtSync: kind.framer === 'webm',
    policy: ctx.reconnect,
    log,
    maxQueueBytes: ctx.maxQueueBytes,
    metrics: ctx.metrics,
    clock: ctx.clock,
  });
  pipe = kind.runsFfmpeg
    ? new FfmpegPipe(plan, kind, output, {
      input: ctx.input, ffmpegPath: ctx.ffmpegPath, logger: log, maxQueueBytes: ctx.maxQueueBytes, metrics: ctx.metrics, clock: ctx.clock,
      shedCounter: ctx.metrics?.audioShed.labels({ station: ctx.station.id, why: 'encoder-behind' }),
    })
    : kind.feed === 'upload' ? new UploadCopyPipe(plan, kind, output) : new CopyPipe(plan, kind, output);
  return pipe;
};

/** One rendition in a status frame. An output ends only with its broadcast (`over`). */
export function renditionStatus(p: Rendition, o: { input: InputMedia; publicBase: string; listeners: number; over: boolean }): RenditionStatus {
  const connection = p.output.state;
  return {
    mount: p.plan.mount,
    format: p.plan.format,
    contentType: p.kind.contentType(o.input),
    url: `${o.publicBase}${p.plan.mount}`,
    state: o.over ? 'ended' : connection === 'connecting' || connection === 'reconnecting' ? connection : 'live',
    listeners: o.listeners,
    bytesOut: p.output.bytesOut,
  };
}

