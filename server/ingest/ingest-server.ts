// The broadcasters' WebSocket endpoint, /ws/<station-mount>: webcast hello, auth, limits,
// heartbeat, then binary chunks into a Broadcast with backpressure (the socket is paused while
// ffmpeg's stdin is full).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Config } from '../config/schema.js';
import { ERRORS, IcewireError, toIcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Broadcast, type BroadcastDeps, type BroadcastSink, type BroadcastStatus } from '../broadcast/broadcast.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import { planStation } from '../broadcast/station-plan.js';
import { parseMime } from '../pipeline/media-type.js';
import { ConnectionCounter, FailedLoginLimiter } from './address-limits.js';
import { verifyPasswordFor } from './password-hash.js';
import { parseClientMessage, type Hello } from './webcast-protocol.js';

export const WS_PATH_PREFIX = '/ws/';
const HEARTBEAT_MS = 15000;
const PREVIOUS_END_WAIT_MS = 5000;

export type IngestConfig = Pick<Config, 'auth' | 'broadcasters' | 'mounts' | 'icecast' | 'limits' | 'allowedOrigins' | 'publicUrl' | 'trustProxy'>;

export interface IngestOptions {
  readonly config: IngestConfig;
  readonly registry: BroadcastRegistry;
  readonly broadcastDeps: BroadcastDeps;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** Client address: the peer, or behind a trusted local proxy the last X-Forwarded-For hop. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  // Only a proxy on this machine (nginx in front) may speak for the client.
  const fromLoopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  if (!trustProxy || !fromLoopback) return peer;
  const xff = req.headers['x-forwarded-for'];
  const value = Array.isArray(xff) ? xff[xff.length - 1] : xff;
  const last = value?.split(',').map((s) => s.trim()).filter((s) => s.length > 0).pop();
  return last ?? peer;
}

/** Pure: may a page from `origin` open a broadcast socket on a daemon reached as `host`? */
export function originAllowed(origin: string | undefined, host: string | undefined, cfg: Pick<Config, 'allowedOrigins' | 'publicUrl'>): boolean {
  // Non-browser webcast clients (Liquidsoap, butt-like tools) send no Origin; browsers always do.
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  // compare serialised origins: "https://Studio.Example.org:443" in the config is the browser's
  // "https://studio.example.org"
  if (cfg.allowedOrigins.some((a) => URL.canParse(a) && new URL(a).origin === o.origin)) return true;
  if (cfg.publicUrl !== undefined && new URL(cfg.publicUrl).origin === o.origin) return true;
  return host !== undefined && o.host === host;
}

export class IngestServer {
  private readonly wss: WebSocketServer;
  private readonly connections: ConnectionCounter;
  private readonly logins: FailedLoginLimiter;
  private heartbeat: NodeJS.Timeout;
  private closing = false;
  /** Replaced on reload (SIGHUP); each connection reads it when it arrives. */
  private config: IngestConfig;

