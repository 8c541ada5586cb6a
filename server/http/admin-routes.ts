// The station manager API: who is live, and ending a broadcast with a reason the broadcaster
// sees. Bearer token from the config (admin.token / admin.tokenFile / ICEWIRE_ADMIN_TOKEN).
//
// With several daemons on one Icecast (docs/scaling.md) any daemon answers for all of them: the
// list adds the shows Icecast has that this daemon does not hold, from Icecast's statistics, with
// the daemon that holds each (its instanceName, from the source's User-Agent; needs the Icecast
// admin credentials). Ending a show held elsewhere answers 409 naming that daemon: a daemon never
// contacts another daemon, only Icecast.
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import { fetchIcecastSources, instanceFromUserAgent, isIcewireUserAgent, type LiveSource, type SourcesAnswer } from '../icecast/icecast-sources.js';

const MAX_REASON = 300;
/** How long a request waits for Icecast's statistics before answering with this daemon's shows only. */
const ICECAST_STATS_TIMEOUT_MS = 4000;

export type AdminConfig = Pick<Config, 'auth' | 'mounts' | 'icecast' | 'instanceName'>;

export interface AdminDeps {
  readonly token: () => string | undefined;
  readonly config: () => AdminConfig;
  readonly registry: BroadcastRegistry;
  readonly logger: Logger;
  /** Who is live on Icecast now (tests may replace it). */
  readonly sources?: (cfg: AdminConfig) => Promise<SourcesAnswer>;
}

