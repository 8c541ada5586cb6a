// Who is asking: the address every per-client limit and log line uses, for every front door.
import type { IncomingMessage } from 'node:http';

/** Only a proxy on this machine (nginx in front) may speak for the client. */
function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

/** Client address: the peer, or behind a trusted local proxy the last X-Forwarded-For hop. */
export function clientAddress(req: Pick<IncomingMessage, 'socket' | 'headers'>, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy || !isLoopback(peer)) return peer;
  const xff = req.headers['x-forwarded-for'];
  const value = Array.isArray(xff) ? xff[xff.length - 1] : xff;
  const last = value?.split(',').map((s) => s.trim()).filter((s) => s.length > 0).pop();
  return last ?? peer;
}
