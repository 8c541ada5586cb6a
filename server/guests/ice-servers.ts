// The ICE servers a host's or a guest's page gets: STUN as configured, TURN with credentials that
// work for webrtc.credentialTtlMs only. They follow coturn's REST-API scheme (`use-auth-secret`,
// `static-auth-secret`): the user name is `<unix expiry>:<who>` and the password is
// base64(HMAC-SHA1(secret, user name)), so coturn checks them without asking icewire, and the
// secret itself never leaves the daemon. coturn checks the expiry when an allocation is made (a
// call that is up stays up), so a page needs fresh credentials only for its next ICE restart: the
// signalling socket sends them before the old ones lapse. Pure: time comes in as an argument.
import { createHmac } from 'node:crypto';
import type { WebrtcConfig } from '../config/schema.js';
import type { IceConfig } from '../../www/src/wire-contract.js';

/** TURN credentials for `who` (a short, non-secret tag such as `guest-<id>`), valid until now + ttl. */
export function turnCredentials(secret: string, who: string, nowMs: number, ttlMs: number): { username: string; credential: string } {
  const username = `${Math.floor((nowMs + ttlMs) / 1000)}:${who}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** What RTCPeerConnection is given, for one party, now. */
export function iceConfigFor(webrtc: WebrtcConfig, who: string, nowMs: number): IceConfig {
  return {
    iceTransportPolicy: webrtc.iceTransportPolicy,
    iceServers: webrtc.iceServers.map((s) => (s.secret === undefined
      ? { urls: [...s.urls] }
      : { urls: [...s.urls], ...turnCredentials(s.secret, who, nowMs, webrtc.credentialTtlMs) })),
  };
}

/** Whether pages need fresh credentials from time to time (some server has a TURN secret). */
export function credentialsLapse(webrtc: WebrtcConfig): boolean {
  return webrtc.iceServers.some((s) => s.secret !== undefined);
}
