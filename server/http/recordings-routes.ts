// Broadcasters' own recordings over HTTP (accounts mode): log in for a bearer token, list your
// recordings, download one. A download is served only to the broadcaster its sidecar names, and
// only from inside recordings.dir (recorder/recording-index.ts checks the path).
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { clientAddress, type AuthGate } from '../auth/auth-gate.js';
import { listRecordings, resolveRecording } from '../recorder/recording-index.js';
import type { RecordingLedger } from '../recorder/recording-ledger.js';
import { contentTypeForRecording, failureMessage } from '../recorder/recording-names.js';
import { answerError } from './error-answer.js';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const MAX_SESSIONS = 10000;
/** Sessions one broadcaster may hold at once (the oldest goes first). */
export const MAX_SESSIONS_PER_USER = 20;
const TOKEN_RE = /^Bearer ([A-Za-z0-9_-]{43})$/i;
const PREFIX = '/api/recordings';
const LOGIN_PATH = '/api/login';

export interface Session {
  readonly user: string;
  readonly expiresAt: number;
}

/**
 * Login sessions in memory (a restart logs everyone out). Tokens are 32 random bytes; only their
 * SHA-256 is kept. Bounded: expired sessions are dropped first, then the oldest.
 */
export class SessionStore {
  private readonly byHash = new Map<string, Session>();

  constructor(private readonly opts: { ttlMs?: number; maxSessions?: number; maxPerUser?: number; now?: () => number } = {}) {}

  private get now(): number {
    return (this.opts.now ?? Date.now)();
  }

  get size(): number {
    return this.byHash.size;
  }

  create(user: string): { token: string; expiresAt: number } {
    const now = this.now;
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + (this.opts.ttlMs ?? SESSION_TTL_MS);
    const mine = [...this.byHash].filter(([, s]) => s.user === user);
    for (const [h] of mine.slice(0, Math.max(0, mine.length - (this.opts.maxPerUser ?? MAX_SESSIONS_PER_USER) + 1))) this.byHash.delete(h);
    if (this.byHash.size >= (this.opts.maxSessions ?? MAX_SESSIONS)) {
      for (const [h, s] of this.byHash) if (s.expiresAt <= now) this.byHash.delete(h);
      // Map order is insertion order: the first entries are the oldest sessions
      for (const h of this.byHash.keys()) {
        if (this.byHash.size < (this.opts.maxSessions ?? MAX_SESSIONS)) break;
        this.byHash.delete(h);
      }
    }
    this.byHash.set(hashToken(token), { user, expiresAt });
    return { token, expiresAt };
  }

  /** The session's user, or undefined (unknown or expired). */
  get(token: string): string | undefined {
    const h = hashToken(token);
    const s = this.byHash.get(h);
    if (s === undefined) return undefined;
    if (s.expiresAt <= this.now) {
      this.byHash.delete(h);
      return undefined;
    }
    return s.user;
  }

