// Connections are handed to their door (the HTTP server, the source door) a few per event-loop
// turn, so a burst of them can't take the event loop from the connections already in.
//
// Node reads every socket that has data in one turn, and the HTTP server parses, routes and
// answers a request in the turn its bytes were read. A login flood's 800 requests, arriving
// together, were one turn of 300–600 ms: a live broadcast's socket, whose media arrived
// meanwhile, was read only after it, and its listeners waited that long for the next page. The
// listening socket (connection-router.ts) still reads a new connection's first bytes at once (a
// read and a comparison: what decides its door); then the connection waits here, and each turn
// (a setImmediate, which runs after the turn's I/O) hands the next `perTurn` over. So a burst
// costs the live sockets at most one batch's work per turn, and a lone connection is handed over
// in the turn it was read, as before. The line moves work in time only, never drops it: it is
// bounded (`maxWaiting`: beyond, the caller closes the newcomer), and the head deadline still
// counts from the accept.

export interface AdmissionOptions<T> {
  /** Handed over per turn. */
  readonly perTurn: number;
  /** Waiting at most; beyond, offer() refuses (the caller drops the connection). */
  readonly maxWaiting: number;
  /** Hand this one over. */
  readonly start: (item: T) => void;
  /** Gone while it waited (closed, timed out): skipped, not counted against the turn. */
  readonly gone: (item: T) => boolean;
  /** Run fn on the next turn, after its I/O (setImmediate; tests drive it by hand). */
  readonly nextTurn?: (fn: () => void) => void;
}

export class Admission<T> {
  private line: (T | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  private readonly nextTurn: (fn: () => void) => void;

  constructor(private readonly o: AdmissionOptions<T>) {
    this.nextTurn = o.nextTurn ?? ((fn) => { setImmediate(fn); });
  }

  /** Connections waiting now. */
  get waiting(): number {
    return this.line.length - this.head;
  }

  /** Let `item` in when its turn comes; false when the line is full (it is not taken). */
  offer(item: T): boolean {
    if (this.waiting >= this.o.maxWaiting) return false;
    this.line.push(item);
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.nextTurn(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    let started = 0;
    while (started < this.o.perTurn && this.head < this.line.length) {
      const item = this.line[this.head]!;
      this.line[this.head++] = undefined;
      if (this.o.gone(item)) continue;
      started++;
      this.o.start(item);
    }
    if (this.head === this.line.length) {
      this.line = [];
      this.head = 0;
    } else {
      // drop what was let in when it is most of the array (amortised O(1) per connection)
      if (this.head > 1024 && this.head * 2 > this.line.length) {
        this.line = this.line.slice(this.head);
        this.head = 0;
      }
      this.schedule();
    }
  }
}
