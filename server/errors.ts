// The one error catalogue. Every failure a person or an operator can see has a stable code here,
// with the WebSocket close code and HTTP status it maps to and a line on how to fix it.
// docs/errors.md is the same table for people; test/unit/errors.test.ts keeps the two in step.
import type { CloseCode, EndReason } from '../www/src/wire-contract.js';

export interface ErrorSpec {
  /** WebSocket close code sent to a broadcaster (one of the wire contract's). */
  readonly close: CloseCode;
  /** HTTP status for the same failure on an HTTP route. */
  readonly http: number;
  /** Default sentence for the person: what happened and what to do. */
  readonly message: string;
  /** For operators (docs/errors.md): how to fix it. */
  readonly fix: string;
  /**
   * The end reason a broadcast that fails with this code ends with (status `reason`); null for
   * codes that refuse a request or a connection and never end a running broadcast.
   */
  readonly reason: EndReason | null;
}

export const ERRORS = {
  IW_ERR_PROTO_HELLO_TIMEOUT: {
    close: 4400, http: 400,
    message: 'No hello message arrived in time. The client must send its hello first; reload the page and try again.',
    fix: 'The client connected but never sent the webcast hello frame. Use a webcast-compatible client; raise limits.helloTimeoutMs for very slow links.',
    reason: 'protocol-error',
  },
  IW_ERR_PROTO_EXPECTED_HELLO: {
    close: 4400, http: 400,
    message: 'The first message must be the hello (JSON text), not audio data. Update or fix the broadcasting client.',
    fix: 'The client sent binary data or another message before its hello. Fix the client to send {"type":"hello",...} first.',
    reason: 'protocol-error',
  },
  IW_ERR_PROTO_BAD_MESSAGE: {
    close: 4400, http: 400,
    message: 'The broadcasting client sent a message icewire cannot read. Update or fix the client.',
    fix: 'A text frame was not JSON of the form {"type": "...", "data": {...}}, or a hello field had the wrong type.',
    reason: 'protocol-error',
  },
  IW_ERR_PROTO_FRAME_TOO_LARGE: {
    close: 4413, http: 413,
    message: 'A chunk of media was too large. Use a shorter recording timeslice (e.g. 250 ms) or a lower bitrate.',
    fix: 'A WebSocket frame exceeded limits.maxFrameBytes. Clients should send MediaRecorder chunks with a short timeslice.',
    reason: 'protocol-error',
  },
  IW_ERR_INGEST_UNSUPPORTED_MEDIA: {
    close: 4415, http: 415,
    message: 'This media type is not supported. Use a recent Firefox, Chrome, Edge or Safari (they record WebM, Ogg or MP4); a desktop source client must send MP3, AAC, Ogg (Opus, Vorbis or FLAC), FLAC or WebM.',
    fix: 'The hello mime (or a source client\'s Content-Type) is not one icewire takes: WebM (Opus or Vorbis; VP8/VP9 video), Ogg (Opus, Vorbis, FLAC), MP4 (Opus or AAC), MP3, AAC (ADTS) or FLAC (docs/protocol.md).',
    reason: 'invalid-media',
  },
  IW_ERR_INGEST_INVALID_MEDIA: {
    close: 4415, http: 415,
    message: 'The data sent is not valid media of the type it was announced as. Reload the page and try again; if it keeps happening, try another browser.',
    fix: 'The first bytes did not match the announced type (WebM, Ogg, MP4, MP3, AAC, FLAC), the stream header named a codec icewire does not take, or ffmpeg could not parse the stream. Check the client sends its encoder\'s output unmodified and announces it right.',
    reason: 'invalid-media',
  },
  IW_ERR_AUTH_FAILED: {
    close: 4401, http: 401,
    message: 'Wrong user name or password. Check them and try again.',
    fix: 'The broadcaster name/password did not match a broadcaster in the config. Reset it with `icewire hash-password`.',
    reason: null,
  },
  IW_ERR_AUTH_RATE_LIMITED: {
    close: 4429, http: 429,
    message: 'Too many failed logins from your address or for this name. Wait a few minutes, then try again with the right password.',
    fix: 'Logins from this address (limits.maxFailedLogins), or for this name from addresses it never logged in from (limits.maxFailedLoginsPerAccount), failed that often within limits.failedLoginWindowMs; or so many were being checked at once that the line waiting for them was full or waited 10 s. Refused before the password is checked; an HTTP answer (the page\'s login, a desktop client\'s source request) says when to try again (Retry-After) (docs/security.md).',
    reason: null,
  },
  IW_ERR_AUTH_BUSY: {
    close: 4429, http: 503,
    message: 'The server is busy checking other logins. Wait a few seconds, then try again.',
    fix: 'The daemon\'s password check queue was full (one check at a time on 2 cores, two on more; 64 waiting): a login flood from many addresses. An HTTP answer says to try again in 5 s (Retry-After). Addresses a broadcaster logged in from before go first; put nginx\'s login limits in front (docs/security.md).',
    reason: null,
  },
  IW_ERR_ORIGIN_FORBIDDEN: {
    close: 4403, http: 403,
    message: 'This page is not allowed to broadcast here. Open the broadcast page at this server\'s own address.',
    fix: 'The WebSocket Origin is not in allowedOrigins (nor the daemon\'s own host or publicUrl). Add the page\'s origin to allowedOrigins.',
    reason: null,
  },
  IW_ERR_MOUNT_FORBIDDEN: {
    close: 4403, http: 403,
    message: 'You are not allowed to broadcast on this station. Pick one of your stations, or ask the server\'s operator to add it to your account.',
    fix: 'The broadcaster\'s `mounts` list in the config does not include this station.',
    reason: null,
  },
  IW_ERR_MOUNT_UNKNOWN: {
    close: 4403, http: 404,
    message: 'There is no station by that name. Check the name, or pick one of the stations this server lists.',
    fix: 'The station in /ws/<station> is not configured under `mounts`, or is not a valid name (letters, digits, . _ -).',
    reason: null,
  },
  IW_ERR_MOUNT_BUSY: {
    close: 4409, http: 409,
    message: 'Someone is already live on this station. Wait until they stop, or pick another station.',
    fix: 'A broadcast is already running on this station, here or (for Icecast "Mountpoint in use") from another source.',
    reason: 'icecast-busy',
  },
  IW_ERR_LIMIT_BROADCASTS: {
    close: 4429, http: 429,
    message: 'The server is at its limit of live broadcasts. Try again later.',
    fix: 'limits.maxBroadcasts broadcasts are live. Raise it if the machine has room.',
    reason: null,
  },
  IW_ERR_LIMIT_CONNECTIONS: {
    close: 4429, http: 429,
    message: 'Too many connections from your address. Close other broadcast tabs and try again.',
    fix: 'One address has more than limits.maxConnectionsPerAddress open WebSockets (or desktop source connections). Behind a proxy, set trustProxy so the real client address is used.',
    reason: null,
  },
  IW_ERR_ICECAST_AUTH: {
    close: 4401, http: 502,
    message: 'The Icecast server refused the source password. If you typed one, check it and try again; if not, tell the server\'s operator.',
    fix: 'Icecast answered 401. In accounts mode fix icecast.sourcePassword(File); in passthrough mode the broadcaster typed a wrong password.',
    reason: 'icecast-auth',
  },
  IW_ERR_ICECAST_MOUNT_IN_USE: {
    close: 4409, http: 409,
    message: 'Another program is already streaming to this station\'s Icecast mount. Wait until it stops, or pick another station.',
    fix: 'Icecast answered 403 Mountpoint in use: another source client is connected to that Icecast mount.',
    reason: 'icecast-busy',
  },
  IW_ERR_ICECAST_LIMIT: {
    close: 4502, http: 502,
    message: 'The Icecast server is full (too many streams). Try again later, or tell the server\'s operator.',
    fix: 'Icecast answered 403 too many sources connected. Raise <sources> under <limits> in icecast.xml.',
    reason: 'icecast-refused',
  },
  IW_ERR_ICECAST_REFUSED: {
    close: 4502, http: 502,
    message: 'The Icecast server refused the stream. The server\'s operator can see why in its log; try again later.',
    fix: 'Icecast answered with an unexpected status; the log has it. Check the mount\'s settings in icecast.xml.',
    reason: 'icecast-refused',
  },
  IW_ERR_ICECAST_UNREACHABLE: {
    close: 4502, http: 502,
    message: 'The Icecast server cannot be reached right now. Try again in a minute; if it persists, tell the server\'s operator.',
    fix: 'Connecting to icecast.url failed (refused, timed out or dropped). Check Icecast is running and icecast.url is right.',
    reason: 'icecast-unreachable',
  },
  IW_ERR_PIPELINE_FAILED: {
    close: 1011, http: 500,
    message: 'The server\'s audio/video encoder stopped unexpectedly. Press Go live to start again.',
    fix: 'ffmpeg exited with an error; the log has its last stderr lines. Check the ffmpeg binary and the rendition formats.',
    reason: 'ffmpeg-failed',
  },
  IW_ERR_PIPELINE_START_FAILED: {
    close: 1011, http: 500,
    message: 'The server cannot encode one of this station\'s stream formats right now. The station\'s operator has been told; try again later.',
    fix: 'ffmpeg exited before writing any output: the rendition needs an encoder or muxer this ffmpeg lacks, or an argument it does not take (run `icewire doctor`), or ffmpegPath is not a working ffmpeg. The log has ffmpeg\'s error line. The broadcast ends at once: restarting cannot help.',
    reason: 'ffmpeg-failed',
  },
  IW_ERR_INGEST_TOO_SLOW: {
    close: 4408, http: 503,
    message: 'The server could not keep up with your stream. Check your connection or lower the quality, then go live again.',
    fix: 'A bounded queue between the broadcaster and Icecast filled up (ffmpeg or Icecast not reading fast enough).',
    reason: 'ingest-too-slow',
  },
  IW_ERR_ICECAST_LOST: {
    close: 4502, http: 502,
    message: 'The connection to the Icecast server was lost. Press Go live to start again.',
    fix: 'Icecast closed the source connection mid-stream (restart, source-timeout, or an admin kicked the source).',
    reason: 'icecast-lost',
  },
  IW_ERR_RESUMED_ELSEWHERE: {
    close: 4409, http: 409,
    message: 'Your broadcast continued from another connection (another tab or device). This page is no longer sending.',
    fix: 'A newer connection presented this broadcast\'s resume token and took it over; the older one is closed.',
    reason: null,
  },
  IW_ERR_INGEST_TOO_FAST: {
    close: 4429, http: 429,
    message: 'Your stream arrived faster than it plays. Send it as it is recorded (in real time), then go live again.',
    fix: 'The media a broadcaster sent claimed to last longer than the time it took to arrive, beyond the bound (docs/security.md): a client replaying a file at full speed, or forged timestamps. Browsers never do this; send live or paced input.',
    reason: 'ingest-too-fast',
  },
  IW_ERR_INGEST_IDLE: {
    close: 4408, http: 408,
    message: 'No audio arrived from your browser for a while, so the broadcast was ended. Press Go live to start again.',
    fix: 'A connected broadcaster sent no media for limits.idleTimeoutMs (a stuck recorder or a half-dead connection).',
    reason: 'idle-timeout',
  },
  IW_ERR_KICKED: {
    close: 4403, http: 403,
    message: 'The station ended your broadcast.',
    fix: 'A station manager ended the broadcast through the manager API (POST /api/admin/broadcasts/<station>/end); the reason they gave is shown to the broadcaster.',

    reason: 'kicked',
  },
  IW_ERR_KICKED_WAIT: {
    close: 4403, http: 403,
    message: 'The station ended your broadcast a moment ago. You can go live on this station again in a few minutes.',
    fix: 'A station manager ended this broadcaster\'s show on this station (the manager API); they are refused there for limits.kickBanMs, so a client that reconnects by itself is not straight back on air.',
    reason: null,
  },
  IW_ERR_ADMIN_AUTH: {
    close: 4401, http: 401,
    message: 'The manager token is missing or wrong.',
    fix: 'Send Authorization: Bearer <admin.token> (admin.token, admin.tokenFile or ICEWIRE_ADMIN_TOKEN).',
    reason: null,
  },
  IW_ERR_ADMIN_DISABLED: {
    close: 4403, http: 404,
    message: 'The manager API is not enabled on this server.',
    fix: 'Set admin.tokenFile (or admin.token, or ICEWIRE_ADMIN_TOKEN) to enable /api/admin.',
    reason: null,
  },
  IW_ERR_ADMIN_HELD_ELSEWHERE: {
    close: 4409, http: 409,
    message: 'This show is held by another icewire daemon. End it there.',
    fix: 'Several daemons share this Icecast and another one holds the show (the answer\'s heldBy names it, from Icecast\'s statistics). Send the request to that daemon, or through the cluster\'s nginx, which routes /api/admin/broadcasts/<station-mount>/end to the daemon that holds the station (docs/scaling.md).',
    reason: null,
  },
  IW_ERR_NOT_FOUND: {
    close: 4404, http: 404,
    message: 'There is nothing at this address.',
    fix: 'An unknown path or a broadcast that is not live.',
    reason: null,
  },
  IW_ERR_SHUTTING_DOWN: {
    close: 1001, http: 503,
    message: 'The server is restarting. Wait a moment, then go live again.',
    fix: 'The daemon received SIGTERM/SIGINT and ended every broadcast cleanly.',
    reason: 'shutdown',
  },
  IW_ERR_AUTH_REQUIRED: {
    close: 4401, http: 401,
    message: 'Log in first (your session may have expired).',
    fix: 'An /api/recordings request had no Authorization: Bearer token, or its token is unknown or older than 12 hours (or the daemon restarted). Log in again with POST /api/login.',
    reason: null,
  },
  IW_ERR_RECORDING_FORBIDDEN: {
    close: 4403, http: 403,
    message: 'This recording belongs to someone else.',
    fix: 'A broadcaster asked for a recording whose sidecar (<file>.json) names another broadcaster, or has no sidecar. Each broadcaster may download only their own shows.',
    reason: null,
  },
  IW_ERR_RECORDING_BAD_NAME: {
    close: 4400, http: 400,
    message: 'That is not the name of a recording. Pick one from your list of recordings.',
    fix: 'The path was not /api/recordings/<station>/<start time>.<ogg|webm> (see docs/recordings.md); names are checked strictly, so encoded slashes and .. are refused.',

    reason: null,
  },
  IW_ERR_HTTP_BAD_REQUEST: {
    close: 4400, http: 400,
    message: 'The request was malformed.',
    fix: 'An HTTP API request had a body that is not the expected JSON (e.g. POST /api/login needs {"user": "...", "password": "..."} with Content-Type: application/json, under 8 KiB).',
    reason: null,
  },
  IW_ERR_HTTP_TIMEOUT: {
    close: 4408, http: 408,
    message: 'The request took too long to arrive. Check your connection and try again.',
    fix: 'An HTTP request\'s body did not arrive within 10 s of its head (a stalled client, or a slow-request attack): the daemon answered 408 and closed the connection. Behind nginx, client_body_timeout cuts these first (docs/security.md).',
    reason: null,
  },
  IW_ERR_GUESTS_DISABLED: {
    close: 4403, http: 404,
    message: 'This server does not take guests. Ask the station\'s operator to turn guests on.',
    fix: 'guests.enabled is false, or the daemon runs in passthrough mode: guests need accounts mode (hosts log in).',
    reason: null,
  },
  IW_ERR_GUEST_TOKEN_UNKNOWN: {
    close: 4401, http: 401,
    message: 'This invitation link is not valid. Open the whole link the host sent (it ends with a long code after #), or ask the host for a new one.',
    fix: 'The token is not one this daemon issued: a link cut short or mistyped, or the daemon restarted since the host made it (invitations live in memory). The host makes a new invitation.',
    reason: null,
  },
  IW_ERR_GUEST_TOKEN_USED: {
    close: 4409, http: 409,
    message: 'This invitation has already been used to join the show. Each link lets one guest in once: ask the host for a link of your own.',
    fix: 'The invitation was redeemed by another page (a forwarded link), or its guest has left the show. An invitation works once; the host makes a new one.',
    reason: null,
  },
  IW_ERR_GUEST_TOKEN_EXPIRED: {
    close: 4403, http: 410,
    message: 'This invitation has expired. Ask the host for a new link.',
    fix: 'An invitation can be used for guests.invitationTtlMs (default 2 hours) after the host made it. Raise it if hosts invite guests long before a show.',
    reason: null,
  },
  IW_ERR_GUEST_TOKEN_REVOKED: {
    close: 4403, http: 403,
    message: 'The host has withdrawn this invitation. If that is a mistake, ask them for a new link.',
    fix: 'The host withdrew the invitation (or removed its guest from the show) on their page.',
    reason: null,
  },
  IW_ERR_GUEST_OTHER_SHOW: {
    close: 4403, http: 403,
    message: 'This invitation is for another show. Open the link exactly as the host sent it.',
    fix: 'The token was made for another station mount than the one in the page\'s address (/guest/<station>#…): the link was edited, or pasted onto another station\'s address.',
    reason: null,
  },
  IW_ERR_GUEST_AWAY_TOO_LONG: {
    close: 4403, http: 410,
    message: 'You were away from the show for too long, so your place was given up. Ask the host for a new link.',
    fix: 'A guest whose page lost its connection came back after guests.rejoinGraceMs (default 60 s); their invitation ended when the grace ran out.',
    reason: null,
  },
  IW_ERR_GUEST_FULL: {
    close: 4429, http: 429,
    message: 'The show has as many guests as it can take right now. Tell the host, then try again in a moment.',
    fix: 'The host has guests.maxGuests guests in the show already. Raise it if the host\'s computer can mix more.',
    reason: null,
  },
  IW_ERR_GUEST_REMOVED: {
    close: 4403, http: 403,
    message: 'The host has taken you out of the show. Thank you for joining; if that was a mistake, ask the host for a new link.',
    fix: 'The host removed the guest on their page (their invitation is withdrawn).',
    reason: null,
  },
  IW_ERR_GUEST_INVITATIONS_LIMIT: {
    close: 4429, http: 429,
    message: 'You have as many open invitations as this show allows. Withdraw the ones you no longer need, then invite again.',
    fix: 'The host has guests.maxInvitations invitations that are not used or expired yet, for this station.',
    reason: null,
  },
  IW_ERR_SIGNAL_BAD_MESSAGE: {
    close: 4400, http: 400,
    message: 'The page sent a message icewire cannot read. Reload the page; if it keeps happening, use a recent Firefox or Chrome.',
    fix: 'A frame on the guests\' socket (/ws/_guest/<station>) was not a signalling message of docs/guests.md, was longer than 32 KiB, or was binary: guests\' sound goes to the host\'s page, never through the daemon.',
    reason: null,
  },
  IW_ERR_SIGNAL_TOO_FAST: {
    close: 4429, http: 429,
    message: 'The page sent messages faster than icewire allows. Reload the page.',
    fix: 'More than 50 signalling messages a second (200 in a burst) on one socket: a broken or hostile client.',
    reason: null,
  },
  IW_ERR_SIGNAL_REPLACED: {
    close: 4409, http: 409,
    message: 'This page was replaced by a newer one (another tab or device) for the same place in the show. Use that one.',
    fix: 'The same host opened their guests on this station in another tab, or the same guest came back on a new connection while the old one still looked open; the older socket is closed.',
    reason: null,
  },
  IW_ERR_INTERNAL: {
    close: 1011, http: 500,
    message: 'Something went wrong on the server. Try again; if it keeps happening, tell the server\'s operator.',
    fix: 'An unexpected error; the log has the stack trace. Please report it.',
    reason: 'internal',
  },
  IW_ERR_CONFIG_INVALID: {
    close: 1011, http: 500,
    message: 'The server is misconfigured.',
    fix: 'The config file failed validation; the message names the key. Run `icewire check-config FILE`.',
    reason: null,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The end reason for a broadcast that fails with `code` (a code that ends none is an internal error). */
export function endReasonFor(code: ErrorCode): EndReason {
  return ERRORS[code].reason ?? 'internal';
}

export class IcewireError extends Error {
  readonly code: ErrorCode;
  /** Extra detail for the log only (never shown to the person). */
  readonly detail: string | undefined;
  /** When trying again makes sense (seconds): an HTTP answer carries it as Retry-After. */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, options: { message?: string; detail?: string; cause?: unknown; retryAfterS?: number } = {}) {
    super(options.message ?? ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IcewireError';
    this.code = code;
    this.detail = options.detail;
    this.retryAfterS = options.retryAfterS;
  }

  get closeCode(): number {
    return ERRORS[this.code].close;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
}

/** Any thrown value as an IcewireError (unknown errors become IW_ERR_INTERNAL, keeping the cause). */
export function toIcewireError(err: unknown): IcewireError {
  if (err instanceof IcewireError) return err;
  return new IcewireError('IW_ERR_INTERNAL', { cause: err, detail: err instanceof Error ? err.message : String(err) });
}
