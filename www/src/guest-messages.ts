// What a guest reads on the guest page, and the host on the guests card: one place for the
// wording. Refusals from the daemon come with their own sentence (server/errors.ts); these are
// the page's own.

export const NO_INVITATION =
  'This link is missing its invitation code (the long part after #). Open the whole link the host sent you, or ask them to send it again.';
export const NO_STATION =
  'This address has no show in it. Open the whole link the host sent you.';
export const GUEST_NOT_SECURE =
  'This page was opened over plain http://, and browsers only let secure pages use a microphone. Open the link with https://, exactly as the host sent it.';
export const NO_WEBRTC =
  'This browser cannot make calls (WebRTC). Open the link in a recent Firefox, Chrome, Edge or Safari.';
export const NEED_NAME = 'Type your name, so the host knows who is joining.';
export const SERVER_UNREACHABLE =
  'The station\'s server cannot be reached. Check your internet connection; this page keeps trying.';
export const CONNECTION_GAVE_UP =
  'The connection to the show was lost and could not be restored. Check your internet connection, then reload this page to join again.';
export const CALL_FAILED =
  'Your browser could not connect to the host\'s studio. A strict firewall may be blocking calls: try another network (a phone\'s hotspot), or tell the host.';
export const YOU_LEFT = 'You left the show. Thank you for joining!';

/** The guest's status line: what they are now. */
export const GUEST_STATUS = {
  idle: 'Not in the show yet',
  joining: 'Joining…',
  'host-away': 'Waiting for the host',
  connecting: 'Connecting to the studio…',
  waiting: 'You are waiting',
  'on-air': 'You are on air',
  muted: 'You are on air, muted by the host',
  reconnecting: 'Reconnecting…',
  left: 'You left the show',
  error: 'Not in the show',
} as const;
export type GuestStatus = keyof typeof GUEST_STATUS;

/** A line under the status: what to do now. */
export const GUEST_DETAIL: Partial<Record<GuestStatus, string>> = {
  'host-away': 'The host\'s studio is not open right now. Stay on this page: you are connected as soon as it is.',
  connecting: 'Connecting your microphone to the host\'s studio.',
  waiting: 'The host will bring you on air. You can hear the show; the host can hear you before you are on air when they listen in.',
  'on-air': 'Listeners hear you now.',
  muted: 'The host has muted you for a moment. Listeners do not hear you until they unmute you.',
  reconnecting: 'The connection dropped for a moment. This page is getting you back into the show by itself.',
};

/** The host's words for a guest's connection. */
export const LINK_WORDS: Record<'connecting' | 'connected' | 'reconnecting' | 'away' | 'closed', string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  away: 'connection lost: waiting for them to come back',
  closed: 'gone',
};

export const GUESTS_NEED_LOGIN = 'Enter your name and password above to invite guests.';
export const GUESTS_PICK_STATION = 'Pick the station your guests will be on.';
export const DESK_GAVE_UP = 'The guests\' connection to the server was lost. Reload the page to bring your guests back.';
export const DESK_RETRYING = 'Lost the connection to the server: reconnecting your guests…';
