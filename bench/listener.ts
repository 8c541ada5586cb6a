// An Icecast listener that keeps every received chunk with its arrival time (performance.now()).
// WebM mounts drop a listener that arrives before the first Cluster (docs/notes/icecast.md), so an attempt that
// ends with (almost) nothing is retried every 50 ms until the stream comes, like a player would.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import type { TimedChunk } from './capture-parse.js';

export interface Attempt {
  readonly startedAt: number;
  status: number;
  readonly chunks: TimedChunk[];
  bytes: number;
}

const RETRY_MS = 50;
/** An attempt that ended with fewer bytes than this was refused or dropped early: retry. */
const RETRY_BELOW_BYTES = 4096;

export class TimedListener {
  readonly attempts: Attempt[] = [];
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private resolveConnected!: (status: number) => void;
  /** Resolves with the HTTP status of the first attempt that answered. */
  readonly connected: Promise<number>;
  private resolveRequested!: () => void;
  /** Resolves once the first attempt's request is on the wire (WebM mounts answer only when data flows). */
  readonly requested: Promise<void>;
  private resolveEnded!: () => void;
  /** Resolves when the listener stopped or Icecast ended a stream that carried data. */
  readonly ended: Promise<void>;

  constructor(private readonly url: string, private readonly deadline: number) {
    this.connected = new Promise((r) => { this.resolveConnected = r; });
    this.ended = new Promise((r) => { this.resolveEnded = r; });
    this.requested = new Promise((r) => { this.resolveRequested = r; });
    this.attempt();
  }

  private attempt(): void {
    if (this.stopped) return;
    const a: Attempt = { startedAt: performance.now(), status: 0, chunks: [], bytes: 0 };
    this.attempts.push(a);
    let done = false;
    const over = (): void => {
      if (done) return;
      done = true;
      if (this.stopped) return;
      if (a.bytes < RETRY_BELOW_BYTES && performance.now() < this.deadline) {
        this.retryTimer = setTimeout(() => this.attempt(), RETRY_MS);
        return;
      }
      this.resolveEnded();
    };
    const req = get(this.url, { agent: false, headers: { 'User-Agent': 'icewire-bench-listener' } }, (res) => {
      this.res = res;
      a.status = res.statusCode ?? 0;
      this.resolveConnected(a.status);
      res.on('data', (d: Buffer) => {
        a.chunks.push({ t: performance.now(), data: d });
        a.bytes += d.length;
      });
      res.on('end', over);
      res.on('close', over);
      res.on('error', over);
    });
    this.req = req;
    req.on('error', over);
    req.on('socket', (sock) => {
      if (!sock.connecting) this.resolveRequested();
      else sock.once('connect', () => setImmediate(() => this.resolveRequested()));
    });
  }

  /** The attempt that carried the stream (most bytes). */
  get best(): Attempt {
    return this.attempts.reduce((b, a) => (a.bytes > b.bytes ? a : b), this.attempts[0]!);
  }

  get bytes(): number {
    return this.attempts.reduce((n, a) => n + a.bytes, 0);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.res?.destroy();
    this.req?.destroy();
    this.resolveConnected(0);
    this.resolveRequested();
    this.resolveEnded();
  }
}
