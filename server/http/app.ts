// The express app, built by a factory apart from listen() so supertest can drive it without a
// port: the pages, the public API and /healthz.
import express, { type NextFunction, type Request, type Response } from 'express';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import type { StatsPoller } from '../icecast/stats-poller.js';
import { contentTypeFor } from '../pipeline/ffmpeg-args.js';
import { passthroughFormat } from '../broadcast/station-plan.js';
import { STATION_MOUNT_RE } from '../config/schema.js';
import { GUEST_PAGE_PREFIX } from '../../www/src/wire-contract.js';
import { WWW_DIR, WWW_JS_DIR } from '../paths.js';
import type { Registry } from 'prom-client';
import { adminRoutes } from './admin-routes.js';
import { recordingsRoutes, type RecordingsRoutesDeps } from './recordings-routes.js';
import { answerError } from './error-answer.js';
import { requestDeadlines } from './request-deadlines.js';

export interface AppDeps {
  /** The current config (it changes on reload). */
  readonly config: () => Pick<Config, 'auth' | 'mounts' | 'icecast' | 'limits' | 'admin' | 'metrics' | 'trustProxy' | 'instanceName' | 'guests'>;
  /** Prometheus registry, served at /metrics unless metrics are off or on their own address (asked at the first scrape: prom-client loads on first use). */
  readonly metricsRegistry?: (() => Registry) | undefined;
  readonly registry: BroadcastRegistry;
  readonly stats: StatsPoller | undefined;
  readonly logger: Logger;
  /** Login and the broadcasters' own recordings (served in accounts mode). */
  readonly recordings?: RecordingsRoutesDeps | undefined;
  /** Desktop source clients' "now playing" (Icecast's /admin/metadata and /admin.cgi). */
  readonly sourceMetadata?: { readonly paths: readonly string[]; readonly handle: (req: Request, res: Response) => void } | undefined;
}

export function createApp(deps: AppDeps): express.Express {
  const { registry, stats, logger } = deps;
  const app = express();
  // Icecast's addresses can't change without a restart; stations, mounts and limits can.
  const { icecast } = deps.config();
  app.disable('x-powered-by');
  // req.ip believes X-Forwarded-For only when the operator said a local proxy is in front
  app.set('trust proxy', deps.config().trustProxy ? 'loopback' : false);
  const listenBase = icecast.publicUrl.replace(/\/+$/, '');
  const csp = [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    // blob: is the studio's decks playing the host's own local files
    `media-src 'self' ${new URL(icecast.publicUrl).origin} blob:`, "base-uri 'none'", "form-action 'self'",
  ].join('; ');

  // first: every request's body has a deadline (a streaming route opts out, see request-deadlines.ts)
  app.use(requestDeadlines({ logger }));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    // The broadcaster page needs the microphone and camera of its own origin.
    res.setHeader('Permissions-Policy', 'microphone=(self), camera=(self)');
    // The same policy nginx/icewire.conf sets: no inline code, sockets to this origin only,
    // media from Icecast's public address.
    res.setHeader('Content-Security-Policy', csp);
    next();
  });

  const notFound = (res: Response): void => answerError(res, new IcewireError('IW_ERR_NOT_FOUND'));

  app.get('/healthz', async (_req, res) => {
    await stats?.poll();
    const reachable = stats?.isReachable;
    res.status(reachable === false ? 503 : 200).json({
      ok: reachable !== false,
      icecast: reachable === false ? 'unreachable' : reachable === true ? 'reachable' : 'unknown',
      broadcasts: registry.size,
    });
  });

  if (deps.sourceMetadata !== undefined) app.get([...deps.sourceMetadata.paths], deps.sourceMetadata.handle);
  app.use('/api/admin', adminRoutes({ token: () => deps.config().admin.token, config: deps.config, registry, logger }));
  if (deps.recordings !== undefined) app.use(recordingsRoutes(deps.recordings));

  const { metricsRegistry } = deps;
  if (metricsRegistry !== undefined) {
    app.get('/metrics', async (_req, res) => {
      const reg = metricsRegistry();
      res.setHeader('Content-Type', reg.contentType);
      res.send(await reg.metrics());
    });
  }

  app.get('/api/info', (_req, res) => {
    const config = deps.config();
    res.json({
      authMode: config.auth.mode,
      maxFrameBytes: config.limits.maxFrameBytes,
      guests: { enabled: config.auth.mode === 'accounts' && config.guests.enabled, maxGuests: config.guests.maxGuests },
      mounts: config.auth.mode === 'passthrough' ? [] : Object.entries(config.mounts).map(([id, m]) => ({
        id,
        name: m.name ?? id,
        description: m.description ?? '',
        renditions: m.renditions.map((r) => ({ mount: r.mount, format: r.format, contentType: contentTypeFor(r.format, undefined), url: `${listenBase}${r.mount}` })),
      })),
    });
  });

  app.get('/api/status/:mount', (req, res) => {
    const config = deps.config();
    const id = String(req.params.mount);
    const b = registry.get(id);
    if (b !== undefined) {
      const s = b.status();
      // reconnecting is still on air for listeners: the stream continues (on silence if need be)
      res.json({ id, onAir: s.state === 'live' || s.state === 'reconnecting', state: s.state, since: s.since ?? null, listeners: s.listeners, title: b.title ?? null, video: b.input.video !== undefined, renditions: s.renditions });
      return;
    }
    let renditions: { mount: string; format: string }[];
    if (config.auth.mode === 'passthrough') {
      if (!STATION_MOUNT_RE.test(id)) throw new IcewireError('IW_ERR_MOUNT_UNKNOWN');
      renditions = [{ mount: `/${id}`, format: passthroughFormat(id, { video: undefined }) }];
    } else {
      const m = Object.hasOwn(config.mounts, id) ? config.mounts[id] : undefined;
      if (m === undefined) throw new IcewireError('IW_ERR_MOUNT_UNKNOWN');
      renditions = m.renditions;
    }
    res.json({
      id, onAir: false, state: 'off-air', since: null, listeners: 0, title: null, video: false,
      renditions: renditions.map((r) => ({ mount: r.mount, format: r.format, contentType: contentTypeFor(r.format as never, undefined), url: `${listenBase}${r.mount}`, listeners: stats?.listeners(r.mount) ?? 0 })),
    });
  });

  app.get('/listen/:mount', (_req, res) => {
    res.sendFile(join(WWW_DIR, 'listen.html'));
  });
  // The invitation token is in the address's fragment (/guest/<station>#<token>), which browsers
  // never send: it reaches neither this log nor a proxy's access log.
  app.get(`${GUEST_PAGE_PREFIX}:mount`, (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.sendFile(join(WWW_DIR, 'guest.html'));
  });
  app.use('/js', express.static(WWW_JS_DIR, { fallthrough: false }));
  // www/ holds the pages' TypeScript sources too; only the built files are served
  app.use(['/src', '/tsconfig.json'], (_req, res) => notFound(res));
  app.use(express.static(WWW_DIR, { index: 'index.html', extensions: ['html'] }));

  app.use((_req, res) => notFound(res));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // express.static's misses arrive as errors with status 404
    if (!(err instanceof IcewireError) && (err as { status?: number }).status === 404) {
      notFound(res);
      return;
    }
    const e = toIcewireError(err);
    if (e.httpStatus >= 500) logger.error('http request failed', { code: e.code, detail: e.detail });
    // already answered (e.g. 408 to a body too slow, whose reading then failed)
    if (res.headersSent) return;
    answerError(res, e);
  });
  return app;
}
