// The wire contract between the daemon and a broadcaster's client (docs/protocol.md): the frames
// each side sends, the broadcast states and end reasons a client sees, the close codes, and what
// a station mount's name may be. One module for the daemon, the page and the tests, so that a new
// state, reason or close code is one change that the compiler carries everywhere (the page keeps a
// sentence per end reason in a Record<EndReason, …>, so a reason without one does not compile).
//
// It is compiled twice: by www/tsconfig.json into the page (served as /js/wire-contract.js), and
// by the root tsconfig.json for the daemon and the tests. It sits under www/src because the page's
// build only compiles files there. Pure data and types: no DOM, no Node, no imports.

/** A station mount's name: `/ws/<name>`, `/listen/<name>`, `mounts:` keys in the config. */
export const STATION_MOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The WebSocket path prefix and subprotocol (webcast.js, Liquidsoap input.harbor). */
export const WS_PATH_PREFIX = '/ws/';
export const WS_SUBPROTOCOL = 'webcast';

/** A broadcast's states as a client sees them (status `state`). */
export const BROADCAST_STATES = ['connecting', 'live', 'reconnecting', 'ended'] as const;
export type BroadcastState = (typeof BROADCAST_STATES)[number];

/** Why a broadcast ended (status `reason` once `state` is `ended`). */
export const END_REASONS = [
  'stopped', 'connection-lost', 'icecast-auth', 'icecast-busy', 'icecast-unreachable', 'icecast-refused',
  'icecast-lost', 'ffmpeg-failed', 'invalid-media', 'ingest-too-slow', 'idle-timeout', 'protocol-error', 'kicked',
  'shutdown', 'internal',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/**
 * WebSocket close codes. 4xxx are icewire's own, named after the HTTP status they mirror; the error
 * frame sent just before the close carries the exact `IW_ERR_*` code.
 */
export const CLOSE = {
  /** The client stopped, or the broadcast ended normally. */
  normal: 1000,
  /** The daemon is shutting down (from a client: the page is unloading, a drop that may resume). */
  goingAway: 1001,
  /** An encoder failure or an internal error. */
  internalError: 1011,
  protocolError: 4400,
  badCredentials: 4401,
  forbidden: 4403,
  notFound: 4404,
  tooSlow: 4408,
  busy: 4409,
  frameTooLarge: 4413,
  unsupportedMedia: 4415,
  tooMany: 4429,
  icecast: 4502,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** One Icecast mount of the broadcast, in a status frame. */
export interface RenditionStatus {
  readonly mount: string;
  /** The rendition format (`ogg-opus`, `mp3`…, docs/configuration.md). */
  readonly format: string;
  readonly contentType: string;
  /** Where listeners listen (icecast.publicUrl + mount). */
  readonly url: string;
  readonly state: BroadcastState;
  readonly listeners: number;
  readonly bytesOut: number;
}

/**
 * `{"type":"status","data":…}`: at once on every state change; when what it shows changes, at most
 * every 2 s; and every 3 s when nothing changed (a keep-alive: 5 s without a frame means the
 * connection is dead).
 */
export interface StatusData {
  readonly state: BroadcastState;
  readonly listeners: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** When the broadcast went live (ISO 8601); the same across resumes. */
  readonly since?: string;
  readonly renditions: readonly RenditionStatus[];
  /** Present when `state` is `ended`. */
  readonly reason?: EndReason;
  /** "Artist - Title", as Icecast shows it. */
  readonly title?: string;
  /**
   * Milliseconds of late audio the daemon dropped so listeners stay live (the upload stalled and
   * caught up, or the server could not encode in time); present once any was. Worth a warning.
   */
  readonly shedMs?: number;
  /** Only in frames to the broadcaster while the broadcast runs: present it in a hello to resume. */
  readonly resume?: string;
}

/** `{"type":"error","data":…}`, sent just before the daemon closes the socket. */
export interface ErrorData {
  /** A stable `IW_ERR_*` code (docs/errors.md): match on it, never on the message. */
  readonly code: string;
  /** A sentence for the person: what happened and what to do. */
  readonly message: string;
}

export type ServerFrame =
  | { readonly type: 'status'; readonly data: StatusData }
  | { readonly type: 'error'; readonly data: ErrorData };

/** The client's first frame. */
export interface HelloData {
  /** MediaRecorder's mimeType, e.g. `audio/webm;codecs=opus`. */
  readonly mime: string;
  readonly user?: string;
  readonly password?: string;
  readonly name?: string;
  readonly description?: string;
  /** The latest `resume` token from a status frame: continue that broadcast after a drop. */
  readonly resume?: string;
  /**
   * Accounts mode: a login token from `POST /api/login` for this `user`, in place of the password
   * (a reloaded broadcaster page resumes with it; the page never keeps the password).
   */
  readonly token?: string;
}

/** "Now playing", at any time after the hello. */
export interface MetadataData {
  readonly title?: string;
  readonly artist?: string;
}

export type ClientTextFrame =
  | { readonly type: 'hello'; readonly data: HelloData }
  | { readonly type: 'metadata'; readonly data: MetadataData };
