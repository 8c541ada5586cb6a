// The Icecast source protocol as desktop source clients speak it (butt, Mixxx, ezstream/libshout,
// Liquidsoap, ffmpeg's icecast://): the request head of `PUT /<mount>` or the legacy
// `SOURCE /<mount>`, HTTP Basic credentials, which station a mount path names, the stream
// information in `ice-*`/`icy-*` headers, the `/admin/metadata` query, and the answers Icecast
// itself gives, so clients show their usual messages. Pure: bytes and strings in and out; it
// knows nothing about sockets (docs/notes/icecast.md has the measured answers).
import { ERRORS, type ErrorCode } from '../errors.js';
import type { IceHeaders } from '../icecast/icecast-source.js';

/** A request head larger than this is refused (Icecast's own limit is of this order). */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (path and query). */
  readonly target: string;
  readonly path: string;
  /** The raw query string, without the `?`. */
  readonly query: string;
  readonly version: string;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
}

/** Where the head ends: the index just after its blank line, or -1 while it is incomplete. */
export function headEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return -1;
  if (crlf < 0) return lf + 2;
  if (lf < 0) return crlf + 4;
  return Math.min(crlf + 4, lf + 2);
}

/** Parse a request head (without its blank line); undefined when it is not HTTP. */
export function parseRequestHead(head: Buffer): RequestHead | undefined {
  const lines = head.toString('latin1').split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
  const m = /^([A-Z]{1,16}) (\S{1,8192}) (HTTP\/1\.[01])$/.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  const target = m[2]!;
  const q = target.indexOf('?');
  return { method: m[1]!, target, path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1), version: m[3]!, headers };
}

/** A header value as the UTF-8 text clients mean (Node and this parser read heads as Latin-1). */
export function headerText(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const bytes = Buffer.from(v, 'latin1');
  const utf8 = bytes.toString('utf8');
  return utf8.includes('\ufffd') ? v : utf8;
}

/** HTTP Basic credentials (RFC 7617; the user may not contain ':'); undefined when absent or malformed. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,2048})\s*$/i.exec(header ?? '');
  if (m === null) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export interface MountTarget {
  /** The station mount id. */
  readonly station: string;
  /** A host named after the station (`/live/alice`): for clients that can only send user `source`. */
  readonly host?: string;
}

