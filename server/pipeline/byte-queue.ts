// A byte stream's unconsumed input, for the streaming parsers (WebM, Ogg).

/**
 * Unconsumed input as a list of chunks, joined only when a read needs bytes from several, so
 * pushing 1-byte chunks costs no more than pushing whole files.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first live chunk (dropping from the front of an array is O(n)). */
  private first = 0;
  /** Bytes of chunks[first] already consumed. */
  private head = 0;
  /** Bytes available. */
  length = 0;
  /** Absolute stream offset of the first available byte. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.length += chunk.length;
  }

  /** Byte at index i (< length) from the front. */
  peek(i: number): number {
    let k = this.first;
    let idx = i + this.head;
    while (idx >= this.chunks[k]!.length) {
      idx -= this.chunks[k]!.length;
      k++;
    }
    return this.chunks[k]![idx]!;
  }

  /** Consume n (<= length) bytes; the result may share memory with pushed chunks. */
  take(n: number): Buffer {
    const first = this.chunks[this.first];
    let out: Buffer;
    if (n === 0) out = Buffer.alloc(0);
    else if (first !== undefined && first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
    } else {
      out = Buffer.allocUnsafe(n);
      let done = 0;
      let k = this.first;
      let from = this.head;
      while (done < n) {
        const c = this.chunks[k]!;
        const m = Math.min(c.length - from, n - done);
        c.copy(out, done, from, from + m);
        done += m;
        k++;
        from = 0;
      }
    }
    this.skip(n);
    return out;
  }

  /** Drop n (<= length) bytes. */
  skip(n: number): void {
    this.length -= n;
    this.offset += n;
    let left = n;
    while (left > 0) {
      const avail = this.chunks[this.first]!.length - this.head;
      if (avail > left) {
        this.head += left;
        break;
      }
      left -= avail;
      this.first++;
      this.head = 0;
    }
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  clear(): void {
    this.skip(this.length);
  }
}
