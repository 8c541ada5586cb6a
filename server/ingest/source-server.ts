// The Icecast-protocol front door: desktop source clients (butt, Mixxx, ezstream, Liquidsoap,
// ffmpeg's icecast://, OBS through ffmpeg) go live with `PUT /<mount>` or the legacy
// `SOURCE /<mount>` on the daemon's own address (or `sourceListen`), as they would on Icecast.
//
// One connection: its request head (bounded in size and time, before anything else), the content
// type and the first bytes that must match it, the one login gate (source-auth.ts), the station's
// plan with the client's stream information where the station sets none, one registry.claim(),
// the broadcast started — and only then Icecast's answer (`100 Continue` if asked, `200 OK`), so a
// refusal is the answer Icecast would give (401, 403 "Mountpoint in use", 400). Then the body is
// the stream, into the same Broadcast a browser's upload goes to, with backpressure (the socket
// pauses). A connection that ends is a drop: the show waits reconnectGraceMs for the client to come
// back (butt does), recognised without a token as the same account, station and kind of media
// (resume-ticket.ts), and ends `stopped` if it does not.
import type { Socket } from 'node:net';
import { clientAddress } from '../auth/auth-gate.js';
import { systemClock, type Clock } from '../clock.js';
import { IcewireError, toIcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Broadcast, type BroadcastDeps, type BroadcastSink } from '../broadcast/broadcast.js';
import type { BroadcastRegistry } from '../broadcast/registry.js';
import { planStation, type StationPlan } from '../broadcast/station-plan.js';
import { HEADERS_TIMEOUT_MS } from '../http/request-deadlines.js';
import { checkMagic, MAGIC_BYTES, parseMime, type InputMedia } from '../pipeline/media-type.js';
import { ConnectionCounter } from './address-limits.js';
import {
  acceptBytes, ANSWERS, answerBytes, answerFor, basicCredentials, clientStreamInfo, decodePath, headEnd, MAX_HEAD_BYTES, parseRequestHead,
  type RequestHead, type SourceAnswer,
} from './icecast-protocol.js';
import { GATE_CODES, type IngestConfig, type IngestOptions } from './ingest-server.js';
import { authenticateSource, NO_CREDENTIALS, stationTarget, type SourceIdentity } from './source-auth.js';

/** What every front door is built from (the WebSocket door's options). */
export type SourceServerOptions = IngestOptions;

/** A refusal carried to the point where the client is answered. */
class Refusal extends Error {
  constructor(readonly answer: SourceAnswer, readonly code: string, readonly detail?: string) {
    super(answer.text);
  }
}

export class SourceServer {
  private readonly connections: ConnectionCounter;
  private readonly clock: Clock;
  /** Sockets not streaming yet (closed on shutdown; streaming ones close with their broadcast). */
  private readonly pending = new Set<Socket>();
  private closing = false;
  private config: IngestConfig;

  constructor(private readonly opts: SourceServerOptions) {
    this.config = opts.config;
    this.clock = opts.clock ?? systemClock;
    this.connections = new ConnectionCounter(opts.config.limits.maxConnectionsPerAddress);
  }

