// The broadcasters' WebSocket endpoint, /ws/<station-mount>: webcast hello, the auth gate, a
// broadcast claimed from the registry, then binary chunks into it with backpressure (inflow.ts:
// held within a bound while the broadcast is full; the socket itself is never paused once
// accepted, so a Stop behind the media is read), and a heartbeat that drops dead sockets.
//
// Unauthenticated connections cost little and not for long: what they send before their hello is
// answered is held within a small, daemon-wide bound (inflow.ts) and dropped on refusal; a refused
// client that goes on sending is cut, and every socket that does not finish its closing handshake
// is destroyed after CLOSE_HANDSHAKE_MS.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData, type ServerOptions } from 'ws';
import { clientAddress, type AuthGate, type UpstreamGuess } from '../auth/auth-gate.js';
import { systemClock, WhileHeld, type Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Broadcast, type BroadcastDeps, type BroadcastSink, type BroadcastStatus } from '../broadcast/broadcast.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import { planStation, type StationPlan } from '../broadcast/station-plan.js';
import { parseMime, type InputMedia } from '../pipeline/media-type.js';
import { CLOSE, WS_PATH_PREFIX, WS_SUBPROTOCOL, type ServerFrame } from '../../www/src/wire-contract.js';
import { ConnectionCounter } from './address-limits.js';
import { HoldPool, Inflow } from './inflow.js';
import { acceptUpgrade, closeSocketServer, sendError, socketRefusal } from './socket-door.js';

export { sendError } from './socket-door.js';
import { parseClientMessage, type Hello } from './webcast-protocol.js';

export { WS_PATH_PREFIX };
const HEARTBEAT_MS = 15000;
/** A socket we closed is destroyed if the client has not answered our close frame by then. */
export const CLOSE_HANDSHAKE_MS = 3000;

export type IngestConfig = Pick<Config, 'auth' | 'broadcasters' | 'mounts' | 'icecast' | 'limits' | 'allowedOrigins' | 'publicUrl' | 'trustProxy'>;

export interface IngestOptions {
  readonly config: IngestConfig;
  readonly registry: BroadcastRegistry;
  readonly broadcastDeps: BroadcastDeps;
  /** The daemon's one login gate. */
  readonly auth: AuthGate;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly clock?: Clock;
}

/** One broadcaster's socket, as accept() sees it. */
interface Connection {
  readonly ws: WebSocket;
  readonly addr: string;
  readonly mountId: string;
  readonly log: Logger;
}

interface Accepted {
  readonly broadcast: Broadcast;
  readonly sink: SocketSink;
}

/** Who a hello turned out to be; in passthrough mode Icecast is still to judge the password. */
interface Identity {
  readonly user: string;
  readonly guess: UpstreamGuess | undefined;
}

/** A socket's liveness for the heartbeat: anything received since the last ping. */
type Watched = WebSocket & { iwHeard?: boolean };

export class IngestServer {
  private readonly wss: WebSocketServer;
  private readonly connections: ConnectionCounter;
  /** What connections not yet authenticated may hold, together. */
  private readonly preAuth = new HoldPool();
  private readonly clock: Clock;
  /** Pings open sockets; held by each of them, so it does not run while there are none. */
  private readonly heartbeat: WhileHeld;
  private closing = false;
  /** Replaced on reload (SIGHUP); each connection reads it when it arrives. */
  private config: IngestConfig;

