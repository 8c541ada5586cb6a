// What every WebSocket door of icewire (the broadcasters' /ws/, the guests' /ws/_guest/) does the
// same way: refuse a socket over its address's limit or from another origin before it says
// anything, refuse upgrades while shutting down, tell open sockets on shutdown, and end a socket
// with an error frame and its close code.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type WebSocketServer } from 'ws';
import { originAllowed } from '../auth/auth-gate.js';
import type { Clock } from '../clock.js';
import { ERRORS, IcewireError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { type ServerFrame } from '../../www/src/wire-contract.js';
import type { ConnectionCounter } from './address-limits.js';

/**
 * What refuses a new socket before it says anything: too many from its address (counted until it
 * closes), or a page from another origin. Undefined when it may go on.
 */
export function socketRefusal(ws: WebSocket, req: IncomingMessage, addr: string, connections: ConnectionCounter, cfg: Parameters<typeof originAllowed>[2]): IcewireError | undefined {
  if (!connections.acquire(addr)) return new IcewireError('IW_ERR_LIMIT_CONNECTIONS');
  ws.once('close', () => connections.release(addr));
  if (!originAllowed(req.headers.origin, req.headers.host, cfg)) {
    return new IcewireError('IW_ERR_ORIGIN_FORBIDDEN', { detail: `origin ${String(req.headers.origin).slice(0, 100)}` });
  }
  return undefined;
}

/** An upgrade for one of icewire's WebSocket servers: refused with 503 while it shuts down. */
export function acceptUpgrade(wss: WebSocketServer, closing: boolean, req: IncomingMessage, socket: Duplex, head: Buffer, onConnection: (ws: WebSocket) => void): void {
  if (closing) socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  else wss.handleUpgrade(req, socket, head, onConnection);
}

/**
 * A WebSocket server shuts down: every open socket is told IW_ERR_SHUTTING_DOWN and closed; those
 * that have not finished their close within 2 s are cut.
 */
export async function closeSocketServer(wss: WebSocketServer, clock: Clock): Promise<void> {
  for (const ws of wss.clients) sendError(ws, new IcewireError('IW_ERR_SHUTTING_DOWN'));
  await new Promise<void>((resolve) => {
    const cancel = clock.after(2000, () => {
      for (const ws of wss.clients) ws.terminate();
      resolve();
    });
    wss.close(() => { cancel(); resolve(); });
  });
}

/** Send the error frame, then close with its code; the reason field carries the stable code. */
export function sendError(ws: WebSocket, err: IcewireError, metrics?: Metrics): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  metrics?.errors.inc({ code: err.code });
  const frame: ServerFrame = { type: 'error', data: { code: err.code, message: err.message } };
  ws.send(JSON.stringify(frame));
  ws.close(ERRORS[err.code].close, err.code);
}