/** A show live on Icecast that this daemon does not hold. */
export interface RemoteShow {
  readonly stationMount: string;
  readonly here: false;
  /** The daemon holding it, when Icecast's admin statistics name one. */
  readonly instance: string | null;
  /** The holder's address as Icecast sees it (admin statistics only). */
  readonly sourceAddress: string | null;
  readonly state: 'live';
  readonly startedAt: string | null;
  readonly listeners: number;
  readonly title: string | null;
  readonly renditions: readonly { mount: string; listeners: number }[];
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (m === null) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Pure: group Icecast's live sources into shows by station mount, leaving out the stations in
 * `heldHere`. Accounts mode: a station's renditions are its configured mounts; other mounts
 * (fallback loops, sources of other software) are not shows. Passthrough mode: `/<name>` is
 * station `<name>`; with holders known, only icewire's sources count.
 */
export function remoteShows(sources: readonly LiveSource[], cfg: Pick<Config, 'auth' | 'mounts'>, heldHere: ReadonlySet<string>, holdersKnown: boolean): RemoteShow[] {
  const stationOf = new Map<string, string>();
  if (cfg.auth.mode === 'accounts') {
    for (const [id, m] of Object.entries(cfg.mounts)) for (const r of m.renditions) stationOf.set(r.mount, id);
  }
  const byStation = new Map<string, LiveSource[]>();
  for (const s of sources) {
    let station = stationOf.get(s.mount);
    if (cfg.auth.mode === 'passthrough' && (!holdersKnown || isIcewireUserAgent(s.userAgent))) station = s.mount.slice(1);
    if (station === undefined || heldHere.has(station)) continue;
    const list = byStation.get(station) ?? [];
    list.push(s);
    byStation.set(station, list);
  }
  return [...byStation].map(([stationMount, list]): RemoteShow => {
    const first = list.find((s) => instanceFromUserAgent(s.userAgent) !== undefined) ?? list[0]!;
    const starts = list.map((s) => s.startedAt).filter((t): t is string => t !== undefined).sort();
    return {
      stationMount,
      here: false,
      instance: instanceFromUserAgent(first.userAgent) ?? null,
      sourceAddress: first.address ?? null,
      state: 'live',
      startedAt: starts[0] ?? null,
      listeners: list.reduce((n, s) => n + s.listeners, 0),
      title: list.find((s) => s.title !== undefined && s.title !== '')?.title ?? null,
      renditions: list.map((s) => ({ mount: s.mount, listeners: s.listeners })),
    };
  }).sort((a, b) => a.stationMount.localeCompare(b.stationMount));
}

export function adminRoutes(deps: AdminDeps): express.Router {
  const router = express.Router();
  const askIcecast = deps.sources ?? ((cfg: AdminConfig) => fetchIcecastSources({
    url: cfg.icecast.url, adminUser: cfg.icecast.adminUser, adminPassword: cfg.icecast.adminPassword,
    timeoutMs: ICECAST_STATS_TIMEOUT_MS,
  }));

  /** Shows on Icecast held by other daemons; undefined when Icecast could not be asked. */
  const elsewhere = async (cfg: AdminConfig): Promise<{ shows: RemoteShow[]; holders: boolean } | undefined> => {
    let answer: SourcesAnswer;
    try {
      answer = await askIcecast(cfg);
    } catch (err) {
      deps.logger.warn('manager API: cannot read Icecast\'s statistics; listing this daemon\'s shows only', { url: cfg.icecast.url, error: (err as Error).message });
      return undefined;
    }
    const here = new Set(deps.registry.all().map((b) => b.stationMount));
    // Icecast's statistics trail its sources by a moment: a show this daemon just ended can still
    // be listed there under this daemon's own name.
    const shows = remoteShows(answer.sources, cfg, here, answer.holders).filter((s) => s.instance !== cfg.instanceName);
    return { shows, holders: answer.holders };
  };

  router.use((req: Request, _res: Response, next: NextFunction) => {
    const token = deps.token();
    if (token === undefined) throw new IcewireError('IW_ERR_ADMIN_DISABLED');
    if (!tokenMatches(req.headers.authorization, token)) {
      deps.logger.warn('manager API: wrong or missing token', { path: req.path, addr: req.ip });
      throw new IcewireError('IW_ERR_ADMIN_AUTH');
    }
    next();
  });

  router.get('/broadcasts', async (_req, res) => {
    const cfg = deps.config();
    const local = deps.registry.all().map((b) => {
      const s = b.status();
      return {
        stationMount: b.stationMount, here: true, instance: cfg.instanceName, ingest: b.ingest, user: b.user, state: s.state, startedAt: b.startedAt.toISOString(),
        since: s.since ?? null, bytesIn: s.bytesIn, bytesOut: s.bytesOut, listeners: s.listeners,
        title: b.title ?? null, resumes: b.resumes,
        renditions: s.renditions.map((r) => ({ mount: r.mount, format: r.format, state: r.state, listeners: r.listeners, bytesOut: r.bytesOut })),
      };
    });
    const remote = await elsewhere(cfg);
    res.json({
      instance: cfg.instanceName,
      icecast: remote === undefined ? 'unreachable' : 'reachable',
      holdersKnown: remote?.holders ?? false,
      broadcasts: [...local, ...(remote?.shows ?? [])],
    });
  });

  router.post('/broadcasts/:mount/end', express.json({ limit: '4kb' }), async (req, res) => {
    const station = String(req.params.mount);
    const b = deps.registry.get(station);
    if (b === undefined || b.isEnding) {
      const cfg = deps.config();
      const remote = await elsewhere(cfg);
      const show = remote?.shows.find((s) => s.stationMount === station);
      // Without admin statistics Icecast cannot say who a source is (nor tell a show that just
      // ended here from one elsewhere): then only what this daemon holds can be answered for.
      if (show === undefined || remote?.holders !== true) throw new IcewireError('IW_ERR_NOT_FOUND', { message: 'Nobody is live on that station mount.' });
      const who = show.instance !== null ? `icewire daemon "${show.instance}"` : 'another source (not an icewire daemon this one can name)';
      const at = show.sourceAddress !== null ? ` at ${show.sourceAddress}` : '';
      const err = new IcewireError('IW_ERR_ADMIN_HELD_ELSEWHERE', {
        message: `This show is held by ${who}${at}, not by "${cfg.instanceName}". End it there, or through the cluster's nginx, which sends this request to the daemon that holds the station.`,
      });
      deps.logger.info('manager asked to end a show held by another daemon', { station, heldBy: show.instance, sourceAddress: show.sourceAddress });
      res.status(err.httpStatus).json({ error: { code: err.code, message: err.message }, heldBy: { instance: show.instance, sourceAddress: show.sourceAddress } });
      return;
    }
    const raw = (req.body as { reason?: unknown } | undefined)?.reason;
    const reason = typeof raw === 'string' ? raw.trim().slice(0, MAX_REASON) : '';
    const message = reason !== '' ? `The station ended your broadcast: ${reason}` : 'The station ended your broadcast.';
    deps.logger.info('manager ended a broadcast', { station: b.stationMount, user: b.user, reason });
    await b.end('kicked', new IcewireError('IW_ERR_KICKED', { message }));
    res.json({ ended: true, stationMount: b.stationMount, instance: deps.config().instanceName });
  });

  return router;
}
