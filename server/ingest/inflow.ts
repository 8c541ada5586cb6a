// What one broadcaster's socket holds between reading a frame and the broadcast taking it. Two
// moments need holding: while the hello is being checked (clients don't wait for an answer), and
// while the broadcast's consumers are full (backpressure). Each has a bound.
//
// Before the hello is accepted, a connection may hold PRE_AUTH_BYTES, and all such connections
// together PRE_AUTH_TOTAL_BYTES (one pool per daemon): an unauthenticated client costs at most a
// few kilobytes, however many frames it sends. A refusal drops what was held.
//
// Once accepted, the socket is never paused: a paused socket cannot see what comes behind the
// media in the same TCP stream, the broadcaster's Stop (a close frame) and the heartbeat's pongs,
// so a Stop pressed while the station was full read as a dead connection. While the broadcast is
// full its frames are held instead, up to the connection's bound (limits.maxQueueBytes); past it
// the station cannot keep up and the connection fails (overflow: ingest-too-slow). A Stop is
// therefore always read at once, and the held frames are handed over before the broadcast stops.

/** Held per connection before its hello is accepted (a browser's first chunk or two of audio). */
export const PRE_AUTH_BYTES = 64 * 1024;
/** Held by every connection waiting for its hello's answer, together. */
export const PRE_AUTH_TOTAL_BYTES = 4 * 1024 * 1024;

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

  private overflowed = false;

  /**
   * `maxHeldBytes`: what an accepted connection may hold while its broadcast is full; beyond it
   * `overflow` is called (once) and further frames are dropped.
   */
  constructor(
    private readonly socket: Pausable,
    private readonly pool: HoldPool,
    private readonly maxHeldBytes: number,
    private readonly overflow: () => void,
  ) {}

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
    if (this.target !== undefined && this.heldBytes + chunk.length > this.maxHeldBytes) {
      if (!this.overflowed) {
        this.overflowed = true;
        this.overflow();
      }
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.target === undefined) {
      this.pool.used += chunk.length;
      if (this.heldBytes >= PRE_AUTH_BYTES || this.pool.full) this.socket.pause();
    }
  }

  /** The hello was accepted: hand over what was held, then frames go straight to `target`. */
  accepted(target: (chunk: Buffer) => boolean): void {
    this.pool.used -= this.heldBytes;
    this.target = target;
    this.drain();
  }

  /** The broadcast can take more (or the hello was accepted): hand over what is held; a socket paused before the hello reads again. */
  drain(): void {
    if (this.target === undefined) return;
    this.full = false;
    while (this.held.length > 0 && !this.full) {
      const chunk = this.held.shift()!;
      this.heldBytes -= chunk.length;
      if (!this.target(chunk)) this.full = true;
    }
    if (this.socket.isPaused) this.socket.resume();
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
}
