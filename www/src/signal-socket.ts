// The guests' signalling socket as a page keeps it (docs/guests.md, "Signalling"): connect,
// say hello, hand each frame over, and when the connection drops without a refusal, connect again
// by itself (0.25 s, 0.5 s, 1 s, then every 2 s) with a fresh hello, so a blink of the network
// costs a moment, not the show. A refusal (an error frame before the close) is final and comes
// with its sentence. DOM-free: the socket and the timers are injected (unit tests use fakes).
import type { SocketFactory, Timers } from './webcast-client.js';

/** Retry delays after a drop; the last one repeats. */
export const SIGNAL_RETRY_MS = [250, 500, 1000, 2000] as const;

/** Refusals worth another try: the daemon restarting. */
const RETRYABLE = new Set(['IW_ERR_SHUTTING_DOWN', 'IW_ERR_LIMIT_CONNECTIONS']);

export type SignalState =
  /** Connecting for the first time. */
  | 'connecting'
  | 'open'
  /** The connection dropped; trying again. */
  | 'retrying'
  /** Over: closed by us, refused, or given up. */
  | 'closed';

export interface SignalHandlers<In> {
  /** Every frame but `error` (the error comes to onEnd). */
  onFrame(frame: In): void;
  onState(state: SignalState): void;
  /** Final: `code`/`message` from the daemon's error frame, or undefined (closed by us, or given up). */
  onEnd(refusal: { code: string; message: string } | undefined): void;
}

export interface SignalOptions<Out> {
  url: string;
  protocol: string;
  /** The hello for each new connection (it may change: a rejoin secret, a fresh login token). */
  hello(): Out;
  openSocket: SocketFactory;
  timers: Timers;
  now(): number;
  /** Stop retrying this long after the connection was lost (undefined: never give up). */
  giveUpMs?: number;
}

export class SignalSocket<In extends { type: string; data?: unknown }, Out> {
  private socket: ReturnType<SocketFactory> | undefined;
  private stateValue: SignalState = 'connecting';
  private attempt = 0;
  private lostAt: number | undefined;
  private retryTimer: unknown;
  private ended = false;

  constructor(private readonly opts: SignalOptions<Out>, private readonly handlers: SignalHandlers<In>) {
    this.open();
  }

  get state(): SignalState {
    return this.stateValue;
  }

  /** Send a frame now; false when there is no open connection (signalling is not queued). */
  send(frame: Out): boolean {
    const s = this.socket;
    if (s === undefined || s.readyState !== 1 || this.stateValue !== 'open') return false;
    s.send(JSON.stringify(frame));
    return true;
  }

  /** Close for good (1000: the page is done with it). */
  close(code = 1000): void {
    if (this.ended) return;
    this.finish(undefined);
    try { this.socket?.close(code); } catch { /* already closing */ }
  }

  private setState(s: SignalState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.handlers.onState(s);
  }

  private open(): void {
    let refusal: { code: string; message: string } | undefined;
    let opened = false;
    let s: ReturnType<SocketFactory>;
    try {
      s = this.opts.openSocket(this.opts.url, this.opts.protocol);
    } catch {
      this.lost();
      return;
    }
    this.socket = s;
    s.addEventListener('open', () => {
      if (this.socket !== s) return;
      opened = true;
      s.send(JSON.stringify(this.opts.hello()));
    });
    s.addEventListener('message', (ev) => {
      if (this.socket !== s || typeof ev.data !== 'string') return;
      let frame: In;
      try {
        frame = JSON.parse(ev.data) as In;
      } catch {
        return;
      }
      if (typeof frame?.type !== 'string') return;
      if (frame.type === 'error') {
        const d = frame.data as { code?: unknown; message?: unknown } | undefined;
        refusal = { code: String(d?.code ?? ''), message: String(d?.message ?? '') };
        return;
      }
      if (this.stateValue !== 'open') {
        // the daemon's first answer: the hello was taken
        this.attempt = 0;
        this.lostAt = undefined;
        this.setState('open');
      }
      this.handlers.onFrame(frame);
    });
    s.addEventListener('close', () => {
      if (this.socket !== s || this.ended) return;
      this.socket = undefined;
      if (refusal !== undefined && !RETRYABLE.has(refusal.code)) {
        this.finish(refusal);
        return;
      }
      void opened;
      this.lost();
    });
  }

  private lost(): void {
    const now = this.opts.now();
    this.lostAt ??= now;
    if (this.opts.giveUpMs !== undefined && now - this.lostAt >= this.opts.giveUpMs) {
      this.finish(undefined);
      return;
    }
    if (this.stateValue !== 'connecting') this.setState('retrying');
    const delay = SIGNAL_RETRY_MS[Math.min(this.attempt, SIGNAL_RETRY_MS.length - 1)]!;
    this.attempt++;
    this.retryTimer = this.opts.timers.setTimeout(() => {
      if (!this.ended) this.open();
    }, delay);
  }

  private finish(refusal: { code: string; message: string } | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.opts.timers.clearTimeout(this.retryTimer);
    this.setState('closed');
    this.handlers.onEnd(refusal);
  }
}
