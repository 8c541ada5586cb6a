// Every failure a broadcaster can meet, as a sentence that says what happened and what to do.
// Pure functions (no DOM), so the wording lives in one place.
import type { EndReason } from './wire-contract.js';

/** Why this browser cannot broadcast, or undefined when it can. */
export function browserProblem(env: {
  secure: boolean;
  hasGetUserMedia: boolean;
  hasMediaRecorder: boolean;
  hasWebSocket: boolean;
}): string | undefined {
  if (!env.secure) {
    return 'This page was opened over plain http://, and browsers only let secure pages use a microphone or camera. Open the station\'s https:// address instead (or this page on localhost, on the computer that runs icewire). You can still sign in and see your recordings here.';
  }
  if (!env.hasGetUserMedia) {
    return 'This browser cannot use a microphone. Open this page in a recent Firefox, Chrome or Edge.';
  }
  if (!env.hasMediaRecorder) {
    return 'This browser cannot record audio for streaming. Open this page in a recent Firefox, Chrome or Edge.';
  }
  if (!env.hasWebSocket) {
    return 'This browser cannot open a live connection to the server. Open this page in a recent Firefox, Chrome or Edge.';
  }
  return undefined;
}

export const NO_RECORDING_FORMAT =
  'This browser cannot record audio as WebM, Ogg or MP4. Open this page in a recent Firefox, Chrome, Edge or Safari.';
export const NO_VIDEO_FORMAT =
  'This browser cannot record video as WebM or MP4. Switch video off, or use a recent Firefox, Chrome or Safari.';

/** A getUserMedia failure as a sentence. `missing` says which kind of device is absent, if known. */
export function mediaErrorSentence(err: unknown, opts: { video: boolean; missing?: 'audio' | 'video' }): string {
  const name = err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err)
    ? String((err as { name: unknown }).name)
    : '';
  const devices = opts.video ? 'microphone and camera' : 'microphone';
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return `The browser is not allowed to use your ${devices}. Allow access for this site (the icon in the address bar, or the browser's site settings), then try again.`;
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      if (opts.missing === 'video') return 'No camera was found. Plug one in, or switch video off.';
      return 'No microphone was found. Plug one in (or pick another input), then try again.';
    case 'NotReadableError':
    case 'TrackStartError':
      return `Your ${devices} could not be started: another program may be using it, or it was unplugged. Close other apps that use it (calls, recorders), then try again.`;
    case 'OverconstrainedError':
      return `The selected ${devices} cannot be opened with these settings. Pick another device from the list, then try again.`;
    case 'AbortError':
      return `The ${devices} stopped while starting. Try again; if it keeps happening, restart the browser.`;
    default:
      return `Your ${devices} could not be opened (${name || String(err)}). Reload the page and try again.`;
  }
}

/**
 * A WebSocket close that came without an error frame, as a sentence. `opened` tells a refused
 * connection (never opened) from one that was lost.
 */
export function closeSentence(code: number, opened: boolean): string {
  switch (code) {
    case 4400: return 'The server did not understand this page. Reload the page and try again.';
    case 4401: return 'The server refused the user name or password. Check them and try again.';
    case 4403: return 'You are not allowed to broadcast on this station from this page. Pick another station, or ask the station manager.';
    case 4408: return 'The server could not keep up with your stream. Check your connection or switch video off, then go live again.';
    case 4409: return 'Someone is already live on this station. Wait until they stop, or pick another station.';
    case 4413: return 'A piece of your stream was too large for the server. Switch video off or ask the station to raise the limit, then go live again.';
    case 4415: return 'The server cannot take the format this browser records. Use a recent Firefox or Chrome.';
    case 4429: return 'Too many attempts or broadcasts right now. Wait a few minutes, then try again.';
    case 4502: return 'The Icecast server refused the stream or cannot be reached. Try again in a minute; if it persists, tell the station.';
    case 1011: return 'The server\'s encoder stopped unexpectedly. Press Go live to start again.';
    case 1001: return 'The server is restarting. Wait a moment, then go live again.';
    case 1000: return 'The server ended the broadcast. Press Go live to start again.';
    case 1006:
      return opened
        ? 'The connection to the server was lost. Check your internet connection, then press Go live again.'
        : 'Could not connect to the server. Check your internet connection and that you opened the station\'s own page, then try again.';
    default:
      return `The connection to the server closed unexpectedly (code ${code}). Press Go live to try again.`;
  }
}

/**
 * The sentence for each way a broadcast can end (status `reason`), but a normal stop. Typed by the
 * wire contract: a new end reason without a sentence here does not compile.
 */
