// An Icecast source connection: one streaming PUT (or legacy SOURCE) on a raw socket.
// The daemon, not ffmpeg, holds this connection, so it can map Icecast's answers to
// clear errors and count bytes. A raw socket rather than http.request: Icecast wants an
// un-chunked body of unknown length, answers before the body, and never ends its response.
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { classifyIcecastAnswer, isUnreachable, parseResponseHead } from './icecast-answer.js';
import { sourceUserAgent } from './icecast-sources.js';

export interface IceHeaders {
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly genre?: string | undefined;
  readonly url?: string | undefined;
  readonly public?: boolean | undefined;
  readonly bitrate?: number | undefined;
  readonly audioInfo?: string | undefined;
}

export interface IcecastSourceOptions {
  /** Icecast base URL, e.g. http://127.0.0.1:8000 */
  readonly url: string;
  readonly mount: string;
  readonly user: string;
  readonly password: string;
  /** Bare content type (audio/ogg, audio/mpeg, video/webm, audio/webm). */
  readonly contentType: string;
  readonly ice: IceHeaders;
  readonly legacySource?: boolean;
  /** This daemon's instanceName, sent in the User-Agent so Icecast's statistics show who holds the mount. */
  readonly instanceName?: string | undefined;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
  /** Bytes queued (before the answer, or in the socket) before write() returns false. */
  readonly highWaterMark?: number;
}


/** Header value as the bytes of its UTF-8 encoding (Node writes header strings as latin1). */
function headerValue(v: string): string {
  return Buffer.from(v.replace(/[\r\n]+/g, ' ').slice(0, 1000), 'utf8').toString('latin1');
}

