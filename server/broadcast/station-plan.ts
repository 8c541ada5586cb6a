// Which Icecast mounts a broadcast on a station mount feeds, in which formats, with which
// credentials and ice-* headers. Pure: config in, plan out.
import type { Config, RenditionFormat } from '../config/schema.js';
import { STATION_MOUNT_RE } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { IceHeaders } from '../icecast/icecast-source.js';
import type { RenditionPlan } from '../pipeline/ffmpeg-args.js';
import type { InputMedia } from '../pipeline/media-type.js';

export interface StationPlan {
  /** Station mount id, e.g. "live" (accounts) or "live.ogg" (passthrough). */
  readonly id: string;
  readonly renditions: readonly RenditionPlan[];
  readonly ice: IceHeaders;
  readonly sourceUser: string;
  readonly sourcePassword: string;
}

export type PlanResult = { ok: true; plan: StationPlan } | { ok: false; code: ErrorCode; detail: string };

/** Passthrough: the format follows the name's extension, else the input (audio -> Ogg/Opus, video -> WebM). */
export function passthroughFormat(name: string, input: Pick<InputMedia, 'video'>): RenditionFormat {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  if (ext === 'ogg' || ext === 'opus' || ext === 'oga') return 'ogg-opus';
  if (ext === 'mp3') return 'mp3';
  if (ext === 'webm') return 'webm';
  return input.video !== undefined ? 'webm' : 'ogg-opus';
}

export function planStation(
  config: Pick<Config, 'auth' | 'mounts' | 'icecast'>,
  id: string,
  input: InputMedia,
  hello: { user?: string | undefined; password?: string | undefined; name?: string | undefined; description?: string | undefined },
): PlanResult {
  if (!STATION_MOUNT_RE.test(id)) {
    return { ok: false, code: 'IW_ERR_MOUNT_UNKNOWN', detail: `invalid station mount name ${JSON.stringify(id.slice(0, 80))}` };
  }
  if (config.auth.mode === 'passthrough') {
    const format = passthroughFormat(id, input);
    return {
      ok: true,
      plan: {
        id,
        renditions: [{ mount: `/${id}`, format, bitrate: undefined }],
        ice: { name: hello.name ?? id, description: hello.description, public: false },
        // Icecast decides: the broadcaster's own source credentials (a configured default fills a blank user).
        sourceUser: hello.user !== undefined && hello.user !== '' ? hello.user : config.icecast.sourceUser,
        sourcePassword: hello.password ?? '',
      },
    };
  }
  // own keys only: "constructor" is a valid name and must not find Object.prototype's
  const station = Object.hasOwn(config.mounts, id) ? config.mounts[id] : undefined;
  if (station === undefined) return { ok: false, code: 'IW_ERR_MOUNT_UNKNOWN', detail: `no station mount "${id}" in the config` };
  return {
    ok: true,
    plan: {
      id,
      renditions: station.renditions.map((r) => ({ mount: r.mount, format: r.format, bitrate: r.bitrate, ...(r.charset !== undefined ? { charset: r.charset } : {}) })),
      ice: { name: station.name ?? id, description: station.description, genre: station.genre, url: station.url, public: station.public },
      sourceUser: config.icecast.sourceUser,
      sourcePassword: config.icecast.sourcePassword ?? '',
    },
  };
}