  delete(token: string): void {
    this.byHash.delete(hashToken(token));
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface RecordingsRoutesDeps {
  /** The current config (broadcasters and the auth mode change on reload). */
  readonly config: () => Pick<Config, 'auth' | 'broadcasters' | 'trustProxy'>;
  /** recordings.dir */
  readonly dir: string;
  readonly logger: Logger;
  /** The daemon's one login gate (the same failed-login limiter as the broadcasters' WebSocket). */
  readonly auth: AuthGate;
  /** What the disk could not be told (recordings that could not be made or finished). */
  readonly ledger?: RecordingLedger | undefined;
  readonly sessions?: SessionStore;
  readonly now?: () => number;
}

/**
 * A login from an address over its failure limit from which no account logged in lately
 * (AuthGate.refuseEarly()) is answered here at once, before express and before its body is read:
 * nothing in the body could let it in, and a flood's refusals then cost little more than Node's
 * own parsing. True when it answered.
 */
export function loginRefusedEarly(deps: Pick<RecordingsRoutesDeps, 'config' | 'auth'>, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'POST' || (req.url !== LOGIN_PATH && !req.url?.startsWith(`${LOGIN_PATH}?`))) return false;
  const cfg = deps.config();
  if (cfg.auth.mode !== 'accounts') return false;
  try {
    deps.auth.refuseEarly({ door: 'http-login', addr: clientAddress(req, cfg.trustProxy) });
    return false;
  } catch (err) {
    if (!(err instanceof IcewireError)) throw err;
    answerError(res, err);
    return true;
  }
}

/** POST /api/login, POST /api/logout, GET /api/recordings, GET /api/recordings/<station-mount>/<file>. */
export function recordingsRoutes(deps: RecordingsRoutesDeps): express.Router {
  const router = express.Router();
  const sessions = deps.sessions ?? new SessionStore({ ...(deps.now !== undefined ? { now: deps.now } : {}) });
  const log = deps.logger;

  const accountsOnly = (_req: Request, _res: Response, next: NextFunction): void => {
    if (deps.config().auth.mode !== 'accounts') throw new IcewireError('IW_ERR_NOT_FOUND');
    next();
  };
  /** The caller's name, from a live session of a broadcaster still in the config. */
  const caller = (req: Request): string => {
    const m = TOKEN_RE.exec(req.headers.authorization ?? '');
    const user = m === null ? undefined : sessions.get(m[1]!);
    if (user === undefined || !deps.config().broadcasters.some((b) => b.name === user)) throw new IcewireError('IW_ERR_AUTH_REQUIRED');
    return user;
  };

  // the daemon asks this before express; here for an app driven without the daemon (tests)
  const refuseEarly = (req: Request, res: Response, next: NextFunction): void => {
    if (!loginRefusedEarly(deps, req, res)) next();
  };

  router.post(LOGIN_PATH, accountsOnly, refuseEarly, express.json({ limit: '8kb' }), async (req, res) => {
    const cfg = deps.config();
    const addr = clientAddress(req, cfg.trustProxy);
    const body = req.body as { user?: unknown; password?: unknown } | undefined;
    if (typeof body?.user !== 'string' || typeof body.password !== 'string') throw new IcewireError('IW_ERR_HTTP_BAD_REQUEST');
    const account = await deps.auth.login({ door: 'http-login', addr, user: body.user, password: body.password });
    const s = sessions.create(account.name);
    log.info('broadcaster logged in', { user: account.name, addr });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ token: s.token, expiresAt: new Date(s.expiresAt).toISOString() });
  });

  router.post('/api/logout', accountsOnly, (req, res) => {
    const m = TOKEN_RE.exec(req.headers.authorization ?? '');
    if (m !== null) sessions.delete(m[1]!);
    res.status(204).end();
  });

  router.get(PREFIX, accountsOnly, async (req, res) => {
    const user = caller(req);
    const list = await listRecordings(deps.dir, user, deps.ledger);
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({
      recordings: list.map((r) => ({
        name: r.name, stationMount: r.stationMount, startedAt: r.startedAt, endedAt: r.endedAt, bytes: r.bytes, format: r.format,
        url: r.name === null ? null : `${PREFIX}/${r.stationMount}/${r.name}`,
        failed: r.failed === null ? null : { reason: r.failed.reason, at: r.failed.at, message: failureMessage(r.failed.reason, r.name !== null) },
      })),
    });
  });

  // Everything else under /api/recordings is a download or nothing: the raw path is split and
  // checked here (not by route parameters), so no form of it can reach another handler.
  router.use(PREFIX, accountsOnly, async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new IcewireError('IW_ERR_NOT_FOUND');
    const user = caller(req);
    const parts = (req.url.split('?')[0] ?? '').split('/');
    if (parts.length !== 3 || parts[0] !== '') throw new IcewireError('IW_ERR_RECORDING_BAD_NAME');
    let station: string;
    let file: string;
    try {
      station = decodeURIComponent(parts[1]!);
      file = decodeURIComponent(parts[2]!);
    } catch {
      throw new IcewireError('IW_ERR_RECORDING_BAD_NAME');
    }
    const found = await resolveRecording(deps.dir, station, file);
    if (!found.ok) {
      if (found.reason === 'bad-name') throw new IcewireError('IW_ERR_RECORDING_BAD_NAME');
      throw new IcewireError('IW_ERR_NOT_FOUND', { message: 'There is no such recording.' });
    }
    if (found.meta?.user !== user) {
      log.info('recording download refused', { user, recording: `${station}/${file}` });
      throw new IcewireError('IW_ERR_RECORDING_FORBIDDEN');
    }
    res.attachment(`${station}-${file}`);
    res.setHeader('Content-Type', contentTypeForRecording(found.format));
    res.setHeader('Cache-Control', 'private, no-store');
    res.sendFile(found.path, { dotfiles: 'deny', cacheControl: false }, (err?: Error) => {
      if (err === undefined) return;
      if (!res.headersSent) next((err as { status?: number }).status === 404 ? new IcewireError('IW_ERR_NOT_FOUND') : err);
    });
  });

  // malformed bodies (bad JSON, too large) are the client's error, not a 500
  router.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number } | undefined;
    // body-parser's errors carry a `type` (entity.parse.failed, entity.too.large…) and a 4xx status
    if (!(err instanceof IcewireError) && typeof e?.type === 'string' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      next(new IcewireError('IW_ERR_HTTP_BAD_REQUEST', { detail: e.type }));
      return;
    }
    next(err);
  });

  return router;
}
