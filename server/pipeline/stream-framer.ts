// Splits an encoder's output byte stream into units a listener can start at, and keeps the
// stream header, so an Icecast source that reconnects can send the header again and continue at
// the next unit (docs/notes/icecast.md: Icecast caches Ogg header pages / the WebM header for late joiners).
// Pure: bytes in, units out.
//   ogg  -> whole pages; the leading pages with granule 0 (codec headers) are the header
//   webm -> the bytes before the first Cluster are the header; each unit starts at a Cluster
//   mp3  -> chunks as they come (players resync on the MP3 frame sync)

export type FramerFormat = 'ogg' | 'webm' | 'mp3';

export interface Unit {
  readonly data: Buffer;
  /** A listener (or a reconnected source) may start here. */
  readonly syncPoint: boolean;
  /** Part of the stream header (sent again after a reconnect, not counted as media). */
  readonly header: boolean;
}

const OGG_CAPTURE = Buffer.from('OggS');
const CLUSTER_ID = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private headerParts: Buffer[] = [];
  private inHeader = true;
  private failed = false;
  private atCluster = false;

  constructor(readonly format: FramerFormat, private readonly maxUnitBytes = 4 * 1024 * 1024) {}

  /** The stream header so far (empty for MP3). */
  get header(): Buffer {
    return Buffer.concat(this.headerParts);
  }

  /**
   * Feed bytes; returns complete units. After a framing error, bytes pass through unframed. A WebM
   * unit may be a view of `chunk`: the caller must not change the chunk afterwards.
   */
  push(chunk: Buffer): Unit[] {
    if (this.format === 'mp3' || this.failed) return chunk.length > 0 ? [{ data: chunk, syncPoint: this.format === 'mp3', header: false }] : [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const units = this.format === 'ogg' ? this.oggPages() : this.webmUnits();
    if (this.buf.length > this.maxUnitBytes) {
      // Not the container we expected (or a unit far beyond any sane size): stop framing
      // rather than buffer without bound; bytes still flow.
      this.failed = true;
      units.push({ data: this.buf, syncPoint: false, header: false });
      this.buf = Buffer.alloc(0);
    }
    return units;
  }

  /** Whatever is buffered (at the end of the stream). */
  flush(): Unit[] {
    if (this.buf.length === 0) return [];
    const u = { data: this.buf, syncPoint: false, header: false };
    this.buf = Buffer.alloc(0);
    return [u];
  }

  private oggPages(): Unit[] {
    const out: Unit[] = [];
    for (;;) {
      if (this.buf.length < 27) break;
      if (!this.buf.subarray(0, 4).equals(OGG_CAPTURE)) {
        // resynchronise on the next capture pattern
        const next = this.buf.indexOf(OGG_CAPTURE, 1);
        const junk = next < 0 ? this.buf.subarray(0, Math.max(0, this.buf.length - 3)) : this.buf.subarray(0, next);
        if (junk.length > 0) out.push({ data: Buffer.from(junk), syncPoint: false, header: false });
        this.buf = this.buf.subarray(junk.length);
        if (next < 0) break;
        continue;
      }
      const segments = this.buf[26]!;
      if (this.buf.length < 27 + segments) break;
      let bodyLen = 0;
      for (let i = 0; i < segments; i++) bodyLen += this.buf[27 + i]!;
      const pageLen = 27 + segments + bodyLen;
      if (this.buf.length < pageLen) break;
      const page = Buffer.from(this.buf.subarray(0, pageLen));
      this.buf = this.buf.subarray(pageLen);
      const bos = (page[5]! & 0x02) !== 0;
      const granuleZero = page.readBigInt64LE(6) === 0n;
      // A new chain (BOS) starts a new header; codec header pages carry granule 0.
      if (bos) { this.headerParts = []; this.inHeader = true; }
      const header = this.inHeader && granuleZero;
      if (header) this.headerParts.push(page);
      else this.inHeader = false;
      out.push({ data: page, syncPoint: !header, header });
    }
    return out;
  }

  private webmUnits(): Unit[] {
    const out: Unit[] = [];
    if (this.inHeader) {
      const at = this.buf.indexOf(CLUSTER_ID);
      if (at < 0) return out;
      const header = Buffer.from(this.buf.subarray(0, at));
      this.headerParts = [header];
      this.inHeader = false;
      out.push({ data: header, syncPoint: false, header: true });
      this.buf = this.buf.subarray(at);
      this.atCluster = true;
    }
    // Bytes go out as they come (no added latency), as views of the chunk ffmpeg wrote (no copy);
    // a unit that begins at a Cluster is a sync point. Only a tail that could be the start of a
    // Cluster ID cut by the chunk boundary stays back (a few bytes, rarely). (An ID-like sequence
    // inside a frame only makes an early boundary: harmless, players resync.)
    for (;;) {
      const next = this.buf.indexOf(CLUSTER_ID, this.atCluster ? 1 : 0);
      if (next === 0) { this.atCluster = true; continue; }
      if (next > 0) {
        out.push({ data: this.buf.subarray(0, next), syncPoint: this.atCluster, header: false });
        this.buf = this.buf.subarray(next);
        this.atCluster = true;
        continue;
      }
      const emit = this.buf.length - idPrefixAtEnd(this.buf, this.atCluster ? CLUSTER_ID.length : 0);
      if (emit > (this.atCluster ? CLUSTER_ID.length : 0)) {
        out.push({ data: this.buf.subarray(0, emit), syncPoint: this.atCluster, header: false });
        this.buf = this.buf.subarray(emit);
        this.atCluster = false;
      }
      break;
    }
    return out;
  }
}

/** How many bytes at the end of buf (from `from` on) could begin a Cluster ID that the next chunk completes. */
function idPrefixAtEnd(buf: Buffer, from: number): number {
  const n = buf.length;
  for (let k = Math.min(CLUSTER_ID.length - 1, n - from); k > 0; k--) {
    let i = 0;
    while (i < k && buf[n - k + i] === CLUSTER_ID[i]) i++;
    if (i === k) return k;
  }
  return 0;
}
