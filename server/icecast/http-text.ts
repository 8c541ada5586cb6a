// A GET to Icecast's HTTP interface with the answer as text: the stats the daemon polls while a
// broadcast is live and reads for /healthz and /metrics, the admin statistics of who holds which
// mount, and title updates. node:http rather than fetch(): fetch() loads undici and web streams
// into the process (about 10 MB of resident memory, measured with Node 20) to read one small
// document; node:http is loaded anyway.
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

/** An answer larger than this is refused (status-json.xsl of a thousand mounts is well under 1 MB). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export interface TextAnswer {
  readonly status: number;
  readonly text: string;
}

/** Rejects when Icecast cannot be reached, the signal aborts, or the answer is too large. */
export function getText(url: URL, o: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { headers: o.headers, signal: o.signal }, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes > MAX_ANSWER_BYTES) {
          req.destroy(new Error(`Icecast's answer to ${url.pathname} is over ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        parts.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
