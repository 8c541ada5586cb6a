// How long a client may take over an HTTP request on the main server, so that slow clients (a
// slowloris that sends a byte every few seconds) can't hold connections, sockets and parsers open
// without end. Three rules:
//
// - Head: HEADERS_TIMEOUT_MS from the first byte to the end of the headers, for every request and
//   every WebSocket upgrade (Node's server.headersTimeout, checked every second).
// - Body: BODY_TIMEOUT_MS from the end of the head to the end of the body, for every request
//   (requestDeadlines(), the app's first middleware). Past it: 408 IW_ERR_HTTP_TIMEOUT if nothing
//   was answered yet, and the connection is closed either way.
// - Idle: a connection on which nothing moves in either direction for IDLE_TIMEOUT_MS is destroyed
//   (Node's server.timeout): e.g. a download whose client stopped reading.
//
// Node's own requestTimeout is not used: it is one number for the whole server, counted until the
// body is complete, and would cut a request whose body *is* a live stream (a source client's
// `PUT /<mount>`, which lasts the whole show). Such a route opts out explicitly, once it has
// authenticated the client: streamingRequest(req). WebSockets are not affected: after the upgrade
// the socket belongs to ws (which clears the idle timeout) and the ingest server's own rules
// (helloTimeoutMs, heartbeat, idleTimeoutMs) apply. A response that streams (a recording download)
// needs nothing: its request is complete at once, and it is cut only when idle.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { IcewireError } from '../errors.js';
import { answerError } from './error-answer.js';
import type { Logger } from '../log.js';

export const HEADERS_TIMEOUT_MS = 10_000;
export const BODY_TIMEOUT_MS = 10_000;
export const IDLE_TIMEOUT_MS = 60_000;
/** After a 408, the connection is destroyed this long later if it has not closed by itself. */
const CLOSE_GRACE_MS = 1000;

const DEADLINE = Symbol('icewire.bodyDeadline');
type WithDeadline = IncomingMessage & { [DEADLINE]?: NodeJS.Timeout };

/** The body deadline as express middleware: put it before every route. */
export function requestDeadlines(opts: { bodyTimeoutMs?: number; logger: Logger }): (req: Request, res: Response, next: NextFunction) => void {
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
  return (req, res, next) => {
    const timer = setTimeout(() => {
      // the body arrived (or the client left): nothing to do
      if (req.complete || req.socket.destroyed) return;
      opts.logger.info('request body too slow: connection closed', {
        code: 'IW_ERR_HTTP_TIMEOUT', method: req.method, path: req.path, addr: req.ip, bodyTimeoutMs,
      });
      if (!res.headersSent) {
        res.setHeader('Connection', 'close');
        answerError(res, new IcewireError('IW_ERR_HTTP_TIMEOUT'));
      }
      // Connection: close ends the socket once the answer is out; a client that does not let it
      // go out is cut anyway
      const socket = req.socket;
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    }, bodyTimeoutMs);
    timer.unref();
    (req as WithDeadline)[DEADLINE] = timer;
    req.once('end', () => clearTimeout(timer));
    res.once('close', () => { if (req.complete) clearTimeout(timer); });
    next();
  };
}

/**
 * This request streams its body for as long as it lasts (e.g. a source client's upload, once
 * authenticated): the body deadline no longer applies. `idleMs` replaces the connection's idle
 * timeout (0: none; default: keep IDLE_TIMEOUT_MS).
 */
export function streamingRequest(req: IncomingMessage, opts: { idleMs?: number } = {}): void {
  clearTimeout((req as WithDeadline)[DEADLINE]);
  if (opts.idleMs !== undefined) req.socket.setTimeout(opts.idleMs);
}
