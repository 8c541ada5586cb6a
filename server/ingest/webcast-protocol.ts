// The webcast protocol's text messages (webcast.js, Liquidsoap input.harbor). A pure parser: it
// knows nothing about sockets. Errors carry a stable code (tests assert on codes, not text).
import { IcewireError } from '../errors.js';

export interface Hello {
  readonly mime: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly resume: string | undefined;
  /** A login token (POST /api/login) in place of the password: a reloaded page has no password. */
  readonly token: string | undefined;
}

export interface Metadata {
  readonly title: string | undefined;
  readonly artist: string | undefined;
}

export type ClientMessage =
  | { readonly type: 'hello'; readonly hello: Hello }
  | { readonly type: 'metadata'; readonly metadata: Metadata }
  | { readonly type: 'unknown'; readonly name: string };

const MAX_TEXT_BYTES = 16 * 1024;

function optString(data: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = data[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: `"${key}" must be a string` });
  if (v.length > max) throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: `"${key}" is longer than ${max} characters` });
  return v;
}

/**
 * A now-playing text: too long is cut, not refused. A title is cosmetic and the show must not end
 * over one (the title cleaner keeps 200 characters anyway); the frame's own 16 KiB bound holds.
 */
function optTitle(data: Record<string, unknown>, key: string): string | undefined {
  const v = optString(data, key, MAX_TEXT_BYTES);
  if (v === undefined || v.length <= MAX_TITLE_INPUT) return v;
  // never split a surrogate pair
  const end = /[\uD800-\uDBFF]/.test(v[MAX_TITLE_INPUT - 1]!) ? MAX_TITLE_INPUT - 1 : MAX_TITLE_INPUT;
  return v.slice(0, end);
}

/** Characters of a title or artist kept from a metadata message (the cleaner keeps fewer). */
const MAX_TITLE_INPUT = 1000;

/** Parse one text frame. Throws IcewireError(IW_ERR_PROTO_BAD_MESSAGE) on anything malformed. */
export function parseClientMessage(text: string): ClientMessage {
  if (text.length > MAX_TEXT_BYTES || Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
    throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: `text message longer than ${MAX_TEXT_BYTES} bytes` });
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: 'text message is not JSON' });
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: 'text message is not a JSON object' });
  }
  const { type, data } = msg as { type?: unknown; data?: unknown };
  if (typeof type !== 'string') throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: 'message has no string "type"' });
  const d: Record<string, unknown> =
    data === undefined || data === null ? {} : typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : (() => {
      throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: '"data" must be an object' });
    })();
  switch (type) {
    case 'hello': {
      const mime = optString(d, 'mime', 200);
      if (mime === undefined) throw new IcewireError('IW_ERR_PROTO_BAD_MESSAGE', { detail: 'hello has no "mime"' });
      return {
        type: 'hello',
        hello: {
          mime,
          user: optString(d, 'user', 200),
          password: optString(d, 'password', 1000),
          name: optString(d, 'name', 200),
          description: optString(d, 'description', 1000),
          resume: optString(d, 'resume', 200),
          token: optString(d, 'token', 200),
        },
      };
    }
    case 'metadata':
      return { type: 'metadata', metadata: { title: optTitle(d, 'title'), artist: optTitle(d, 'artist') } };
    default:
      return { type: 'unknown', name: type.slice(0, 50) };
  }
}
