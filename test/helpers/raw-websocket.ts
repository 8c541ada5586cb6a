// A WebSocket client written by hand on a TCP socket, for attacks the `ws` client won't make: it
// never answers the server's close frame (unless asked), sends its upgrade request and first
// frames in one write (cheap enough to open hundreds at once without starving the test's own
// event loop), and reports the close code and error code the server sent.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A client frame: masked, as RFC 6455 requires of clients. */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
    : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
    : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

export const textFrame = (text: string): Buffer => clientFrame(0x1, Buffer.from(text, 'utf8'));
export const binaryFrame = (data: Buffer): Buffer => clientFrame(0x2, data);

export interface RawOutcome {
  /** The close code the server sent, or undefined if none came before the connection ended. */
  readonly code: number | undefined;
  /** The `code` of the server's error frame, if any. */
  readonly errorCode: string | undefined;
  /** How long from connecting until the server closed the TCP connection. */
  readonly closedAfterMs: number;
}

export class RawWebSocket {
  readonly socket: Socket;
  /** Resolves when the server's close frame arrives (or the connection ends without one). */
  readonly closeFrame: Promise<number | undefined>;
  /** Resolves when the TCP connection is gone. */
  readonly ended: Promise<RawOutcome>;
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private code: number | undefined;
  private errorCode: string | undefined;
  private gotClose!: (code: number | undefined) => void;

  /**
   * Connect to `ws://127.0.0.1:<port><path>` with subprotocol webcast, sending `first` frames
   * right behind the upgrade request. `answerClose`: reply to the server's close frame and end.
   * `localAddress`: the source address on loopback (127.0.0.2 …), a client address of its own
   * without any proxy header.
   */
  constructor(port: number, path: string, opts: { headers?: Record<string, string>; first?: Buffer[]; answerClose?: boolean; localAddress?: string } = {}) {
    const t0 = Date.now();
    this.closeFrame = new Promise((resolve) => { this.gotClose = resolve; });
    this.socket = connect({ port, host: '127.0.0.1', ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}) });
    const head = [
      `GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: webcast',
      ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`), '', '',
    ].join('\r\n');
    this.socket.write(Buffer.concat([Buffer.from(head), ...(opts.first ?? [])]));
    this.socket.on('data', (d: Buffer) => this.onData(d, opts.answerClose === true));
    this.socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      this.socket.on('close', () => {
        this.gotClose(this.code);
        resolve({ code: this.code, errorCode: this.errorCode, closedAfterMs: Date.now() - t0 });
      });
    });
  }

  /** Send `total` bytes of binary frames of `frameBytes`, waiting for the socket to drain; stops when it closes. */
  async sendBinary(total: number, frameBytes: number): Promise<number> {
    const frame = binaryFrame(randomBytes(frameBytes));
    let sent = 0;
    while (sent < total && !this.socket.destroyed && this.socket.writable) {
      sent += frameBytes;
      if (!this.socket.write(frame)) {
        await new Promise<void>((resolve) => {
          const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
          this.socket.once('drain', done);
          this.socket.once('close', done);
        });
      }
    }
    return sent;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer, answerClose: boolean): void {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!/^HTTP\/1\.1 101/.test(this.buf.subarray(0, end).toString('latin1'))) {
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    // server frames are unmasked
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); at = 10; }
      if (this.buf.length < at + len) return;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (opcode === 0x1) {
        try {
          const msg = JSON.parse(payload.toString('utf8')) as { type?: string; data?: { code?: string } };
          if (msg.type === 'error') this.errorCode = msg.data?.code;
        } catch {
          // not ours to judge
        }
      } else if (opcode === 0x8) {
        this.code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.gotClose(this.code);
        if (answerClose) {
          this.socket.write(clientFrame(0x8, payload.subarray(0, 2)));
          this.socket.end();
        }
      }
    }
  }
}