  constructor(private readonly opts: IngestOptions) {
    this.config = opts.config;
    this.clock = opts.clock ?? systemClock;
    const limits = opts.config.limits;
    this.connections = new ConnectionCounter(limits.maxConnectionsPerAddress);
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      // Frames up to maxFrameBytes are ours to refuse with 4413 and a sentence; ws itself stops
      // anything much larger (1009) before buffering it.
      maxPayload: limits.maxFrameBytes + 64 * 1024,
      perMessageDeflate: false,
      // (ws takes it; its type definitions lag behind)
      closeTimeout: CLOSE_HANDSHAKE_MS,
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    };
    this.wss = new WebSocketServer(options);
    this.heartbeat = new WhileHeld(this.clock, HEARTBEAT_MS, () => {
      for (const ws of this.wss.clients as Set<Watched>) {
        // Paused by us (its hello is being checked and its pre-auth share is full): its pong
        // waits behind the frames we are not reading, so silence proves nothing until the hello
        // is answered (the check queue is bounded; a refusal closes the socket).
        if (ws.isPaused) {
          ws.iwHeard = true;
          continue;
        }
        if (ws.iwHeard === false) {
          ws.terminate();
          continue;
        }
        ws.iwHeard = false;
        ws.ping();
      }
    });
  }

  /** Route an HTTP upgrade; false when the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '';
    if (!url.startsWith(WS_PATH_PREFIX)) return false;
    acceptUpgrade(this.wss, this.closing, req, socket, head, (ws) => {
      ws.once('close', this.heartbeat.hold());
      this.onConnection(ws, req);
    });
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
    this.heartbeat.stop();
    await closeSocketServer(this.wss, this.clock);
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
    const conn: Connection = { ws, addr, mountId, log: this.opts.logger.child({ addr, station: mountId.slice(0, 64) }) };
    /** The account (or logged form of the passthrough user) once the gate let it in, for the log of a refusal. */
    let user: string | undefined;
    const inflow = new Inflow(ws, this.preAuth, cfg.limits.maxQueueBytes, () => {
      failConnection(new IcewireError('IW_ERR_INGEST_TOO_SLOW', { detail: `the station was full and ${cfg.limits.maxQueueBytes} bytes of the broadcaster's stream were waiting` }));
    });
    /** Bytes a refused client sent after our close. */
    let afterRefusal = 0;
    const refuse = (err: IcewireError): void => {
      // the gate logged its own refusals (without the name as typed)
      if (!GATE_CODES.has(err.code)) {
        conn.log.info('broadcaster refused', { code: err.code, ...(user !== undefined ? { user } : {}), ...(err.detail !== undefined ? { detail: err.detail } : {}) });
      }
      inflow.discard();
      sendError(ws, err, this.opts.metrics);
      // read on, so a client's answer to our close is seen (and whatever comes first, dropped)
      ws.resume();
    };
    const watched = ws as Watched;
    watched.iwHeard = true;
    const heard = (): void => { watched.iwHeard = true; };
    ws.on('pong', heard);
    ws.on('ping', heard);
    ws.on('error', (err) => conn.log.debug('websocket error', { error: err.message }));

    const refusal = socketRefusal(ws, req, addr, this.connections, cfg);
    if (refusal !== undefined) {
      refuse(refusal);
      return;
    }

    let phase: 'hello' | 'auth' | 'streaming' | 'done' = 'hello';
    let accepted: Accepted | undefined;
    const cancelHelloTimer = this.clock.after(cfg.limits.helloTimeoutMs, () => {
      if (phase === 'hello') { phase = 'done'; refuse(new IcewireError('IW_ERR_PROTO_HELLO_TIMEOUT')); }
    });

    const failConnection = (err: IcewireError): void => {
      phase = 'done';
      cancelHelloTimer();
      if (accepted !== undefined) accepted.broadcast.fail(err); // it tells the client through its sink
      else refuse(err);
    };

    const onHello = (hello: Hello): void => {
      phase = 'auth';
      cancelHelloTimer();
      this.accept(conn, hello, (name) => { user = name; }).then((a) => {
        if (phase === 'done' || ws.readyState !== WebSocket.OPEN) {
          // the client went away while we checked
          inflow.discard();
          a?.broadcast.detach(a.sink);
          return;
        }
        if (a === undefined) { phase = 'done'; inflow.discard(); return; }
        accepted = a;
        phase = 'streaming';
        a.broadcast.on('drain', () => inflow.drain());
        inflow.accepted((chunk) => a.broadcast.write(chunk));
      }, (err: unknown) => {
        if (!(err instanceof IcewireError)) conn.log.error('unexpected error while accepting a broadcaster', { err });
        failConnection(toIcewireError(err));
      });
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      heard();
      if (phase === 'done') {
        // a client that goes on sending after its refusal is not answering our close: cut it
        if (accepted === undefined && (afterRefusal += rawLength(data)) > cfg.limits.maxFrameBytes) ws.terminate();
        return;
      }
      const buf = toBuffer(data);
      if (buf.length > cfg.limits.maxFrameBytes) {
        failConnection(new IcewireError('IW_ERR_PROTO_FRAME_TOO_LARGE', { detail: `frame of ${buf.length} bytes` }));
        return;
      }
      if (isBinary) {
        if (phase === 'hello') failConnection(new IcewireError('IW_ERR_PROTO_EXPECTED_HELLO'));
        else inflow.push(buf);
        return;
      }
      let msg;
      try {
        msg = parseClientMessage(buf.toString('utf8'));
      } catch (err) {
        failConnection(toIcewireError(err));
        return;
      }
      // a second hello changes nothing; unknown types are ignored (webcast compatibility)
      if (msg.type === 'hello' && phase === 'hello') onHello(msg.hello);
      else if (msg.type === 'metadata') accepted?.broadcast.setMetadata(msg.metadata);
    });

    ws.on('close', (code: number) => {
      cancelHelloTimer();
      const wasStreaming = phase === 'streaming';
      phase = 'done';
      if (accepted === undefined || !wasStreaming || !accepted.broadcast.isAttached(accepted.sink)) {
        inflow.discard();
        return;
      }
      // what was read ahead of a full broadcast was sent before the close: it goes out first
      inflow.flush();
      if (isStopClose(code)) void accepted.broadcast.end('stopped');
      // anything else is a drop: the broadcast waits reconnectGraceMs for a resume
      else accepted.broadcast.detach(accepted.sink);
    });
  }

  /**
   * Check the hello and claim a broadcast for it. Throws IcewireError for a refusal (the caller
   * tells the client); undefined when the client went away meanwhile.
   */
  private async accept(c: Connection, hello: Hello, identified: (user: string) => void): Promise<Accepted | undefined> {
    const input = parseMime(hello.mime);
    if (input === undefined) throw new IcewireError('IW_ERR_INGEST_UNSUPPORTED_MEDIA', { detail: `mime ${JSON.stringify(hello.mime.slice(0, 100))}` });
    const { user, guess } = await this.authenticate(c, hello);
    identified(user);
    try {
      const plan = this.plan(c.mountId, input, hello);
      const sink = new SocketSink(c.ws, this.opts.metrics);
      const claim = await this.opts.registry.claim({
        stationMount: c.mountId, user, sourcePassword: plan.sourcePassword, input, resume: hello.resume, sink,
        stillWanted: () => c.ws.readyState === WebSocket.OPEN,
        create: () => new Broadcast(plan, input, user, this.opts.broadcastDeps, sink),
      });
      if (claim.kind === 'gone') {
        guess?.withdrawn();
        return undefined;
      }
      if (claim.kind === 'resumed') {
        // passthrough: the running broadcast's source password matched
        guess?.accepted();
        c.log.info('broadcaster resumed', { user });
      } else {
        this.start(claim.broadcast, guess);
      }
      return { broadcast: claim.broadcast, sink };
    } catch (err) {
      guess?.withdrawn();
      throw err;
    }
  }

  /**
   * Who this is: an account allowed on the mount, or (passthrough) whoever Icecast will judge,
   * named in the log only as the gate allows until then.
   */
  private async authenticate(c: Connection, hello: Hello): Promise<Identity> {
    const cfg = this.config;
    const auth = this.opts.auth;
    if (cfg.auth.mode !== 'accounts') {
      const guess = await auth.upstreamGuess({ door: 'websocket', addr: c.addr, user: hello.user, target: `/${c.mountId}` });
      return { user: auth.logName(hello.user) ?? '', guess };
    }
    const account = await auth.login({ door: 'websocket', addr: c.addr, user: hello.user, password: hello.password, token: hello.token });
    if (!Object.hasOwn(cfg.mounts, c.mountId)) throw new IcewireError('IW_ERR_MOUNT_UNKNOWN');
    if (!account.mounts.includes(c.mountId)) throw new IcewireError('IW_ERR_MOUNT_FORBIDDEN');
    return { user: account.name, guess: undefined };
  }

  private plan(mountId: string, input: InputMedia, hello: Hello): StationPlan {
    const planned = planStation(this.config, mountId, input, hello);
    if (!planned.ok) throw new IcewireError(planned.code, { detail: planned.detail });
    return planned.plan;
  }

  /** Start a new broadcast; in passthrough mode its first Icecast answer settles the guess. */
  private start(b: Broadcast, guess: UpstreamGuess | undefined): void {
    b.start().then(() => guess?.accepted(), (err: unknown) => {
      // Icecast refused: a wrong source password is a failed login; any other failure judged nothing
      if (err instanceof IcewireError && err.code === 'IW_ERR_ICECAST_AUTH') guess?.refused();
      else guess?.withdrawn();
    });
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

class SocketSink implements BroadcastSink {
  constructor(private readonly ws: WebSocket, private readonly metrics?: Metrics) {}

  sendStatus(status: BroadcastStatus): void {
    const frame: ServerFrame = { type: 'status', data: status };
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  close(err: IcewireError | undefined): void {
    if (err !== undefined) sendError(this.ws, err, this.metrics);
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(CLOSE.normal);
  }
}

/** Refusals the auth gate logs itself. */
export const GATE_CODES: ReadonlySet<string> = new Set(['IW_ERR_AUTH_FAILED', 'IW_ERR_AUTH_RATE_LIMITED', 'IW_ERR_AUTH_BUSY']);

function rawLength(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