  constructor(private readonly opts: IngestOptions) {
    this.config = opts.config;
    const limits = opts.config.limits;
    this.connections = new ConnectionCounter(limits.maxConnectionsPerAddress);
    this.logins = new FailedLoginLimiter(limits.maxFailedLogins, limits.failedLoginWindowMs);
    const maxFrame = limits.maxFrameBytes;
    this.wss = new WebSocketServer({
      noServer: true,
      // Frames up to maxFrameBytes are ours to refuse with 4413 and a sentence; ws itself stops
      // anything much larger (1009) before buffering it.
      maxPayload: maxFrame + 64 * 1024,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has('webcast') ? 'webcast' : false),
    });
    this.heartbeat = setInterval(() => {
      for (const ws of this.wss.clients) {
        const state = ws as WebSocket & { iwAlive?: boolean };
        if (state.iwAlive === false) {
          ws.terminate();
          continue;
        }
        state.iwAlive = false;
        ws.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Route an HTTP upgrade; false when the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '';
    if (!url.startsWith(WS_PATH_PREFIX)) return false;
    if (this.closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    return true;
  }

  /** New broadcasters, mounts and origins apply to connections from now on; live broadcasts keep theirs. */
  setConfig(config: IngestConfig): void {
    this.config = config;
  }

  get connectionCount(): number {
    return this.wss.clients.size;
  }

  /** Stop accepting; close sockets that have no broadcast (broadcasts close their own). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    for (const ws of this.wss.clients) {
      if (ws.readyState === WebSocket.OPEN) sendError(ws, new IcewireError('IW_ERR_SHUTTING_DOWN'));
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const ws of this.wss.clients) ws.terminate();
        resolve();
      }, 2000);
      t.unref();
      this.wss.close(() => { clearTimeout(t); resolve(); });
    });
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const cfg = this.config;
    const addr = clientAddress(req, cfg.trustProxy);
    const rawMount = (req.url ?? '').slice(WS_PATH_PREFIX.length).split('?')[0] ?? '';
    let mountId: string;
    try {
      mountId = decodeURIComponent(rawMount);
    } catch {
      mountId = rawMount;
    }
    const log = this.opts.logger.child({ addr, station: mountId.slice(0, 64) });
    const refuse = (code: ErrorCode, detail?: string): void => {
      log.info('broadcaster refused', { code, ...(detail !== undefined ? { detail } : {}) });
      sendError(ws, new IcewireError(code), this.opts.metrics);
    };
    (ws as WebSocket & { iwAlive?: boolean }).iwAlive = true;
    ws.on('pong', () => { (ws as WebSocket & { iwAlive?: boolean }).iwAlive = true; });
    ws.on('error', (err) => log.debug('websocket error', { error: err.message }));

    if (!this.connections.acquire(addr)) {
      refuse('IW_ERR_LIMIT_CONNECTIONS');
      return;
    }
    ws.once('close', () => this.connections.release(addr));
    if (!originAllowed(req.headers.origin, req.headers.host, cfg)) {
      refuse('IW_ERR_ORIGIN_FORBIDDEN', `origin ${String(req.headers.origin).slice(0, 100)}`);
      return;
    }

    let phase: 'hello' | 'auth' | 'streaming' | 'done' = 'hello';
    let broadcast: Broadcast | undefined;
    let sink: SocketSink | undefined;
    // Frames that arrive while the hello is being checked (clients don't wait for an answer).
    const early: Buffer[] = [];
    let earlyBytes = 0;
    const helloTimer = setTimeout(() => {
      if (phase === 'hello') { phase = 'done'; refuse('IW_ERR_PROTO_HELLO_TIMEOUT'); }
    }, cfg.limits.helloTimeoutMs);
    helloTimer.unref();

    const failConnection = (err: IcewireError): void => {
      phase = 'done';
      clearTimeout(helloTimer);
      if (broadcast !== undefined) broadcast.fail(err); // it tells the client through its sink
      else refuse(err.code, err.detail);
    };

    const feed = (chunk: Buffer): void => {
      if (broadcast === undefined) return;
      if (!broadcast.write(chunk)) ws.pause();
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (phase === 'done') return;
      const buf = toBuffer(data);
      if (buf.length > cfg.limits.maxFrameBytes) {
        failConnection(new IcewireError('IW_ERR_PROTO_FRAME_TOO_LARGE', { detail: `frame of ${buf.length} bytes` }));
        return;
      }
      if (isBinary) {
        if (phase === 'hello') { failConnection(new IcewireError('IW_ERR_PROTO_EXPECTED_HELLO')); return; }
        if (phase === 'auth') {
          early.push(buf);
          earlyBytes += buf.length;
          if (earlyBytes > cfg.limits.maxQueueBytes) failConnection(new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: 'too much data before the hello was answered' }));
          return;
        }
        feed(buf);
        return;
      }
      let msg;
      try {
        msg = parseClientMessage(buf.toString('utf8'));
      } catch (err) {
        failConnection(toIcewireError(err));
        return;
      }
      if (msg.type === 'hello') {
        if (phase !== 'hello') return; // a second hello changes nothing
        phase = 'auth';
        clearTimeout(helloTimer);
        void this.accept(ws, addr, mountId, msg.hello, log).then((accepted) => {
          if (phase === 'done' || ws.readyState !== WebSocket.OPEN) {
            // the client went away while we checked
            if (accepted !== undefined) accepted.broadcast.detach(accepted.sink);
            return;
          }
          if (accepted === undefined) { phase = 'done'; return; }
          const b = accepted.broadcast;
          broadcast = b;
          sink = accepted.sink;
          phase = 'streaming';
          b.on('drain', () => ws.resume());
          for (const c of early.splice(0)) feed(c);
          earlyBytes = 0;
        }, (err: unknown) => {
          log.error('unexpected error while accepting a broadcaster', { err });
          failConnection(toIcewireError(err));
        });
        return;
      }
      if (msg.type === 'metadata') {
        if (broadcast !== undefined) broadcast.setMetadata(msg.metadata);
        return;
      }
      // unknown types are ignored (webcast compatibility)
    });

    ws.on('close', (code: number) => {
      clearTimeout(helloTimer);
      const wasStreaming = phase === 'streaming';
      phase = 'done';
      if (broadcast === undefined || sink === undefined || !wasStreaming || !broadcast.isAttached(sink)) return;
      if (isStopClose(code)) void broadcast.end('stopped');
      // anything else is a drop: the broadcast waits reconnectGraceMs for a resume
      else broadcast.detach(sink);
    });
  }

  /** Check the hello; on success the broadcast is registered and starting. undefined = refused (client told). */
  private async accept(ws: WebSocket, addr: string, mountId: string, hello: Hello, log: Logger): Promise<{ broadcast: Broadcast; sink: SocketSink } | undefined> {
    const cfg = this.config;
    const refuse = (code: ErrorCode, detail?: string): undefined => {
      log.info('broadcaster refused', { code, user: hello.user?.slice(0, 100), ...(detail !== undefined ? { detail } : {}) });
      sendError(ws, new IcewireError(code), this.opts.metrics);
      return undefined;
    };
    const input = parseMime(hello.mime);
    if (input === undefined) return refuse('IW_ERR_INGEST_UNSUPPORTED_MEDIA', `mime ${JSON.stringify(hello.mime.slice(0, 100))}`);
    if (!this.logins.allowed(addr)) return refuse('IW_ERR_AUTH_RATE_LIMITED');

    let user = hello.user ?? '';
    if (cfg.auth.mode === 'accounts') {
      const account = cfg.broadcasters.find((b) => b.name === hello.user);
      const ok = await verifyPasswordFor(hello.password ?? '', account?.passwordHash);
      if (!ok || account === undefined) {
        this.logins.recordFailure(addr);
        return refuse('IW_ERR_AUTH_FAILED');
      }
      this.logins.recordSuccess(addr);
      if (!Object.hasOwn(cfg.mounts, mountId)) return refuse('IW_ERR_MOUNT_UNKNOWN');
      if (!account.mounts.includes(mountId)) return refuse('IW_ERR_MOUNT_FORBIDDEN');
      user = account.name;
    }
    const planned = planStation(cfg, mountId, input, hello);
    if (!planned.ok) return refuse(planned.code, planned.detail);
    const current = this.opts.registry.get(mountId);
    if (current !== undefined && hello.resume !== undefined && current.canResume(hello.resume, user, planned.plan.sourcePassword, input)) {
      // the same broadcaster coming back after a drop (or from a new tab): the show goes on
      const sink = new SocketSink(ws, this.opts.metrics);
      current.attach(sink, input);
      log.info('broadcaster resumed', { user });
      return { broadcast: current, sink };
    }
    const previous = current;
    if (previous?.isEnding === true) {
      // A broadcaster retrying right after a failure: let the old one finish closing its
      // Icecast sources rather than answer "busy" (or have Icecast say "in use").
      await Promise.race([previous.whenEnded(), new Promise((r) => setTimeout(r, PREVIOUS_END_WAIT_MS).unref())]);
    }
    if (ws.readyState !== WebSocket.OPEN) return undefined;
    if (this.opts.registry.get(mountId) !== undefined) return refuse('IW_ERR_MOUNT_BUSY');
    try {
      this.opts.registry.checkCapacity();
    } catch (err) {
      return refuse(toIcewireError(err).code);
    }

    const sink = new SocketSink(ws, this.opts.metrics);
    const b = new Broadcast(planned.plan, input, user, this.opts.broadcastDeps, sink);
    this.opts.registry.add(b);
    const started = b.start();
    started.catch((err: unknown) => {
      // Icecast refused: in passthrough mode a wrong source password is a failed login.
      if (err instanceof IcewireError && err.code === 'IW_ERR_ICECAST_AUTH' && cfg.auth.mode === 'passthrough') {
        this.logins.recordFailure(addr);
      }
    });
    return { broadcast: b, sink };
  }
}

/**
 * Did the broadcaster mean to stop? A close frame with 1000, or with no status code at all (ws
 * reports 1005: webcast.js's `socket.close()`), is a Stop. 1001 (the page is unloading), 1006 (no
 * close frame: the network went away) and every other code are drops that wait for a resume
 * (docs/protocol.md, "How a connection ends").
 */
export function isStopClose(code: number): boolean {
  return code === 1000 || code === 1005;
}

/** Send the error frame, then close with its code; the reason field carries the stable code. */
export function sendError(ws: WebSocket, err: IcewireError, metrics?: Metrics): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  metrics?.errors.inc({ code: err.code });
  ws.send(JSON.stringify({ type: 'error', data: { code: err.code, message: err.message } }));
  ws.close(ERRORS[err.code].close, err.code);
}

class SocketSink implements BroadcastSink {
  constructor(private readonly ws: WebSocket, private readonly metrics?: Metrics) {}

  sendStatus(status: BroadcastStatus): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'status', data: status }));
  }

  close(err: IcewireError | undefined): void {
    // A socket paused for backpressure would never read the client's close reply (ws then waits
    // 30 s): resume it; whatever still arrives is ignored.
    if (this.ws.isPaused) this.ws.resume();
    if (err !== undefined) sendError(this.ws, err, this.metrics);
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
