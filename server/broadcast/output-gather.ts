// What an encoder writes, gathered for a moment and sent on in one piece. ffmpeg writes every MP3
// frame (24 ms of audio) the moment it is made (`-flush_packets 1`), and it encodes a browser
// chunk's 300 ms in one go: a dozen pipe reads, a dozen passes through the framer and a dozen
// Icecast writes, each waking Icecast, where one would do. On a saturated machine every such
// write can cost the daemon a wait for the CPU (the reader it wakes runs first), and the daemon
// serves every stream. Gathered for OUTPUT_GATHER_MS, a chunk's output goes to Icecast in one
// write, at most that much later (docs/performance.md, "Saturation").
import type { Cancel, Clock } from '../clock.js';

/** How long an encoder's output is gathered before it is sent on. */
export const OUTPUT_GATHER_MS = 20;

export class OutputGather {
  private parts: Buffer[] = [];
  private cancel: Cancel | undefined;

  constructor(private readonly clock: Pick<Clock, 'after'>, private readonly send: (chunk: Buffer) => void, private readonly ms = OUTPUT_GATHER_MS) {}

  /** Bytes the encoder wrote: sent on within `ms`, with whatever else comes meanwhile. */
  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.cancel ??= this.clock.after(this.ms, () => this.flush());
  }

  /** Send what was gathered now (the encoder is ending, or being replaced). */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    this.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** Drop what was gathered (the encoder is being killed). */
  discard(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.parts = [];
  }
}
