// Guest invitations: what a host's link lets in, and what became of it. A link's token is 32 random
// bytes shown to the host once; only its SHA-256 is kept, so neither the book nor a heap dump can
// hand a link out again. Redeeming a token lets one guest in, once: the guest gets a rejoin secret
// (also kept as a hash) that brings the same guest back into the same place after a network blink
// or a reload, while the token alone no longer opens anything.
//
//   open --redeem--> joined --end(left | lost | removed)--> ended
//     \--withdraw--> withdrawn         (an open link past expiresAt answers "expired")
//
// Bounded: guests.maxInvitations open links per host and station, guests.maxGuests joined guests
// per host and station, and at most MAX_TOTAL entries in all (finished ones are dropped first).
// In memory only: a restart of the daemon ends every invitation (like login sessions).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { CueData, GuestGoneReason, InvitationInfo } from '../../www/src/wire-contract.js';

const MAX_TOTAL = 10_000;
/** A finished invitation is kept this long (at least until it would have expired), to say what became of it. */
const KEEP_FINISHED_MS = 10 * 60_000;
export const MAX_LABEL_CHARS = 100;
export const MAX_NAME_CHARS = 60;

export type GuestLimits = Pick<Config['guests'], 'maxGuests' | 'maxInvitations' | 'invitationTtlMs'>;

export interface Invitation {
  /** Public: names the invitation to its host and the guest to the relay (never opens anything). */
  readonly id: string;
  readonly station: string;
  /** The account that made it: the only party the guest is relayed to. */
  readonly host: string;
  readonly label: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly tokenHash: string;
  state: 'open' | 'joined' | 'withdrawn' | 'ended';
  endedWhy?: GuestGoneReason;
  endedAt?: number;
  guestName?: string;
  rejoinHash?: Buffer;
  /** The host's switches for this guest (a rejoining guest is told them at once). */
  cue: CueData;
}

