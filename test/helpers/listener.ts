// An Icecast listener for tests: records what a player would receive.
import { get, type IncomingMessage } from 'node:http';

export interface Recording {
  /** Resolves with everything received when stop() is called or the stream ends. */
  readonly done: Promise<Buffer>;
  readonly status: Promise<number>;
  /** Bytes so far. */
  bytes(): number;
  /** true once Icecast closed the connection by itself. */
  ended(): boolean;
  stop(): void;
}

export function listen(url: string, opts: { maxMs?: number; onData?: (bytes: number) => void } = {}): Recording {
  const chunks: Buffer[] = [];
  let total = 0;
  let endedByServer = false;
  let res: IncomingMessage | undefined;
  let resolveStatus!: (n: number) => void;
  const status = new Promise<number>((r) => { resolveStatus = r; });
  let finish!: () => void;
  const done = new Promise<Buffer>((resolve) => {
    finish = () => resolve(Buffer.concat(chunks));
  });
  const req = get(url, { headers: { 'User-Agent': 'icewire-test-listener' } }, (r) => {
    res = r;
    resolveStatus(r.statusCode ?? 0);
    r.on('data', (c: Buffer) => { chunks.push(c); total += c.length; opts.onData?.(c.length); });
    r.on('end', () => { endedByServer = true; finish(); });
    r.on('close', () => finish());
    r.on('error', () => finish());
  });
  req.on('error', () => { resolveStatus(0); finish(); });
  const timer = opts.maxMs !== undefined ? setTimeout(() => stop(), opts.maxMs) : undefined;
  function stop(): void {
    if (timer !== undefined) clearTimeout(timer);
    res?.destroy();
    req.destroy();
    finish();
  }
  return { done, status, bytes: () => total, ended: () => endedByServer, stop };
}

/** Mounts Icecast has now (admin API: robust even when status-json is not). */
export async function listMounts(icecastUrl: string, adminPassword: string): Promise<string[]> {
  const res = await fetch(`${icecastUrl}/admin/listmounts`, {
    headers: { Authorization: `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}` },
  });
  const xml = await res.text();
  return [...xml.matchAll(/<source mount="([^"]+)"/g)].map((m) => m[1]!);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForMount(icecastUrl: string, adminPassword: string, mount: string, timeoutMs = 10000): Promise<void> {
  await waitFor(`mount ${mount} on Icecast`, async () => (await listMounts(icecastUrl, adminPassword)).includes(mount), timeoutMs);
}

/** Resolves with how long (ms) it took for the mount to disappear. */
export async function waitForMountGone(icecastUrl: string, adminPassword: string, mount: string, timeoutMs = 10000): Promise<number> {
  const t0 = Date.now();
  await waitFor(`mount ${mount} to leave Icecast`, async () => !(await listMounts(icecastUrl, adminPassword)).includes(mount), timeoutMs);
  return Date.now() - t0;
}
