// The webcast protocol over one WebSocket (docs/protocol.md): hello, then the MediaRecorder
// chunks as binary frames in order, metadata as text; the daemon answers with status and error
// frames. Knows nothing about the page; the socket comes from an injected factory (the browser's
// WebSocket, or a fake in unit tests).

/** What WebcastClient needs of a WebSocket. */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBuffer): void;
  close(code?: number): void;
  addEventListener(type: 'open' | 'error', fn: () => void): void;
  addEventListener(type: 'message', fn: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', fn: (ev: { code: number; reason: string }) => void): void;
}
export type SocketFactory = (url: string, protocol: string) => SocketLike;

/** A recorded chunk (a Blob in the browser). */
export interface ChunkLike {
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Timers (the browser's, or a fake clock's in unit tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const browserTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

const CONNECTING = 0;
const OPEN = 1;

// The frames' shapes are the wire contract's; a client still reads them defensively.
export type { RenditionStatus, StatusData } from './wire-contract.js';
import type { StatusData } from './wire-contract.js';

export interface Hello {
  mime: string;
  user: string;
  password: string;
  name?: string;
  description?: string;
  /** The broadcast's resume token (from a status frame): continue that broadcast after a drop. */
  resume?: string;
  /** Instead of the password: a login token from POST /api/login (accounts mode). */
  token?: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** The socket had opened (false: the connection was refused or never established). */
  opened: boolean;
  /** We closed it (finish() or abort()). */
  byUs: boolean;
}

export interface WebcastHandlers {
  onOpen?(): void;
  onStatus?(s: StatusData): void;
  onErrorFrame?(code: string, message: string): void;
  onClose?(info: CloseInfo): void;
}

/** `ws:`/`wss:` URL of the ingest socket for a station mount, on the page's own origin. */
export function ingestUrl(loc: { protocol: string; host: string }, mount: string): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws/${encodeURIComponent(mount)}`;
}

/**
 * A close that is no answer from the daemon (the network or a proxy dropped the connection):
 * worth resuming with the broadcast's token. Deliberate ends (1000 stop, 1001 shutdown, 1011
 * pipeline failure, 4xxx refusals) are not: the daemon has ended or refused the broadcast.
 */
export function closeIsResumable(code: number): boolean {
  return code === 1005 || code === 1006 || code === 1012 || code === 1013 || code === 1014;
}

/** Wait before resume attempt `n` (0-based): 0.5 s, 1 s, 2 s, then every 3 s. */
export function resumeDelayMs(n: number): number {
  return [500, 1000, 2000][n] ?? 3000;
}

export class WebcastClient {
  private readonly ws: SocketLike;
  private opened = false;
  private closedByUs = false;
  private closed = false;
  private closeWaiters: (() => void)[] = [];
  private statusSeen = false;
  private statusWaiters: ((seen: boolean) => void)[] = [];
  /** Sends happen one after another: blob.arrayBuffer() is async and must not reorder chunks. */
  private chain: Promise<void> = Promise.resolve();
  private handedToSocket = 0;
  private pending = 0;

  constructor(
    openSocket: SocketFactory,
    url: string,
    private readonly hello: Hello,
    private readonly handlers: WebcastHandlers,
    private readonly timers: Timers = browserTimers,
  ) {
    this.ws = openSocket(url, 'webcast');
    this.ws.binaryType = 'arraybuffer';
    this.ws.addEventListener('open', () => {
      this.opened = true;
      this.ws.send(JSON.stringify({ type: 'hello', data: this.hello }));
      this.handlers.onOpen?.();
    });
    this.ws.addEventListener('message', (ev: { data: unknown }) => this.onMessage(ev));
    this.ws.addEventListener('close', (ev: { code: number; reason: string }) => {
      this.closed = true;
      this.handlers.onClose?.({ code: ev.code, reason: ev.reason, opened: this.opened, byUs: this.closedByUs });
      for (const w of this.closeWaiters.splice(0)) w();
      for (const w of this.statusWaiters.splice(0)) w(false);
    });
    // 'error' is always followed by 'close', which carries what we can know (code 1006).
  }

  get isOpen(): boolean {
    return this.ws.readyState === OPEN;
  }

  /** The close event has come (nothing more will happen on this connection). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** We closed it, or are closing it. */
  get isClosedByUs(): boolean {
    return this.closedByUs;
  }

  /** Bytes handed to the socket that it has put on the wire. */
  get bytesSent(): number {
    return this.handedToSocket - this.ws.bufferedAmount;
  }

  /** Bytes recorded but not yet on the wire (socket buffer plus chunks still being read). */
  get backlog(): number {
    return this.ws.bufferedAmount + this.pending;
  }

  sendChunk(blob: ChunkLike): void {
    if (blob.size === 0) return;
    this.pending += blob.size;
    this.chain = this.chain.then(async () => {
      try {
        const buf = await blob.arrayBuffer();
        if (this.ws.readyState === OPEN && !this.closedByUs) {
          this.ws.send(buf);
          this.handedToSocket += buf.byteLength;
        }
      } finally {
        this.pending -= blob.size;
      }
    }).catch(() => {
      // A chunk that cannot be read would corrupt the stream from here on: end it.
      this.abort(1000);
    });
  }

  sendMetadata(title: string, artist: string): boolean {
    if (this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify({ type: 'metadata', data: { title, artist } }));
    return true;
  }

  /**
   * Normal stop: wait until every chunk given so far has been handed to the socket, then close
   * with 1000 (the browser still sends what is buffered before the close frame). Resolves when
   * the socket has closed, or after `timeoutMs`.
   */
  async finish(timeoutMs = 5000): Promise<void> {
    await this.chain;
    this.closedByUs = true;
    if (this.ws.readyState === OPEN || this.ws.readyState === CONNECTING) this.ws.close(1000);
    await this.waitClosed(timeoutMs);
  }

  /** Close at once (chunks still queued are dropped). */
  abort(code = 1000): void {
    this.closedByUs = true;
    if (this.ws.readyState === OPEN || this.ws.readyState === CONNECTING) this.ws.close(code);
  }

  /**
   * Resolves true once the daemon has sent a status frame on this connection (it accepted the
   * hello), false if the socket closes first or `timeoutMs` passes.
   */
  waitForStatus(timeoutMs: number): Promise<boolean> {
    if (this.statusSeen) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(() => resolve(false), timeoutMs);
      this.statusWaiters.push((seen) => { this.timers.clearTimeout(t); resolve(seen); });
    });
  }

  waitClosed(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(resolve, timeoutMs);
      this.closeWaiters.push(() => { this.timers.clearTimeout(t); resolve(); });
    });
  }

  private onMessage(ev: { data: unknown }): void {
    if (typeof ev.data !== 'string') return;
    let msg: unknown;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return; // not ours to judge: a plain webcast server may send anything
    }
    if (typeof msg !== 'object' || msg === null) return;
    const { type, data } = msg as { type?: unknown; data?: unknown };
    if (typeof data !== 'object' || data === null) return;
    if (type === 'status') {
      const s = data as Partial<StatusData>;
      if (typeof s.state !== 'string') return;
      this.statusSeen = true;
      for (const w of this.statusWaiters.splice(0)) w(true);
      this.handlers.onStatus?.(s as StatusData);
    } else if (type === 'error') {
      const e = data as { code?: unknown; message?: unknown };
      this.handlers.onErrorFrame?.(String(e.code ?? ''), typeof e.message === 'string' ? e.message : '');
    }
  }
}