  setConfig(config: IngestConfig): void {
    this.config = config;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.pending) s.destroy();
  }

  /** A connection whose request line is PUT, SOURCE or `OPTIONS *`; `first`: the bytes read so far. */
  handle(socket: Socket, first: Buffer): void {
    const cfg = this.config;
    const addr = socket.remoteAddress ?? 'unknown';
    if (this.closing) {
      socket.end(answerBytes({ status: 503, reason: 'Service Unavailable', text: 'The server is restarting. Try again in a moment.' }));
      return;
    }
    if (!this.connections.acquire(addr)) {
      // this address's limit, not the server's ("too many sources connected" is Icecast's for that)
      const e = new IcewireError('IW_ERR_LIMIT_CONNECTIONS');
      socket.end(answerBytes(answerFor(e.code, e.message)));
      return;
    }
    this.pending.add(socket);
    socket.once('close', () => { this.connections.release(addr); this.pending.delete(socket); });
    socket.on('error', (err) => this.opts.logger.debug('source client socket error', { addr, error: err.message }));
    let buf = first;
    const cancel = this.clock.after(HEADERS_TIMEOUT_MS, () => {
      this.opts.logger.info('source client sent no complete request in time: connection closed', { addr, timeoutMs: HEADERS_TIMEOUT_MS });
      socket.destroy();
    });
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = headEnd(buf);
      if (end < 0 && buf.length <= MAX_HEAD_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      cancel();
      if (end < 0 || end > MAX_HEAD_BYTES) {
        socket.end(answerBytes(ANSWERS.badRequest));
        return;
      }
      const head = parseRequestHead(buf.subarray(0, end));
      if (head === undefined) {
        socket.end(answerBytes(ANSWERS.badRequest));
        return;
      }
      if (head.method === 'OPTIONS') {
        // libshout asks whether it may upgrade to TLS: no (plain HTTP goes on; TLS is nginx's job)
        socket.end('HTTP/1.1 200 OK\r\nServer: icewire\r\nAllow: GET, PUT, SOURCE, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      void this.serve(socket, head, buf.subarray(end), cfg);
    };
    socket.on('data', onData);
    onData(Buffer.alloc(0));
    socket.resume();
  }

  private async serve(socket: Socket, head: RequestHead, early: Buffer, cfg: IngestConfig): Promise<void> {
    // The TCP peer, never X-Forwarded-For: no HTTP proxy carries a source stream (a body with
    // neither length nor chunking), so such a header here is the client's own, and believing it
    // behind a stream proxy on loopback would let a guesser pick a new address for every try.
    const addr = clientAddress({ socket, headers: head.headers }, false);
    const log = this.opts.logger.child({ addr, door: 'icecast-source', method: head.method });
    const creds = basicCredentials(head.headers.authorization);
    /** The name for the log: as the gate allows until it knows who this is. */
    let user = this.opts.auth.logName(creds?.user);
    try {
      const path = decodePath(head.path);
      if (path === undefined) throw new Refusal(ANSWERS.badRequest, 'bad-path');
      const target = stationTarget(cfg, path);
      const who = await authenticateSource(this.opts.auth, cfg, { addr, target, creds });
      user = who.user;
      let input: InputMedia;
      let plan: StationPlan;
      try {
        input = this.inputOf(head, early);
        plan = this.plan(cfg, target.station, input, head, creds);
      } catch (err) {
        // refused before Icecast saw the password: it was never judged
        who.guess?.withdrawn();
        throw err;
      }
      const sink = new SourceSink(socket, log);
      const b = await this.claim(plan, input, who, sink, socket);
      if (b === undefined) return;
      if (socket.destroyed) { b.detach(sink, 'stopped'); return; }
      socket.write(acceptBytes(/100-continue/i.test(head.headers.expect ?? '')));
      sink.answered = true;
      this.pending.delete(socket);
      log.info('source client is streaming', { user, station: plan.id, mime: input.mime, agent: head.headers['user-agent']?.slice(0, 100) });
      this.stream(socket, b, sink, early);
    } catch (err) {
      const refusal = err instanceof Refusal ? err : undefined;
      const e = refusal === undefined ? toIcewireError(err) : undefined;
      if (e !== undefined && e.code === 'IW_ERR_INTERNAL') log.error('unexpected error while accepting a source client', { err });
      const answer = refusal?.answer ?? answerFor(e!.code, e!.message, e!.retryAfterS);
      const code = refusal?.code ?? e!.code;
      // the gate logged its own refusals; a request without credentials is a client's first knock
      const level = e?.detail === NO_CREDENTIALS ? 'debug' : e !== undefined && GATE_CODES.has(e.code) ? undefined : 'info';
      if (level !== undefined) {
        log.log(level, 'source client refused', { code, status: answer.status, ...(user !== undefined ? { user } : {}), ...(refusal?.detail ?? e?.detail ? { detail: refusal?.detail ?? e?.detail } : {}) });
      }
      if (e !== undefined) this.opts.metrics?.errors.inc({ code: e.code });
      if (!socket.destroyed) socket.end(answerBytes(answer));
    }
  }

  /** The announced type, confirmed by whatever first bytes already came. */
  private inputOf(head: RequestHead, early: Buffer): InputMedia {
    const type = head.headers['content-type'];
    if (type === undefined || type.trim() === '') throw new Refusal(ANSWERS.noContentType, 'no-content-type');
    const input = parseMime(type.trim());
    if (input === undefined) throw new IcewireError('IW_ERR_INGEST_UNSUPPORTED_MEDIA', { detail: `Content-Type ${JSON.stringify(type.slice(0, 100))}` });
    if (early.length >= MAGIC_BYTES && checkMagic(input.container, early.subarray(0, MAGIC_BYTES)) === 'bad') {
      throw new Refusal({ status: 400, reason: 'Bad Request', text: `The data is not ${type.slice(0, 100)}` }, 'IW_ERR_INGEST_INVALID_MEDIA', 'the first bytes do not match the Content-Type');
    }
    return input;
  }

  /** The station's plan; the client's stream information fills what the station config does not set. */
  private plan(cfg: IngestConfig, id: string, input: InputMedia, head: RequestHead, creds: { user: string; password: string } | undefined): StationPlan {
    const info = clientStreamInfo(head.headers);
    const planned = planStation(cfg, id, input, { user: creds?.user, password: creds?.password, name: info.name, description: info.description });
    if (!planned.ok) throw new IcewireError(planned.code, { detail: planned.detail });
    const station = cfg.auth.mode === 'accounts' && Object.hasOwn(cfg.mounts, id) ? cfg.mounts[id] : undefined;
    const ice = planned.plan.ice;
    return {
      ...planned.plan,
      ice: {
        name: station?.name ?? info.name ?? ice.name,
        description: station?.description ?? info.description,
        genre: station?.genre ?? info.genre,
        url: station?.url ?? info.url,
        // a client never makes a station public that its config keeps private
        public: station !== undefined ? ice.public : info.public ?? false,
        bitrate: info.bitrate,
        audioInfo: info.audioInfo,
      },
    };
  }

  /**
   * Claim the station and start (or resume) its broadcast. In passthrough mode this settles the
   * password's guess, once: accepted when Icecast took it (or the running broadcast has it),
   * refused on Icecast's 401, withdrawn on anything that judged nothing.
   */
  private async claim(plan: StationPlan, input: InputMedia, who: SourceIdentity, sink: SourceSink, socket: Socket): Promise<Broadcast | undefined> {
    const { user, guess } = who;
    let claim;
    try {
      claim = await this.opts.registry.claim({
        stationMount: plan.id, user, sourcePassword: plan.sourcePassword, input, resume: undefined, ingest: 'icecast-source', sink,
        stillWanted: () => !socket.destroyed,
        create: () => new Broadcast(plan, input, user, this.opts.broadcastDeps, sink, 'icecast-source'),
      });
    } catch (err) {
      guess?.withdrawn();
      throw err;
    }
    if (claim.kind === 'gone') {
      guess?.withdrawn();
      return undefined;
    }
    if (claim.kind === 'new') {
      try {
        await claim.broadcast.start();
      } catch (err) {
        // Icecast refused: a wrong source password is a failed login; any other failure judged nothing
        if (err instanceof IcewireError && err.code === 'IW_ERR_ICECAST_AUTH') guess?.refused();
        else guess?.withdrawn();
        throw err;
      }
    }
    guess?.accepted();
    return claim.broadcast;
  }

  /** The body is the stream: into the broadcast, pausing the socket while a consumer is full. */
  private stream(socket: Socket, b: Broadcast, sink: SourceSink, early: Buffer): void {
    const resume = (): void => { if (b.isAttached(sink)) socket.resume(); };
    b.on('drain', resume);
    const feed = (chunk: Buffer): void => {
      if (!b.isAttached(sink)) return;
      if (!b.write(chunk)) socket.pause();
    };
    socket.on('data', feed);
    socket.once('close', () => {
      b.off('drain', resume);
      // the client went away: a drop that waits for it to come back, else the show ends `stopped`
      if (b.isAttached(sink)) b.detach(sink, 'stopped');
    });
    // the stream lasts as long as the show: no idle cut here, the broadcast watches for silence
    socket.setTimeout(0);
    if (early.length > 0) feed(early);
    socket.resume();
  }
}

/** The broadcast's side of a source client's connection: there is nothing to tell it after the 200. */
class SourceSink implements BroadcastSink {
  /** The client has its 200; before that, a broadcast that fails leaves the answer to the door. */
  answered = false;

  constructor(private readonly socket: Socket, private readonly log: Logger) {}

  sendStatus(): void {}

  close(err: IcewireError | undefined): void {
    // failed while starting (Icecast refused, say): serve() answers with Icecast's status
    if (!this.answered) return;
    if (err !== undefined) this.log.info('source client connection closed', { code: err.code, ...(err.detail !== undefined ? { detail: err.detail } : {}) });
    // after the 200 the protocol has no way to say why: the connection closes
    this.socket.destroy();
  }
}
