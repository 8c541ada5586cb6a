// Icecast's answers to a source client, mapped to error codes. Pure and table-tested.
// The answers are Icecast 2.4.4's (docs/notes/icecast.md).
import type { ErrorCode } from '../errors.js';

export interface IcecastAnswer {
  readonly status: number;
  readonly body: string;
}

/** undefined = accepted; otherwise the error code for the refusal. */
export function classifyIcecastAnswer(a: IcecastAnswer): ErrorCode | undefined {
  if (a.status >= 200 && a.status < 300) return undefined;
  if (a.status === 401) return 'IW_ERR_ICECAST_AUTH';
  if (a.status === 403) {
    if (/mountpoint in use/i.test(a.body)) return 'IW_ERR_ICECAST_MOUNT_IN_USE';
    if (/too many sources/i.test(a.body)) return 'IW_ERR_ICECAST_LIMIT';
    return 'IW_ERR_ICECAST_REFUSED';
  }
  return 'IW_ERR_ICECAST_REFUSED';
}

/** Socket error codes that mean "nobody answered" rather than "it answered no". */
export function isUnreachable(code: string | undefined): boolean {
  return code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE'].includes(code);
}

export interface ParsedHead {
  readonly status: number;
  readonly headerBytes: number;
}

/**
 * Parse an HTTP status line + headers from the start of a buffer.
 * Returns undefined while the head is incomplete; throws on garbage.
 * Icecast 2.4.4 answers a PUT with a bare "HTTP/1.0 200 OK\r\n\r\n" (no headers).
 */
export function parseResponseHead(buf: Buffer): ParsedHead | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    // A "100 Continue" is never asked for; anything longer than this is not Icecast.
    if (buf.length > 16384) throw new Error('response head too long');
    return undefined;
  }
  const statusLine = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
  const m = /^(?:HTTP\/1\.[01]|ICY) (\d{3})(?: .*)?$/.exec(statusLine);
  if (m === null) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 80))}`);
  return { status: Number(m[1]), headerBytes: end + 4 };
}
