// The daemon's listening socket: each new connection's request line decides where it goes.
// `PUT` and `SOURCE` requests are Icecast source clients (butt, Mixxx, ezstream, Liquidsoap,
// ffmpeg): their body is the live stream, sent without a length or chunking, which Node's HTTP
// parser would take as an empty body followed by garbage requests (it answers 400). They go to
// the source door as a raw socket. Everything else (the pages, the API, WebSocket upgrades) goes
// to the HTTP server unchanged, its first bytes put back. A connection that says nothing within
// the head deadline is closed. Connections are handed to their door a few per event-loop turn
// (admission.ts), so a burst of them can't hold up the sockets already in (a live show's media).
//
// The HTTP server's own head deadline (headersTimeout, a slowloris sending a header byte a second)
// is checked by a timer Node runs every connectionsCheckingInterval. It runs only while the HTTP
// server has a connection: an idle daemon is not woken every second to check nothing.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import { Admission } from './admission.js';

/**
 * The request lines that belong to the source door: the two source methods, and libshout's
 * `OPTIONS *` (it asks whether it may upgrade to TLS before it connects; Express would answer it
 * 404, which libshout takes for a failed login).
 */
const SOURCE_STARTS = ['PUT ', 'SOURCE ', 'OPTIONS * '];
const DECIDE_BYTES = Math.max(...SOURCE_STARTS.map((s) => s.length));

/** Whether these first bytes start a source request, or undefined while they can't tell yet. */
export function isSourceRequest(first: Buffer): boolean | undefined {
  const text = first.toString('latin1', 0, DECIDE_BYTES);
  for (const method of SOURCE_STARTS) {
    if (text.startsWith(method)) return true;
    if (method.startsWith(text)) return undefined;
  }
  return false;
}

export interface ConnectionRouterOptions {
  /** Where everything but source requests goes (it does not listen itself). */
  readonly http: HttpServer;
  /** A source request's socket and the bytes read from it so far. */
  readonly source: (socket: Socket, first: Buffer) => void;
  /** A connection must have sent its request line within this. */
  readonly headTimeoutMs: number;
  readonly clock: Clock;
}

/**
 * New connections handed to their door (the HTTP server, the source door) in one event-loop turn.
 * A refused login costs the main thread about 0.2–0.7 ms from there, so a turn's batch is ~5–10 ms
 * of work between two reads of a live socket.
 */
export const ADMIT_PER_TURN = 16;
/** Connections read and waiting for their turn, at most; beyond, a new one is closed at once (the listen backlog's size). */
export const MAX_WAITING_CONNECTIONS = 4096;

/** The description of the symbol under which Node's http.Server keeps its connection-checking timer. */
const CHECKING_TIMER = 'http.server.connectionsCheckingInterval';

export class ConnectionRouter {
  readonly server: NetServer;
  private trackingStarted = false;
  /** Connections handed to the HTTP server and not yet closed. */
  private httpOpen = 0;
  private readonly admission: Admission<Routed>;

  constructor(private readonly o: ConnectionRouterOptions) {
    this.admission = new Admission<Routed>({
      perTurn: ADMIT_PER_TURN, maxWaiting: MAX_WAITING_CONNECTIONS,
      start: (r) => this.handOver(r), gone: (r) => r.socket.destroyed,
    });
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.route(socket));
  }

  /** `backlog`: connections the kernel may hold for us before we accept them (Node's default: 511). */
  listen(at: { host: string; port: number }, backlog?: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: at.port, host: at.host, backlog }, () => {
        this.server.off('error', reject);
        // The HTTP server never listens itself, but its head and request deadlines (headersTimeout,
        // requestTimeout: a slowloris sending a header byte a second) are checked by a timer that
        // Node starts on its 'listening' event: start it here, once.
        if (!this.trackingStarted) {
          this.trackingStarted = true;
          this.o.http.emit('listening');
          if (this.httpOpen === 0) this.pauseChecks();
        }
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): void {
    this.server.close();
  }

  /** Connections whose door is known, waiting for their turn to be handed over. */
  get waiting(): number {
    return this.admission.waiting;
  }

  /** Whether Node's head-deadline timer is running now (tests). */
  get checking(): boolean {
    return checkingTimer(this.o.http) !== undefined;
  }

  private toHttp(socket: Socket): void {
    // (re)start the checks with the first open connection: Node's 'listening' handler keeps the
    // server's connection list and starts the timer afresh
    if (this.httpOpen++ === 0 && this.trackingStarted) this.o.http.emit('listening');
    socket.once('close', () => {
      if (--this.httpOpen === 0) this.pauseChecks();
    });
    this.o.http.emit('connection', socket);
  }

  /**
   * Stop Node's checking timer while no connection is open. Were the timer ever not found (another
   * Node), it keeps running: deadlines before idleness.
   */
  private pauseChecks(): void {
    const key = checkingKey(this.o.http);
    if (key === undefined) return;
    const http = this.o.http as unknown as Record<symbol, NodeJS.Timeout | undefined>;
    clearInterval(http[key]);
    http[key] = undefined;
  }

  /**
   * Read the first bytes (cheap: a read and a comparison), then line the connection up for its
   * door, where the costly part (parsing, routing, answering) happens. The head deadline counts
   * from the accept to the hand-over, the wait in line included.
   */
  private route(socket: Socket): void {
    let got = Buffer.alloc(0);
    const cancel = this.o.clock.after(this.o.headTimeoutMs, () => socket.destroy());
    const release = (): void => {
      cancel();
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onError = (): void => { release(); socket.destroy(); };
    const onEnd = (): void => { release(); socket.destroy(); };
    const onReadable = (): void => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) got = Buffer.concat([got, chunk]);
      const source = isSourceRequest(got);
      if (source === undefined) return;
      // nothing more is read until the hand-over; an error meanwhile (a reset) still closes it
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      if (!this.admission.offer({ socket, first: got, source, release })) onError();
    };
    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.on('end', onEnd);
  }

  private handOver({ socket, first, source, release }: Routed): void {
    release();
    if (source) {
      this.o.source(socket, first);
    } else {
      socket.unshift(first);
      this.toHttp(socket);
      socket.resume();
    }
  }
}

/** A connection whose first bytes said which door it goes to. */
interface Routed {
  readonly socket: Socket;
  readonly first: Buffer;
  readonly source: boolean;
  /** Its head deadline and the router's listeners, off. */
  readonly release: () => void;
}

function checkingKey(http: HttpServer): symbol | undefined {
  return Object.getOwnPropertySymbols(http).find((k) => k.description === CHECKING_TIMER);
}

function checkingTimer(http: HttpServer): NodeJS.Timeout | undefined {
  const key = checkingKey(http);
  return key === undefined ? undefined : (http as unknown as Record<symbol, NodeJS.Timeout | undefined>)[key];
}
