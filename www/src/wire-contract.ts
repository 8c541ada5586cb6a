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
  'icecast-lost', 'ffmpeg-failed', 'invalid-media', 'ingest-too-slow', 'ingest-too-fast', 'idle-timeout', 'protocol-error', 'kicked',
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

// ---- Guests: the signalling socket (docs/guests.md, "Signalling") ----
// A host's page (the "desk") and each guest's page talk to the daemon on one WebSocket each; the
// daemon relays offers, answers and ICE candidates between the two parties of one invitation and
// nothing else. Media goes browser to browser (WebRTC), never through the daemon.

/** `/ws/_guest/<station-mount>` (a station mount name never starts with `_`). */
export const GUEST_WS_PATH_PREFIX = '/ws/_guest/';
export const GUEST_WS_SUBPROTOCOL = 'icewire-guests';
/** The guest page: `/guest/<station-mount>#<invitation token>` (the fragment never reaches a server). */
export const GUEST_PAGE_PREFIX = '/guest/';
/** Longest text frame on the signalling socket, in bytes (an audio SDP is a few KiB). */
export const MAX_SIGNAL_FRAME_BYTES = 32 * 1024;

/** An offer (host to guest) or an answer (guest to host): RTCSessionDescriptionInit. */
export interface SignalDescription {
  readonly type: 'offer' | 'answer';
  readonly sdp: string;
}

/** RTCIceCandidateInit; `null` in a signal means the sender has no more candidates. */
export interface SignalCandidate {
  readonly candidate: string;
  readonly sdpMid?: string | null;
  readonly sdpMLineIndex?: number | null;
  readonly usernameFragment?: string | null;
}

/** What a party gives RTCPeerConnection: STUN/TURN servers, TURN with short-lived credentials. */
export interface IceConfig {
  readonly iceServers: readonly { readonly urls: readonly string[]; readonly username?: string; readonly credential?: string }[];
  readonly iceTransportPolicy: 'all' | 'relay';
}

/**
 * An invitation as its host sees it (never its token). `open`: the link is waiting to be used;
 * `joined`: a guest is in (present or away for a moment).
 */
export interface InvitationInfo {
  readonly id: string;
  readonly label: string;
  readonly state: 'open' | 'joined';
  readonly createdAt: string;
  /** When an open link stops working. */
  readonly expiresAt: string;
  readonly guestName?: string;
}

/** Why a guest is gone from the desk. */
export const GUEST_GONE_REASONS = ['left', 'lost', 'removed'] as const;
export type GuestGoneReason = (typeof GUEST_GONE_REASONS)[number];

/** A guest, to the host: `joined` once, `back` after a rejoin, `away` while their page is gone, `gone` at the end. */
export interface GuestEvent {
  readonly guest: string;
  readonly event: 'joined' | 'back' | 'away' | 'gone';
  readonly name: string;
  /** The guest page's instance: a `back` with another instance is a reloaded page (a new peer connection). */
  readonly instance: string;
  readonly why?: GuestGoneReason;
}

/** The host's on-air and mute switches for a guest, relayed to that guest. */
export interface CueData {
  readonly onAir: boolean;
  readonly muted: boolean;
}

/** A relayed signal: a description, a candidate (null: end of candidates), or a guest asking for an ICE restart. */
export interface SignalData {
  readonly description?: SignalDescription;
  readonly candidate?: SignalCandidate | null;
  readonly restart?: true;
}

/** Host desk -> daemon. `signal` and `cue` name the guest (an invitation id); `withdraw` ends a link or removes a guest. */
export type HostClientFrame =
  | { readonly type: 'hello'; readonly data: { readonly role: 'host'; readonly user: string; readonly token: string } }
  | { readonly type: 'invite'; readonly data: { readonly label?: string } }
  | { readonly type: 'withdraw'; readonly data: { readonly id: string } }
  | { readonly type: 'signal'; readonly data: SignalData & { readonly guest: string } }
  | { readonly type: 'cue'; readonly data: CueData & { readonly guest: string } };

/** Guest page -> daemon. `rejoin` is the secret from `welcome`: the same guest coming back. */
export type GuestClientFrame =
  | { readonly type: 'hello'; readonly data: { readonly role: 'guest'; readonly invitation: string; readonly name: string; readonly instance: string; readonly rejoin?: string } }
  | { readonly type: 'signal'; readonly data: SignalData }
  | { readonly type: 'leave'; readonly data: Record<string, never> };

/** Daemon -> host desk. */
export type HostServerFrame =
  | { readonly type: 'desk'; readonly data: { readonly station: string; readonly ice: IceConfig; readonly maxGuests: number; readonly invitations: readonly InvitationInfo[]; readonly guests: readonly GuestEvent[] } }
  | { readonly type: 'invited'; readonly data: { readonly id: string; readonly token: string; readonly expiresAt: string } }
  | { readonly type: 'invitations'; readonly data: { readonly invitations: readonly InvitationInfo[] } }
  | { readonly type: 'guest'; readonly data: GuestEvent }
  | { readonly type: 'signal'; readonly data: SignalData & { readonly guest: string } }
  | { readonly type: 'ice'; readonly data: IceConfig }
  /** A request the daemon would not do (the socket stays open). */
  | { readonly type: 'refused'; readonly data: ErrorData & { readonly request: string } }
  | { readonly type: 'error'; readonly data: ErrorData };

/** Daemon -> guest page. */
export type GuestServerFrame =
  | { readonly type: 'welcome'; readonly data: { readonly guest: string; readonly rejoin: string; readonly station: { readonly id: string; readonly name: string }; readonly ice: IceConfig; readonly host: boolean; readonly cue: CueData } }
  | { readonly type: 'host'; readonly data: { readonly present: boolean } }
  | { readonly type: 'signal'; readonly data: SignalData }
  | { readonly type: 'cue'; readonly data: CueData }
  | { readonly type: 'ice'; readonly data: IceConfig }
  | { readonly type: 'error'; readonly data: ErrorData };
