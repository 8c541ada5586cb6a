// Where the log lines go: stdout, with a bound on what may wait to be written.
//
// Writes to a pipe or a socket (the systemd journal's stream, a test harness) don't block Node's
// event loop: what the reader has not taken yet waits in the process, without limit. A reader that
// stalls (journald busy, a pager stopped) would so grow the daemon's memory line by line, during
// a flood by thousands. Here, past `maxQueuedBytes` waiting, lines are dropped and counted, and
// once the reader has taken what waited, one line says how many were lost (`onDropped`). On a
// terminal, writes are synchronous and nothing ever waits.
import { Writable } from 'node:stream';

/** What may wait for a slow reader before lines are dropped. */
export const MAX_QUEUED_LOG_BYTES = 1024 * 1024;

/** Where winston's formats leave the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

export interface BoundedOutputOptions {
  /** Default process.stdout. */
  readonly stream?: NodeJS.WritableStream & { readonly writableLength: number };
  readonly maxQueuedBytes?: number;
  /** Told once the reader caught up, with how many lines were dropped meanwhile. */
  readonly onDropped?: (lines: number) => void;
}

/** Log records in (winston's Stream transport, object mode), lines out to `stream`, bounded. */
export class BoundedOutput extends Writable {
  private readonly out: NodeJS.WritableStream & { readonly writableLength: number };
  private readonly maxQueuedBytes: number;
  private dropped = 0;

  constructor(private readonly o: BoundedOutputOptions = {}) {
    super({ objectMode: true });
    this.out = o.stream ?? process.stdout;
    this.maxQueuedBytes = o.maxQueuedBytes ?? MAX_QUEUED_LOG_BYTES;
  }

  /** Lines dropped and not yet reported. */
  get droppedLines(): number {
    return this.dropped;
  }

  override _write(info: Record<symbol, unknown>, _encoding: BufferEncoding, callback: () => void): void {
    if (this.out.writableLength >= this.maxQueuedBytes) {
      // over the bound, the stream is past its highWaterMark: 'drain' comes once it is empty
      if (this.dropped++ === 0) this.out.once('drain', () => this.caughtUp());
    } else {
      this.out.write(`${String(info[MESSAGE])}\n`);
    }
    callback();
  }

  private caughtUp(): void {
    const n = this.dropped;
    this.dropped = 0;
    this.o.onDropped?.(n);
  }
}
