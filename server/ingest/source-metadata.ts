// "Now playing" from desktop source clients, the way they send it to Icecast: butt, Mixxx and
// ezstream (libshout) call `GET /admin/metadata?mode=updinfo&mount=/live&song=…` with the
// credentials they stream with; SHOUTcast-style clients call `/admin.cgi?mode=updinfo&pass=…&song=…`.
// The credentials go through the one login gate, the title through the broadcast's
// setMetadata() (cleanTitleText, the one boundary for titles). The answer is Icecast's, so
// clients see what they expect. Works on the daemon's own address and on `sourceListen`.
// Neither the query (admin.cgi carries a password in it) nor the credentials are logged.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, type AuthGate } from '../auth/auth-gate.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import { toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { ANSWERS, answerFor, basicCredentials, METADATA_OK, parseMetadataQuery, type SourceAnswer } from './icecast-protocol.js';
import type { IngestConfig } from './ingest-server.js';
import { authenticateSource, SOURCE_USER, stationTarget } from './source-auth.js';

export const METADATA_PATHS = ['/admin/metadata', '/admin.cgi'] as const;

export interface SourceMetadataOptions {
  readonly config: () => IngestConfig;
  readonly registry: BroadcastRegistry;
  readonly auth: AuthGate;
  readonly logger: Logger;
  /**
   * Whether X-Forwarded-For may name the client (config trustProxy). false on `sourceListen`:
   * what is in front of it is a stream proxy at most, so the header would be the client's own.
   */
  readonly trustProxy?: boolean;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The handler for METADATA_PATHS (GET). */
export function sourceMetadataHandler(o: SourceMetadataOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const answer = (res: ServerResponse, a: SourceAnswer): void => {
    res.writeHead(a.status, {
      'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store',
      ...(a.authenticate === true ? { 'WWW-Authenticate': 'Basic realm="icewire"' } : {}),
      ...(a.retryAfterS !== undefined ? { 'Retry-After': String(a.retryAfterS) } : {}),
    });
    res.end(`${a.text}\r\n`);
  };
  return (req, res) => {
    void (async () => {
      const cfg = o.config();
      const addr = clientAddress(req, o.trustProxy ?? cfg.trustProxy);
      const url = req.url ?? '';
      const q = parseMetadataQuery(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
      const basic = basicCredentials(req.headers.authorization);
      const creds = basic ?? (q.pass !== undefined ? { user: q.user ?? SOURCE_USER, password: q.pass } : undefined);
      try {
        if (q.mode !== 'updinfo') { answer(res, { status: 400, reason: 'Bad Request', text: 'Unknown mode' }); return; }
        const live = (station: string): ReturnType<BroadcastRegistry['get']> => {
          const b = o.registry.get(station);
          return b === undefined || b.isEnding ? undefined : b;
        };
        let b;
        if (q.mount !== undefined) {
          const target = stationTarget(cfg, q.mount);
          const { user, guess } = await authenticateSource(o.auth, cfg, { addr, target, creds });
          b = live(target.station);
          if (guess === undefined) {
            if (b?.user !== user) b = undefined;
          } else if (b === undefined) {
            // passthrough, nothing on air: nobody judged the password
            guess.withdrawn();
          } else if (sameSecret(b.plan.sourcePassword, creds?.password ?? '') && b.user === user) {
            // the credentials Icecast accepted for this mount are the proof
            guess.accepted();
          } else {
            // not what Icecast took for this mount: a failed guess like any other
            guess.refused();
            b = undefined;
          }
        } else if (cfg.auth.mode === 'accounts') {
          // admin.cgi names no mount: the one show this host has on air
          const account = await o.auth.login({ door: 'icecast-source', addr, user: creds?.user, password: creds?.password });
          const mine = o.registry.all().filter((x) => !x.isEnding && x.user === account.name);
          b = mine.length === 1 ? mine[0] : undefined;
        }
        if (b === undefined) { answer(res, ANSWERS.noSource); return; }
        b.setMetadata(q.song !== undefined ? { title: q.song } : { title: q.title, artist: q.artist });
        o.logger.info('now playing from a source client', { station: b.stationMount, user: b.user, title: b.title });
        res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', 'Cache-Control': 'no-cache, no-store' });
        res.end(METADATA_OK);
      } catch (err) {
        const e = toIcewireError(err);
        if (e.code === 'IW_ERR_INTERNAL') o.logger.error('metadata update failed', { err });
        // an unknown mount is Icecast's "Source does not exist"
        answer(res, e.code === 'IW_ERR_MOUNT_UNKNOWN' ? ANSWERS.noSource : answerFor(e.code, e.message, e.retryAfterS));
      }
    })();
  };
}
