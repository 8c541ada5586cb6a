// A rendition that carries the client's own frames to Icecast, no process: an MP3 upload (a
// desktop source client) to an MP3 mount. The upload is cut into whole frames (an Icecast source
// that reconnects resumes at a frame), and while the client is away the gap is filled with silent
// frames of the stream's own kind, so Icecast keeps its listeners and the stream stays one stream.
import { Mp3Framer, frameMs, silentFrame } from '../pipeline/mp3-frames.js';
import { OutputPipe, type Rendition } from './rendition-pipe.js';

export class UploadCopyPipe extends OutputPipe implements Rendition {
  private framer = new Mp3Framer();
  /** Silence owed but shorter than a frame, in ms. */
  private owedMs = 0;

  /** An MP3 stream has no header to send again after a reconnect. */
  header(): Buffer {
    return Buffer.alloc(0);
  }

  async start(): Promise<void> {
    await this.output.start();
  }

  oggHeaders(_pages: Buffer): void {}

  oggPages(_pages: Buffer): boolean {
    return true;
  }

  override raw(chunk: Buffer): boolean {
    const frames = this.framer.push(chunk);
    let ok = true;
    for (const data of frames) if (!this.output.write({ data, syncPoint: true, header: false })) ok = false;
    return ok;
  }

  override newRawStream(): void {
    // the new connection's stream may start with its own tag; the last frame's kind is kept for silence
    const last = this.framer.last;
    this.framer = new Mp3Framer();
    this.framer.last = last;
    this.owedMs = 0;
  }

  silence(ms: number): void {
    const last = this.framer.last;
    if (last === undefined) return;
    this.owedMs += ms;
    const n = Math.floor(this.owedMs / frameMs(last.info));
    if (n <= 0) return;
    this.owedMs -= n * frameMs(last.info);
    const frame = silentFrame(last.header);
    this.output.write({ data: Buffer.concat(Array<Buffer>(n).fill(frame)), syncPoint: true, header: false });
  }

  async finish(_eosPage: Buffer | undefined): Promise<void> {
    await this.output.end();
  }
}