const END_REASON_SENTENCES: Record<Exclude<EndReason, 'stopped'>, string> = {
  'connection-lost': 'The connection to the server was lost for too long, so the broadcast has ended. Check your internet connection, then press Go live again.',
  'icecast-auth': 'Icecast refused the source password. Check it and try again.',
  'icecast-busy': 'Icecast says someone else is already sending to this station\'s mount. Wait until they stop, or tell the station.',
  'icecast-unreachable': 'The Icecast server cannot be reached right now. Try again in a minute; if it persists, tell the station.',
  'icecast-refused': 'The Icecast server refused the stream. Try again later; if it persists, tell the station.',
  'icecast-lost': 'The connection to the Icecast server was lost. Press Go live to start again.',
  'ffmpeg-failed': 'The server\'s encoder stopped unexpectedly. Press Go live to start again.',
  'invalid-media': 'The server could not read the audio this browser sent. Reload the page and try again; if it keeps happening, try another browser.',
  'ingest-too-slow': 'The server could not keep up with your stream. Check your connection or switch video off, then go live again.',
  'ingest-too-fast': 'Your stream arrived faster than it plays, so the server stopped it. Go live again from this page; other programs must send the stream as it is recorded.',
  'idle-timeout': 'The server received no audio for too long and ended the broadcast. Press Go live to start again.',
  'protocol-error': 'The server did not understand this page. Reload the page and try again.',
  // Normally the daemon's error frame (with the manager's reason) is shown instead.
  kicked: 'The station ended your broadcast.',
  shutdown: 'The server is restarting. Wait a moment, then go live again.',
  internal: 'Something went wrong on the server. Press Go live to try again; if it keeps happening, tell the station.',
};

/** The daemon's end reason (status `reason`) as a sentence; undefined for a normal stop. */
export function endReasonSentence(reason: string | undefined): string | undefined {
  if (reason === undefined || reason === 'stopped') return undefined;
  // a reason from a newer daemon than this page still gets a sentence
  return Object.hasOwn(END_REASON_SENTENCES, reason)
    ? END_REASON_SENTENCES[reason as keyof typeof END_REASON_SENTENCES]
    : `The broadcast ended (${reason}). Press Go live to start again.`;
}

export const SERVER_SILENT =
  'The server did not confirm the broadcast in time. Check your connection and press Go live to try again.';
export const UPLOAD_TOO_SLOW =
  'Your upload could not keep up, so the broadcast was stopped. Switch video off or move to a better connection, then go live again.';
export const RECORDER_FAILED =
  'The browser stopped recording. Press Go live to start again; if it keeps happening, reload the page.';
export const DEVICE_LOST =
  'Your microphone or camera stopped (unplugged, or taken by another app), so the broadcast was stopped. Check the device, then go live again.';
export const INFO_UNREACHABLE =
  'Cannot reach the icewire server. Check your connection; the page will keep trying.';
export const RESUME_FAILED =
  'The connection to the server was lost and could not be restored, so the broadcast has ended. Check your internet connection, then press Go live again.';

/** What the page was doing when an HTTP call for the recordings failed. */
export type RecordingsStep = 'login' | 'list' | 'download';

/**
 * A failed call to the recordings API (docs/recordings.md) as a sentence. `status` 0 means the
 * request never got an answer (network down, server unreachable).
 */
export function recordingsSentence(step: RecordingsStep, status: number): string {
  if (status === 0) {
    return step === 'download'
      ? 'The download was interrupted. Check your connection, then press Download again.'
      : 'Cannot reach the server. Check your connection, then try again.';
  }
  switch (status) {
    case 401:
      return step === 'login'
        ? 'The server did not accept that name and password. Check your name and password, then try again.'
        : 'Your login has expired. Press Show my recordings to log in again.';
    case 403:
      return 'This recording belongs to someone else, so it cannot be downloaded with your login.';
    case 404:
      return step === 'download'
        ? 'That recording is no longer there (old recordings are deleted after a while). Refresh the list.'
        : 'This server keeps no recordings.';
    case 400:
      return step === 'download'
        ? 'The server did not recognise that recording. Refresh the list and try again.'
        : 'The server did not understand this page. Reload the page and try again.';
    case 429:
      return 'Too many failed logins from your address. Wait a few minutes, then try again with the right password.';
    default:
      return status >= 500
        ? 'The server could not answer just now. Try again in a minute; if it persists, tell the station.'
        : `The server refused the request (HTTP ${status}). Reload the page and try again.`;
  }
}