export type Redeemed =
  | { readonly ok: true; readonly invitation: Invitation; readonly rejoin: string; readonly first: boolean }
  | { readonly ok: false; readonly code: ErrorCode };

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class InvitationBook {
  private readonly byTokenHash = new Map<string, Invitation>();
  private readonly byId = new Map<string, Invitation>();

  constructor(private readonly opts: { limits: () => GuestLimits; now: () => number }) {}

  get size(): number {
    return this.byId.size;
  }

  /** A new link for `host`'s guests on `station`; its token is in the answer only. */
  create(station: string, host: string, label: string): { invitation: Invitation; token: string } | { code: ErrorCode } {
    this.prune();
    const limits = this.opts.limits();
    const now = this.opts.now();
    if (this.ofDesk(station, host).filter((i) => this.usable(i, now)).length >= limits.maxInvitations) return { code: 'IW_ERR_GUEST_INVITATIONS_LIMIT' };
    const token = randomBytes(32).toString('base64url');
    const invitation: Invitation = {
      id: randomBytes(9).toString('base64url'), station, host, label: label.trim().slice(0, MAX_LABEL_CHARS),
      createdAt: now, expiresAt: now + limits.invitationTtlMs, tokenHash: sha256(token).toString('base64url'),
      state: 'open', cue: { onAir: false, muted: false },
    };
    this.byTokenHash.set(invitation.tokenHash, invitation);
    this.byId.set(invitation.id, invitation);
    return { invitation, token };
  }

  get(id: string): Invitation | undefined {
    return this.byId.get(id);
  }

  /** The links and guests of one host on one station, as the host's page shows them. */
  list(station: string, host: string): InvitationInfo[] {
    this.prune();
    const now = this.opts.now();
    return this.ofDesk(station, host).filter((i) => i.state === 'joined' || this.usable(i, now)).map((i) => ({
      id: i.id, label: i.label, state: i.state === 'joined' ? 'joined' : 'open',
      createdAt: new Date(i.createdAt).toISOString(), expiresAt: new Date(i.expiresAt).toISOString(),
      ...(i.guestName !== undefined ? { guestName: i.guestName } : {}),
    }));
  }

  /** The host takes back a link, or takes a guest out of the show: the invitation (if it was theirs and still running). */
  withdraw(station: string, host: string, id: string): Invitation | undefined {
    const i = this.byId.get(id);
    if (i === undefined || i.station !== station || i.host !== host) return undefined;
    if (i.state === 'open') {
      i.state = 'withdrawn';
      i.endedAt = this.opts.now();
      return i;
    }
    if (i.state === 'joined') {
      this.end(i, 'removed');
      return i;
    }
    return undefined;
  }

  /**
   * A guest presents a token (and, coming back, their rejoin secret) at `station`'s door. The
   * first redeem lets them in; later ones need the rejoin secret. Every refusal names its code.
   */
  redeem(station: string, token: string, rejoin: string | undefined, guestName: string): Redeemed {
    const i = this.byTokenHash.get(sha256(token).toString('base64url'));
    if (i === undefined) return { ok: false, code: 'IW_ERR_GUEST_TOKEN_UNKNOWN' };
    if (i.station !== station) return { ok: false, code: 'IW_ERR_GUEST_OTHER_SHOW' };
    switch (i.state) {
      case 'withdrawn': return { ok: false, code: 'IW_ERR_GUEST_TOKEN_REVOKED' };
      case 'ended':
        return { ok: false, code: i.endedWhy === 'lost' ? 'IW_ERR_GUEST_AWAY_TOO_LONG' : i.endedWhy === 'removed' ? 'IW_ERR_GUEST_REMOVED' : 'IW_ERR_GUEST_TOKEN_USED' };
      case 'joined': {
        const h = i.rejoinHash;
        if (rejoin === undefined || h === undefined || !timingSafeEqual(sha256(rejoin), h)) return { ok: false, code: 'IW_ERR_GUEST_TOKEN_USED' };
        return { ok: true, invitation: i, rejoin: this.newRejoin(i), first: false };
      }
      case 'open': {
        if (this.opts.now() >= i.expiresAt) return { ok: false, code: 'IW_ERR_GUEST_TOKEN_EXPIRED' };
        if (this.ofDesk(i.station, i.host).filter((x) => x.state === 'joined').length >= this.opts.limits().maxGuests) {
          return { ok: false, code: 'IW_ERR_GUEST_FULL' };
        }
        i.state = 'joined';
        i.guestName = guestName.trim().slice(0, MAX_NAME_CHARS) || 'Guest';
        return { ok: true, invitation: i, rejoin: this.newRejoin(i), first: true };
      }
    }
  }

  /** A joined guest's place ends: they left, stayed away too long, or the host took them out. */
  end(i: Invitation, why: GuestGoneReason): void {
    if (i.state !== 'joined') return;
    i.state = 'ended';
    i.endedWhy = why;
    i.endedAt = this.opts.now();
    delete i.rejoinHash;
  }

  /** An open link that can still be used. */
  private usable(i: Invitation, now: number): boolean {
    return i.state === 'open' && now < i.expiresAt;
  }

  private newRejoin(i: Invitation): string {
    // A fresh secret on every (re)join: an old one copied from a page that is gone opens nothing.
    const secret = randomBytes(32).toString('base64url');
    i.rejoinHash = sha256(secret);
    return secret;
  }

  private ofDesk(station: string, host: string): Invitation[] {
    return [...this.byId.values()].filter((i) => i.station === station && i.host === host);
  }

  /** Drop what is over (and, past MAX_TOTAL, the oldest that is not a guest in a show). */
  private prune(): void {
    const now = this.opts.now();
    for (const i of this.byId.values()) {
      const finished = i.state === 'ended' || i.state === 'withdrawn';
      const over = finished ? now >= Math.max(i.expiresAt, (i.endedAt ?? now) + KEEP_FINISHED_MS) : i.state === 'open' && now >= i.expiresAt + KEEP_FINISHED_MS;
      if (over) this.remove(i);
    }
    for (const i of this.byId.values()) {
      if (this.byId.size < MAX_TOTAL) break;
      if (i.state !== 'joined') this.remove(i);
    }
  }

  private remove(i: Invitation): void {
    this.byId.delete(i.id);
    this.byTokenHash.delete(i.tokenHash);
  }
}
