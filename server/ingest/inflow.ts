// What one broadcaster's socket holds between reading a frame and the broadcast taking it. Two
// moments need holding: while the hello is being checked (clients don't wait for an answer), and
// while the broadcast's consumers are full (backpressure). Each has a bound; beyond it the socket
// is paused, so further bytes wait in the kernel and the client's own buffer, never in the daemon.
//
// Before the hello is accepted, a connection may hold PRE_AUTH_BYTES, and all such connections
// together PRE_AUTH_TOTAL_BYTES (one pool per daemon): an unauthenticated client costs at most a
// few kilobytes, however many frames it sends. A refusal drops what was held.
//
// While the broadcast is full, reading goes on for READ_AHEAD_BYTES more before the socket is
// paused, so a close frame right behind the media (the broadcaster pressed Stop) is still seen at
// once, and the held frames are handed over before the broadcast stops.

/** Held per connection before its hello is accepted (a browser's first chunk or two of audio). */
export const PRE_AUTH_BYTES = 64 * 1024;
/** Held by every connection waiting for its hello's answer, together. */
export const PRE_AUTH_TOTAL_BYTES = 4 * 1024 * 1024;
/** Read ahead of a full broadcast before the socket is paused. */
export const READ_AHEAD_BYTES = 1024 * 1024;

/** The daemon-wide allowance for frames of connections not yet authenticated. */
export class HoldPool {
  used = 0;

  constructor(readonly max = PRE_AUTH_TOTAL_BYTES) {}

  get full(): boolean {
    return this.used >= this.max;
  }
}

/** The socket, as far as holding goes (a ws WebSocket). */
export interface Pausable {
  pause(): void;
  resume(): void;
  readonly isPaused: boolean;
}

export class Inflow {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The broadcast's write(); false = full until drain(). Undefined until the hello is accepted. */
  private target: ((chunk: Buffer) => boolean) | undefined;
  private full = false;

  constructor(private readonly socket: Pausable, private readonly pool: HoldPool) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** A binary frame from the client. */
  push(chunk: Buffer): void {
    if (this.target !== undefined && !this.full && this.held.length === 0) {
      if (!this.target(chunk)) this.full = true;
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.target === undefined) this.pool.used += chunk.length;
    if (this.overBound()) this.socket.pause();
  }

  /** The hello was accepted: hand over what was held, then frames go straight to `target`. */
  accepted(target: (chunk: Buffer) => boolean): void {
    this.pool.used -= this.heldBytes;
    this.target = target;
    this.drain();
  }

  /** The broadcast can take more: hand over what is held, and read again once under the bound. */
  drain(): void {
    if (this.target === undefined) return;
    this.full = false;
    while (this.held.length > 0 && !this.full) {
      const chunk = this.held.shift()!;
      this.heldBytes -= chunk.length;
      if (!this.target(chunk)) this.full = true;
    }
    if (this.socket.isPaused && !this.overBound()) this.socket.resume();
  }

  /** The connection is ending: the broadcast gets everything held, full or not. */
  flush(): void {
    if (this.target === undefined) return;
    for (const chunk of this.held.splice(0)) this.target(chunk);
    this.heldBytes = 0;
  }

  /** Refused (or gone before it was accepted): drop what was held. */
  discard(): void {
    if (this.target === undefined) this.pool.used -= this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
  }

  private overBound(): boolean {
    return this.target === undefined ? this.heldBytes >= PRE_AUTH_BYTES || this.pool.full : this.heldBytes >= READ_AHEAD_BYTES;
  }
}
