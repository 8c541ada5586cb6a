// The guests' front door, /ws/_guest/<station-mount>: the signalling socket of a host's page (the
// desk: authenticated by the host's login token, through the auth gate) and of each guest's page
// (authenticated by an invitation token, through the same gate: a wrong token is a failed login
// counted against the address). After the hello, frames are relayed by the desks (desks.ts).
// Text only and small: a guest's sound goes to the host's page over WebRTC, never through here, so
// a binary frame is refused. Bounded everywhere: frame size, message rate, open sockets per
// address, what a party may leave unread, time to the hello.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { clientAddress, type AuthGate } from '../auth/auth-gate.js';
import { systemClock, WhileHeld, type Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { ConnectionCounter } from '../ingest/address-limits.js';
import { acceptUpgrade, closeSocketServer, sendError, socketRefusal } from '../ingest/socket-door.js';
import { GUEST_WS_PATH_PREFIX, GUEST_WS_SUBPROTOCOL, MAX_SIGNAL_FRAME_BYTES, STATION_MOUNT_RE } from '../../www/src/wire-contract.js';
import { credentialsLapse } from './ice-servers.js';
import { Desks, Party } from './desks.js';
import { InvitationBook } from './invitation-book.js';
import { parseGuestMessage, parseHostMessage, parseSignalHello, type SignalHello } from './signal-protocol.js';

const HEARTBEAT_MS = 15000;
/** Messages a socket may send: a bucket of BURST refilled at RATE a second (ICE candidates come in bursts). */
const RATE_PER_S = 50;
const BURST = 200;

export type GuestDoorConfig = Pick<Config, 'auth' | 'broadcasters' | 'mounts' | 'guests' | 'webrtc' | 'limits' | 'allowedOrigins' | 'publicUrl' | 'trustProxy'>;

export interface GuestDoorOptions {
  readonly config: GuestDoorConfig;
  /** The daemon's one login gate. */
  readonly auth: AuthGate;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** What a socket may still send now. */
class MessageBudget {
  private tokens = BURST;
  private at: number;

  constructor(private readonly clock: Clock) {
    this.at = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.at) / 1000) * RATE_PER_S);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Handlers {
  message(text: string): void;
  closed(code: number): void;
}

export class GuestDoor {
  readonly book: InvitationBook;
  private readonly desks: Desks;
  private readonly wss: WebSocketServer;
  private readonly connections: ConnectionCounter;
  private readonly clock: Clock;
  /** The heartbeat and the ICE credentials' refresh, held by each open socket. */
  private readonly timers: WhileHeld[] = [];
  private readonly alive = new WeakSet<WebSocket>();
  private config: GuestDoorConfig;
  private closing = false;

  constructor(private readonly opts: GuestDoorOptions) {
    this.config = opts.config;
    this.clock = opts.clock ?? systemClock;
    this.book = new InvitationBook({ limits: () => this.config.guests, now: () => this.clock.now() });
    this.desks = new Desks({ book: this.book, config: () => this.config, clock: this.clock, logger: opts.logger });
    this.connections = new ConnectionCounter(opts.config.limits.maxConnectionsPerAddress);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 2 * MAX_SIGNAL_FRAME_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(GUEST_WS_SUBPROTOCOL) ? GUEST_WS_SUBPROTOCOL : false),
    });
    // both jobs only while a socket is open: an idle daemon keeps no timer for the guests' door
    this.timers.push(new WhileHeld(this.clock, HEARTBEAT_MS, () => {
      for (const ws of this.wss.clients) {
        if (!this.alive.delete(ws)) ws.terminate();
        else ws.ping();
      }
    }));
    if (credentialsLapse(opts.config.webrtc)) {
      this.timers.push(new WhileHeld(this.clock, Math.floor(opts.config.webrtc.credentialTtlMs / 2), () => this.desks.refreshIce()));
    }
  }

  /** Route an HTTP upgrade; false when the path is not the guests' door. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!(req.url ?? '').startsWith(GUEST_WS_PATH_PREFIX)) return false;
    acceptUpgrade(this.wss, this.closing, req, socket, head, (ws) => {
      for (const t of this.timers) ws.once('close', t.hold());
      this.onConnection(ws, req);
    });
    return true;
  }

  setConfig(config: GuestDoorConfig): void {
    this.config = config;
  }

  /** Open sockets and seats, for the log and tests. */
  get counts(): { sockets: number; hosts: number; guests: number } {
    return { sockets: this.wss.clients.size, ...this.desks.counts };
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers.splice(0)) t.stop();
    this.desks.clear();
    await closeSocketServer(this.wss, this.clock);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const cfg = this.config;
    const addr = clientAddress(req, cfg.trustProxy);
    const raw = (req.url ?? '').slice(GUEST_WS_PATH_PREFIX.length).split('?')[0] ?? '';
    const station = STATION_MOUNT_RE.test(raw) ? raw : '';
    let log = this.opts.logger.child({ door: 'guests', addr, station: station || raw.slice(0, 64) });
    const refuse = (err: IcewireError): void => {
      log.info('guests\' door refused', { code: err.code, ...(err.detail !== undefined ? { detail: err.detail } : {}) });
      sendError(ws, err);
    };
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', (err) => log.debug('websocket error', { error: err.message }));
    const refusal = socketRefusal(ws, req, addr, this.connections, cfg);
    if (refusal !== undefined) {
      refuse(refusal);
      return;
    }
    if (cfg.auth.mode !== 'accounts' || !cfg.guests.enabled) {
      refuse(new IcewireError('IW_ERR_GUESTS_DISABLED'));
      return;
    }
    if (!Object.hasOwn(cfg.mounts, station)) {
      refuse(new IcewireError('IW_ERR_MOUNT_UNKNOWN'));
      return;
    }

    let phase: 'hello' | 'auth' | 'in' | 'done' = 'hello';
    let handlers: Handlers | undefined;
    const budget = new MessageBudget(this.clock);
    const cancelHello = this.clock.after(cfg.limits.helloTimeoutMs, () => {
      if (phase === 'hello') { phase = 'done'; refuse(new IcewireError('IW_ERR_PROTO_HELLO_TIMEOUT')); }
    });
    const fail = (err: IcewireError): void => {
      phase = 'done';
      cancelHello();
      refuse(err);
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (phase === 'done') return;
      if (!budget.take()) { fail(new IcewireError('IW_ERR_SIGNAL_TOO_FAST')); return; }
      if (isBinary) { fail(new IcewireError('IW_ERR_SIGNAL_BAD_MESSAGE', { detail: 'binary frame: guests\' media never goes through the daemon' })); return; }
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
      try {
        if (phase === 'in') handlers!.message(text);
        else if (phase === 'hello') {
          phase = 'auth';
          cancelHello();
          const hello = parseSignalHello(text);
          this.admit(hello, station, addr, ws, log).then((got) => {
            if (got === undefined || ws.readyState !== WebSocket.OPEN) { got?.handlers.closed(1006); phase = 'done'; return; }
            log = got.log;
            handlers = got.handlers;
            phase = 'in';
          }, (err: unknown) => {
            if (!(err instanceof IcewireError)) log.error('unexpected error on the guests\' door', { err });
            fail(toIcewireError(err));
          });
        }
        // frames that arrive while the hello is checked are dropped: pages wait for the answer
      } catch (err) {
        fail(toIcewireError(err));
      }
    });
    ws.on('close', (code: number) => {
      cancelHello();
      phase = 'done';
      handlers?.closed(code);
    });
  }

  /** Who knocked: a host with their login token, or a guest with an invitation. Throws a refusal. */
  private async admit(hello: SignalHello, station: string, addr: string, ws: WebSocket, log: Logger): Promise<{ handlers: Handlers; log: Logger } | undefined> {
    if (hello.role === 'host') {
      const account = await this.opts.auth.login({ door: 'guests', addr, user: hello.user, password: undefined, token: hello.token });
      if (!account.mounts.includes(station)) throw new IcewireError('IW_ERR_MOUNT_FORBIDDEN');
      if (ws.readyState !== WebSocket.OPEN) return undefined;
      const hostLog = log.child({ host: account.name });
      const desk = this.desks.attachHost(station, account.name, new Party(ws, hostLog));
      return {
        log: hostLog,
        handlers: { message: (text) => desk.message(parseHostMessage(text)), closed: () => desk.closed() },
      };
    }
    this.opts.auth.admit({ door: 'guests', addr });
    const got = this.book.redeem(station, hello.invitation, hello.rejoin, hello.name);
    if (!got.ok) {
      // Only a token this daemon never issued can be a guess: that counts as a failed login. A
      // real link that is used, expired or withdrawn is refused without locking out the address
      // (a guest retrying it, or the host behind the same NAT).
      if (got.code === 'IW_ERR_GUEST_TOKEN_UNKNOWN') this.opts.auth.secretRefused({ door: 'guests', addr }, got.code);
      throw new IcewireError(got.code);
    }
    const guestLog = log.child({ host: got.invitation.host, invitation: got.invitation.id });
    const seat = this.desks.attachGuest(got.invitation, got.rejoin, got.first, hello.instance, new Party(ws, guestLog));
    return {
      log: guestLog,
      handlers: { message: (text) => seat.message(parseGuestMessage(text)), closed: (code) => seat.closed(code) },
    };
  }
}