export function buildSourceRequest(o: Pick<IcecastSourceOptions, 'url' | 'mount' | 'user' | 'password' | 'contentType' | 'ice' | 'legacySource' | 'instanceName'>): string {
  const u = new URL(o.url);
  const basePath = u.pathname.replace(/\/+$/, '');
  const lines = [
    o.legacySource ? `SOURCE ${basePath}${o.mount} HTTP/1.0` : `PUT ${basePath}${o.mount} HTTP/1.1`,
    `Host: ${u.host}`,
    `Authorization: Basic ${Buffer.from(`${o.user}:${o.password}`, 'utf8').toString('base64')}`,
    `User-Agent: ${sourceUserAgent(o.instanceName)}`,
    `Content-Type: ${o.contentType}`,
    `ice-public: ${o.ice.public === true ? 1 : 0}`,
  ];
  const add = (k: string, v: string | number | undefined): void => {
    if (v !== undefined && v !== '') lines.push(`${k}: ${headerValue(String(v))}`);
  };
  add('ice-name', o.ice.name);
  add('ice-description', o.ice.description);
  add('ice-genre', o.ice.genre);
  add('ice-url', o.ice.url);
  add('ice-bitrate', o.ice.bitrate);
  add('ice-audio-info', o.ice.audioInfo);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export declare interface IcecastSource {
  on(event: 'drain', listener: () => void): this;
  /** The connection closed when nobody asked it to (after being accepted). */
  on(event: 'lost', listener: (err: IcewireError) => void): this;
}

export class IcecastSource extends EventEmitter {
  private socket: Socket | undefined;
  private state: 'idle' | 'connecting' | 'live' | 'ending' | 'closed' = 'idle';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needDrain = false;
  private readonly hwm: number;
  bytesOut = 0;

  constructor(private readonly opts: IcecastSourceOptions) {
    super();
    this.hwm = opts.highWaterMark ?? 256 * 1024;
  }

  get mount(): string {
    return this.opts.mount;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Connect and send the request head. Resolves when Icecast accepts; rejects with its refusal. */
  connect(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new Error('IcecastSource.connect called twice'));
    this.state = 'connecting';
    const u = new URL(this.opts.url);
    const secure = u.protocol === 'https:';
    const port = Number(u.port || (secure ? 443 : 80));
    const log = this.opts.logger;
    return new Promise<void>((resolve, reject) => {
      const sock = secure
        ? tlsConnect({ host: u.hostname, port, servername: u.hostname })
        : netConnect({ host: u.hostname, port });
      this.socket = sock;
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      let settled = false;
      let refusal: { status: number; body: Buffer } | undefined;
      const timer = setTimeout(() => {
        fail(new IcewireError('IW_ERR_ICECAST_UNREACHABLE', { detail: `no answer from ${u.host} within ${this.opts.connectTimeoutMs} ms` }));
      }, this.opts.connectTimeoutMs);
      const fail = (err: IcewireError): void => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        this.state = 'closed';
        sock.destroy();
        reject(err);
      };
      const finishRefusal = (): void => {
        if (refusal === undefined) return;
        const body = refusal.body.toString('utf8').trim().slice(0, 200);
        const code = classifyIcecastAnswer({ status: refusal.status, body }) ?? 'IW_ERR_ICECAST_REFUSED';
        fail(new IcewireError(code, { detail: `Icecast answered ${refusal.status} ${JSON.stringify(body)} for ${this.opts.mount}` }));
      };
      sock.once(secure ? 'secureConnect' : 'connect', () => {
        sock.write(buildSourceRequest(this.opts), 'latin1');
      });
      sock.on('data', (data: Buffer) => {
        if (settled) return; // Icecast sends nothing after its answer; ignore if it does
        if (refusal !== undefined) {
          if (refusal.body.length < 4096) refusal.body = Buffer.concat([refusal.body, data]);
          return;
        }
        head = Buffer.concat([head, data]);
        let parsed;
        try {
          parsed = parseResponseHead(head);
        } catch (err) {
          fail(new IcewireError('IW_ERR_ICECAST_REFUSED', { detail: `unreadable answer from Icecast: ${(err as Error).message}`, cause: err }));
          return;
        }
        if (parsed === undefined) return;
        if (parsed.status >= 200 && parsed.status < 300) {
          clearTimeout(timer);
          settled = true;
          this.state = 'live';
          log.debug('icecast accepted source', { mount: this.opts.mount });
          this.flushPending();
          resolve();
          return;
        }
        refusal = { status: parsed.status, body: head.subarray(parsed.headerBytes) };
        // Icecast closes right after the body; don't wait long for it.
        setTimeout(finishRefusal, 300).unref();
      });
      sock.on('drain', () => {
        if (this.needDrain) {
          this.needDrain = false;
          this.emit('drain');
        }
      });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled) {
          if (refusal !== undefined) { finishRefusal(); return; }
          fail(new IcewireError(isUnreachable(err.code) ? 'IW_ERR_ICECAST_UNREACHABLE' : 'IW_ERR_ICECAST_REFUSED', {
            detail: `${err.code ?? err.message} connecting to ${u.host}`, cause: err,
          }));
          return;
        }
        log.debug('icecast socket error', { mount: this.opts.mount, code: err.code });
      });
      sock.on('close', () => {
        if (!settled) {
          if (refusal !== undefined) { finishRefusal(); return; }
          fail(new IcewireError('IW_ERR_ICECAST_UNREACHABLE', { detail: `connection to ${u.host} closed before an answer` }));
          return;
        }
        const wasLive = this.state === 'live';
        this.state = 'closed';
        if (wasLive) {
          this.emit('lost', new IcewireError('IW_ERR_ICECAST_LOST', { detail: `Icecast closed the source connection for ${this.opts.mount}` }));
        }
      });
    });
  }

  /** Queue or send bytes. false = slow down until 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.state === 'connecting' || this.state === 'idle') {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= this.hwm) {
        this.needDrain = true;
        return false;
      }
      return true;
    }
    if (this.state !== 'live' || this.socket === undefined) return true; // ending/closed: nowhere to send
    this.bytesOut += chunk.length;
    const ok = this.socket.write(chunk);
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Bytes waiting to go out (queued before the answer plus the socket's buffer). */
  get bufferedBytes(): number {
    return this.pendingBytes + (this.socket?.writableLength ?? 0);
  }

  private flushPending(): void {
    const queued = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const b of queued) this.write(b);
    if (this.needDrain && (this.socket?.writableLength ?? 0) < this.hwm) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** Send what's buffered, then close; Icecast removes the mount when it sees the end. */
  end(timeoutMs = 3000): Promise<void> {
    const sock = this.socket;
    if (sock === undefined || this.state === 'closed' || sock.destroyed) {
      this.state = 'closed';
      return Promise.resolve();
    }
    this.state = 'ending';
    return new Promise((resolve) => {
      const t = setTimeout(() => sock.destroy(), timeoutMs).unref();
      sock.once('close', () => { clearTimeout(t); this.state = 'closed'; resolve(); });
      sock.end();
    });
  }

  destroy(): void {
    this.state = 'closed';
    this.socket?.destroy();
  }
}
