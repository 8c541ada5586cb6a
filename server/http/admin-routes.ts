// The station manager API: who is live, and ending a broadcast with a reason the broadcaster
// sees. Bearer token from the config (admin.token / admin.tokenFile / ICEWIRE_ADMIN_TOKEN).
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';

const MAX_REASON = 300;

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (m === null) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function adminRoutes(deps: { token: () => string | undefined; registry: BroadcastRegistry; logger: Logger }): express.Router {
  const router = express.Router();
  router.use((req: Request, _res: Response, next: NextFunction) => {
    const token = deps.token();
    if (token === undefined) throw new IcewireError('IW_ERR_ADMIN_DISABLED');
    if (!tokenMatches(req.headers.authorization, token)) {
      deps.logger.warn('manager API: wrong or missing token', { path: req.path, addr: req.ip });
      throw new IcewireError('IW_ERR_ADMIN_AUTH');
    }
    next();
  });

  router.get('/broadcasts', (_req, res) => {
    res.json({
      broadcasts: deps.registry.all().map((b) => {
        const s = b.status();
        return {
          stationMount: b.stationMount, ingest: b.ingest, user: b.user, state: s.state, startedAt: b.startedAt.toISOString(),
          since: s.since ?? null, bytesIn: s.bytesIn, bytesOut: s.bytesOut, listeners: s.listeners,
          title: b.title ?? null, resumes: b.resumes,
          renditions: s.renditions.map((r) => ({ mount: r.mount, format: r.format, state: r.state, listeners: r.listeners, bytesOut: r.bytesOut })),
        };
      }),
    });
  });

  router.post('/broadcasts/:mount/end', express.json({ limit: '4kb' }), async (req, res) => {
    const b = deps.registry.get(String(req.params.mount));
    if (b === undefined || b.isEnding) throw new IcewireError('IW_ERR_NOT_FOUND', { message: 'Nobody is live on that station mount.' });
    const raw = (req.body as { reason?: unknown } | undefined)?.reason;
    const reason = typeof raw === 'string' ? raw.trim().slice(0, MAX_REASON) : '';
    const message = reason !== '' ? `The station ended your broadcast: ${reason}` : 'The station ended your broadcast.';
    deps.logger.info('manager ended a broadcast', { station: b.stationMount, user: b.user, reason });
    await b.end('kicked', new IcewireError('IW_ERR_KICKED', { message }));
    res.json({ ended: true, stationMount: b.stationMount });
  });

  return router;
}