/** A request path percent-decoded; undefined when it does not decode. */
export function decodePath(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/**
 * Which station a source client's (decoded) mount path names: `/<station>`, `/<station>/<host>`,
 * or (accounts mode) one of a station's rendition mounts, e.g. `/live.mp3`, so a client can be
 * pointed at icewire exactly as it was at Icecast. undefined: not a mount path.
 */
export function mountTarget(decoded: string, renditionStations: ReadonlyMap<string, string>, isStation: (id: string) => boolean): MountTarget | undefined {
  if (!decoded.startsWith('/') || decoded.length > 200) return undefined;
  const byRendition = renditionStations.get(decoded);
  if (byRendition !== undefined) return { station: byRendition };
  const parts = decoded.slice(1).split('/');
  if (parts.length > 2 || !isStation(parts[0]!)) return undefined;
  if (parts.length === 2) return parts[1] === '' ? { station: parts[0]! } : { station: parts[0]!, host: parts[1]! };
  return { station: parts[0]! };
}

/** Stream information a client announces (`ice-*`, and the older `icy-*`), as Icecast reads it. */
export function clientStreamInfo(headers: Readonly<Record<string, string>>): IceHeaders {
  const pick = (...names: string[]): string | undefined => {
    for (const n of names) {
      const v = headerText(headers[n])?.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
      if (v !== undefined && v !== '') return v.slice(0, 1000);
    }
    return undefined;
  };
  const bitrate = Number.parseInt(pick('ice-bitrate', 'icy-br') ?? '', 10);
  const pub = pick('ice-public', 'icy-pub');
  return {
    name: pick('ice-name', 'icy-name'),
    description: pick('ice-description', 'icy-description'),
    genre: pick('ice-genre', 'icy-genre'),
    url: pick('ice-url', 'icy-url'),
    ...(pub !== undefined ? { public: pub === '1' } : {}),
    ...(Number.isFinite(bitrate) && bitrate > 0 && bitrate < 10000 ? { bitrate } : {}),
    audioInfo: pick('ice-audio-info'),
  };
}

/** What a refusal looks like to a source client: Icecast's status and text where Icecast has one. */
export interface SourceAnswer {
  readonly status: number;
  readonly reason: string;
  readonly text: string;
  /** 401: the client is asked for credentials. */
  readonly authenticate?: boolean;
  /** 429, 503: when to try again (seconds), as `Retry-After`. */
  readonly retryAfterS?: number;
}

export const ANSWERS = {
  unauthorized: { status: 401, reason: 'Authentication Required', text: 'You need to authenticate', authenticate: true },
  inUse: { status: 403, reason: 'Forbidden', text: 'Mountpoint in use' },
  noContentType: { status: 403, reason: 'Forbidden', text: 'No Content-type given' },
  tooMany: { status: 403, reason: 'Forbidden', text: 'too many sources connected' },
  unsupported: { status: 400, reason: 'Bad Request', text: 'Content-type not supported' },
  badRequest: { status: 400, reason: 'Bad Request', text: 'Bad Request' },
  noSource: { status: 400, reason: 'Bad Request', text: 'Source does not exist' },
} as const satisfies Record<string, SourceAnswer>;

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Authentication Required', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

/** An answer with our own sentence, for refusals Icecast has no text for. */
export function sentenceAnswer(status: number, text: string): SourceAnswer {
  return { status, reason: REASONS[status] ?? 'Error', text };
}

/** Refusals Icecast has an answer of its own for; the rest get the catalogue's status and sentence. */
const ICECAST_ANSWER: Partial<Record<ErrorCode, SourceAnswer>> = {
  IW_ERR_AUTH_FAILED: ANSWERS.unauthorized,
  IW_ERR_ICECAST_AUTH: ANSWERS.unauthorized,
  IW_ERR_MOUNT_BUSY: ANSWERS.inUse,
  IW_ERR_ICECAST_MOUNT_IN_USE: ANSWERS.inUse,
  IW_ERR_LIMIT_BROADCASTS: ANSWERS.tooMany,
  IW_ERR_ICECAST_LIMIT: ANSWERS.tooMany,
  IW_ERR_INGEST_UNSUPPORTED_MEDIA: ANSWERS.unsupported,
};

/**
 * What a source client is told for a refusal: Icecast's own answer where it has one (clients show
 * their usual message: "wrong password", "mountpoint in use"), else the catalogue's status and
 * sentence, with `Retry-After` when the refusal says when to try again. A 401 of ours that is not
 * a wrong password (it would read as one) is a 403. A rate limit stays a 429 "Too Many Requests":
 * ffmpeg and Liquidsoap print the status line ("HTTP error 429 Too Many Requests"; with 403 they
 * said "Forbidden (access denied)", as for a mount that is not yours); libshout clients (ezstream,
 * butt, Mixxx) say "Login failed" for either.
 */
export function answerFor(code: ErrorCode, message: string, retryAfterS?: number): SourceAnswer {
  const icecast = ICECAST_ANSWER[code];
  if (icecast !== undefined) return icecast;
  const http = ERRORS[code].http;
  const answer = sentenceAnswer(http === 401 ? 403 : http, message);
  return retryAfterS !== undefined && (http === 429 || http === 503) ? { ...answer, retryAfterS } : answer;
}

/** A refusal's bytes, as Icecast 2.4 writes them: HTTP/1.0, the text, then the connection closes. */
export function answerBytes(a: SourceAnswer): string {
  const body = `${a.text}\r\n`;
  return [
    `HTTP/1.0 ${a.status} ${a.reason}`,
    'Server: icewire',
    'Connection: Close',
    'Content-Type: text/plain; charset=utf-8',
    ...(a.authenticate === true ? ['WWW-Authenticate: Basic realm="icewire"'] : []),
    ...(a.retryAfterS !== undefined ? [`Retry-After: ${a.retryAfterS}`] : []),
    'Cache-Control: no-cache, no-store',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** Accepting a source: a `100 Continue` first when the client asked for one, then the bare 200. */
export function acceptBytes(expectContinue: boolean): string {
  return `${expectContinue ? 'HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n' : ''}HTTP/1.0 200 OK\r\n\r\n`;
}

/** Icecast's answer to a metadata update it took. */
export const METADATA_OK = '<?xml version="1.0"?>\n<iceresponse><message>Metadata update successful</message><return>1</return></iceresponse>\n';

export interface MetadataQuery {
  readonly mode: string | undefined;
  readonly mount: string | undefined;
  readonly song: string | undefined;
  readonly title: string | undefined;
  readonly artist: string | undefined;
  /** admin.cgi (SHOUTcast style): the password in the query, and optionally the user. */
  readonly pass: string | undefined;
  readonly user: string | undefined;
}

/**
 * The `/admin/metadata` (or `/admin.cgi`) query. Values are percent-decoded as UTF-8, or in the
 * charset the query names (`charset=ISO-8859-1`, as some clients send Latin-1 titles); `+` is a
 * space. A value that is not valid in its charset keeps replacement characters (the title
 * cleaner removes nothing it should keep).
 */
export function parseMetadataQuery(query: string): MetadataQuery {
  const pairs = query.split('&').filter((p) => p !== '').slice(0, 50).map((p) => {
    const eq = p.indexOf('=');
    return [eq < 0 ? p : p.slice(0, eq), eq < 0 ? '' : p.slice(eq + 1)] as const;
  });
  const bytesOf = (v: string): Buffer => {
    const out: number[] = [];
    for (let i = 0; i < v.length && out.length < 16384; i++) {
      const c = v[i]!;
      if (c === '%' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
        out.push(Number.parseInt(v.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (c === '+') {
        out.push(0x20);
      } else {
        out.push(...Buffer.from(c, 'utf8'));
      }
    }
    return Buffer.from(out);
  };
  const charsetRaw = pairs.find(([k]) => k.toLowerCase() === 'charset')?.[1];
  const charset = charsetRaw === undefined ? 'utf-8' : bytesOf(charsetRaw).toString('latin1').trim().toLowerCase();
  const latin1 = charset === 'iso-8859-1' || charset === 'latin1' || charset === 'l1' || charset === 'windows-1252' || charset === 'cp1252';
  const get = (key: string): string | undefined => {
    const raw = pairs.find(([k]) => k === key)?.[1];
    if (raw === undefined) return undefined;
    return bytesOf(raw).toString(latin1 ? 'latin1' : 'utf8');
  };
  return { mode: get('mode'), mount: get('mount'), song: get('song'), title: get('title'), artist: get('artist'), pass: get('pass'), user: get('user') };
}
