// An MP3 listener that asks Icecast for ICY metadata (Icy-MetaData: 1), as radio players do, and
// keeps every metadata block it receives, as raw bytes.
import { get, type IncomingMessage } from 'node:http';

export interface IcyListener {
  /** Resolves with the HTTP status once Icecast answered. */
  readonly status: Promise<number>;
  /** Resolves with Icecast's `icy-metaint` (0 when it sent none). */
  readonly metaint: Promise<number>;
  /** Every non-empty metadata block so far, trailing NUL padding removed. */
  readonly blocks: Buffer[];
  /** Resolves with the first block (already received or still to come) that `pred` accepts. */
  waitForBlock(pred: (block: Buffer) => boolean, timeoutMs: number): Promise<Buffer>;
  /** Every StreamTitle so far (blocks read as UTF-8), in order. */
  titles(): string[];
  stop(): void;
}

export function icyListen(url: string): IcyListener {
  const blocks: Buffer[] = [];
  const waiters: { pred: (b: Buffer) => boolean; resolve: (b: Buffer) => void }[] = [];
  let res: IncomingMessage | undefined;
  let resolveStatus!: (n: number) => void;
  const status = new Promise<number>((r) => { resolveStatus = r; });
  let resolveMetaint!: (n: number) => void;
  const metaint = new Promise<number>((r) => { resolveMetaint = r; });
  const req = get(url, { headers: { 'Icy-MetaData': '1', 'User-Agent': 'icewire-test-icy-listener' } }, (r) => {
    res = r;
    resolveStatus(r.statusCode ?? 0);
    const every = Number(r.headers['icy-metaint']);
    resolveMetaint(Number.isInteger(every) && every > 0 ? every : 0);
    if (!Number.isInteger(every) || every <= 0) { r.destroy(); return; }
    let buf = Buffer.alloc(0);
    let audioLeft = every;
    r.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (audioLeft > 0) {
          const n = Math.min(audioLeft, buf.length);
          buf = buf.subarray(n);
          audioLeft -= n;
          if (audioLeft > 0) return;
        }
        if (buf.length < 1) return;
        const len = buf[0]! * 16;
        if (buf.length < 1 + len) return;
        if (len > 0) {
          let end = 1 + len;
          while (end > 1 && buf[end - 1] === 0) end--;
          const block = Buffer.from(buf.subarray(1, end));
          blocks.push(block);
          for (const w of waiters.splice(0)) {
            if (w.pred(block)) w.resolve(block);
            else waiters.push(w);
          }
        }
        buf = buf.subarray(1 + len);
        audioLeft = every;
      }
    });
    r.on('error', () => { /* stop() or the server closed */ });
  });
  req.on('error', () => { resolveStatus(0); resolveMetaint(0); });
  return {
    status,
    metaint,
    blocks,
    waitForBlock(pred, timeoutMs) {
      const seen = blocks.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching ICY block within ${timeoutMs} ms; got ${JSON.stringify(blocks.map((b) => b.toString('latin1')))}`)), timeoutMs);
        waiters.push({ pred, resolve: (b) => { clearTimeout(t); resolve(b); } });
      });
    },
    titles() {
      return blocks.flatMap((b) => icyFields(b.toString('utf8')).filter((f) => f.key === 'StreamTitle').map((f) => f.value));
    },
    stop() {
      res?.destroy();
      req.destroy();
    },
  };
}

/**
 * The fields of an ICY block as players read them: `key='value';` pairs, a value running to the
 * first `';` (how ffmpeg and VLC split them).
 */
export function icyFields(block: string): { key: string; value: string }[] {
  const fields: { key: string; value: string }[] = [];
  let rest = block;
  for (;;) {
    const m = /^(\w+)='/.exec(rest);
    if (m === null) break;
    const end = rest.indexOf("';", m[0].length);
    if (end < 0) break;
    fields.push({ key: m[1]!, value: rest.slice(m[0].length, end) });
    rest = rest.slice(end + 2);
  }
  return fields;
}
