// An error told over HTTP: `{ "error": { "code", "message" } }` with the error's status and, when
// it says when to try again, Retry-After. Written directly, not through express's res.json(): an
// error answer is never revalidated, so it gets no ETag (hashing the body was 10–15 % of a
// refused login's cost), and a refusal made before express (a flood's login guesses) costs no
// routing at all.
import type { ServerResponse } from 'node:http';
import type { IcewireError } from '../errors.js';

export function answerError(res: ServerResponse, e: Pick<IcewireError, 'code' | 'message' | 'httpStatus' | 'retryAfterS'>): void {
  const body = JSON.stringify({ error: { code: e.code, message: e.message } });
  res.statusCode = e.httpStatus;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
  res.end(body);
}
