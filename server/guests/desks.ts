// Who talks to whom on the guests' door. A desk is one host's guests on one station: the host's
// page (at most one socket) and each guest who redeemed one of that host's invitations. A guest's
// frames go to their host only; a host's go to the guest they name, only if that guest is theirs.
// Guests never hear of each other, of other hosts or of other stations.
//
// A guest whose socket drops is "away": their place is kept for guests.rejoinGraceMs, and a
// rejoin (the same invitation and the rejoin secret) brings them back into the same place; the
// host's page is told (`away`, `back`) and restarts ICE by itself. Nothing is queued for a party
// that is not there: the host renegotiates when the guest is back.
import { WebSocket } from 'ws';
import type { Cancel, Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { sendError } from '../ingest/socket-door.js';
import type { GuestEvent, GuestGoneReason, GuestServerFrame, HostServerFrame } from '../../www/src/wire-contract.js';
import { iceConfigFor } from './ice-servers.js';
import type { Invitation, InvitationBook } from './invitation-book.js';
import type { GuestMessage, HostMessage } from './signal-protocol.js';

/** A party that does not read what it is sent (more than this waiting) is cut off. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export type DeskConfig = Pick<Config, 'mounts' | 'guests' | 'webrtc'>;

/** One socket of the door, as a desk uses it. */
export class Party {
  constructor(readonly ws: WebSocket, readonly log: Logger) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: HostServerFrame | GuestServerFrame): void {
    if (!this.open) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.log.warn('signalling peer is not reading; cut off', { buffered: this.ws.bufferedAmount });
      this.ws.terminate();
      return;
    }
    this.ws.send(JSON.stringify(frame));
  }

  /** The error frame and the close that goes with it. */
  refuse(err: IcewireError): void {
    sendError(this.ws, err);
  }
}

interface GuestSeat {
  party: Party | undefined;
  instance: string;
  away: Cancel | undefined;
}

class Desk {
  host: Party | undefined;
  readonly seats = new Map<string, GuestSeat>();

  constructor(readonly station: string, readonly user: string) {}

  get empty(): boolean {
    return this.host === undefined && this.seats.size === 0;
  }
}

export class Desks {
  private readonly desks = new Map<string, Desk>();

  constructor(private readonly opts: { book: InvitationBook; config: () => DeskConfig; clock: Clock; logger: Logger }) {}

  private desk(station: string, user: string): Desk {
    const key = `${station}\n${user}`;
    let d = this.desks.get(key);
    if (d === undefined) {
      d = new Desk(station, user);
      this.desks.set(key, d);
    }
    return d;
  }

  private tidy(d: Desk): void {
    if (d.empty) this.desks.delete(`${d.station}\n${d.user}`);
  }

  // ---- hosts ----

  /** A host's page is in (a second page of the same host and station replaces the first). */
  attachHost(station: string, user: string, party: Party): { message(m: HostMessage): void; closed(): void } {
    const d = this.desk(station, user);
    d.host?.refuse(new IcewireError('IW_ERR_SIGNAL_REPLACED'));
    d.host = party;
    const { book, clock } = this.opts;
    const cfg = this.opts.config();
    const guests: GuestEvent[] = [...d.seats].map(([id, s]) => this.event(book.get(id)!, s.party !== undefined ? 'joined' : 'away', s.instance));
    party.send({
      type: 'desk',
      data: { station, ice: iceConfigFor(cfg.webrtc, `host-${user}`, clock.now()), maxGuests: cfg.guests.maxGuests, invitations: book.list(station, user), guests },
    });
    for (const s of d.seats.values()) s.party?.send({ type: 'host', data: { present: true } });
    party.log.info('guest desk opened', { guests: d.seats.size });
    return {
      message: (m) => this.fromHost(d, party, m),
      closed: () => {
        if (d.host !== party) return;
        d.host = undefined;
        for (const s of d.seats.values()) s.party?.send({ type: 'host', data: { present: false } });
        this.tidy(d);
      },
    };
  }

  private fromHost(d: Desk, party: Party, m: HostMessage): void {
    if (d.host !== party) return;
    const { book } = this.opts;
    switch (m.type) {
      case 'invite': {
        const made = book.create(d.station, d.user, m.label);
        if ('code' in made) {
          const e = new IcewireError(made.code);
          party.send({ type: 'refused', data: { request: 'invite', code: e.code, message: e.message } });
          return;
        }
        party.log.info('guest invitation made', { invitation: made.invitation.id });
        party.send({ type: 'invited', data: { id: made.invitation.id, token: made.token, expiresAt: new Date(made.invitation.expiresAt).toISOString() } });
        this.sendInvitations(d);
        return;
      }
      case 'withdraw': {
        const i = book.withdraw(d.station, d.user, m.id);
        if (i === undefined) return;
        party.log.info(i.state === 'ended' ? 'guest removed by the host' : 'guest invitation withdrawn', { invitation: i.id });
        if (i.state === 'ended') this.gone(d, i, 'removed');
        this.sendInvitations(d);
        return;
      }
      case 'signal':
        d.seats.get(m.guest)?.party?.send({ type: 'signal', data: m.signal });
        return;
      case 'cue': {
        const i = book.get(m.guest);
        if (i === undefined || i.host !== d.user || i.station !== d.station || i.state !== 'joined') return;
        i.cue = m.cue;
        d.seats.get(m.guest)?.party?.send({ type: 'cue', data: m.cue });
        return;
      }
      case 'unknown':
        return;
    }
  }

  private sendInvitations(d: Desk): void {
    d.host?.send({ type: 'invitations', data: { invitations: this.opts.book.list(d.station, d.user) } });
  }

  // ---- guests ----

  /** A guest redeemed their invitation (first time, or coming back with the rejoin secret). */
  attachGuest(i: Invitation, rejoin: string, first: boolean, instance: string, party: Party): { message(m: GuestMessage): void; closed(code: number): void } {
    const d = this.desk(i.station, i.host);
    const { clock } = this.opts;
    const cfg = this.opts.config();
    const seat = d.seats.get(i.id) ?? { party: undefined, instance, away: undefined };
    seat.party?.refuse(new IcewireError('IW_ERR_SIGNAL_REPLACED'));
    seat.away?.();
    seat.away = undefined;
    seat.party = party;
    seat.instance = instance;
    d.seats.set(i.id, seat);
    const mount = Object.hasOwn(cfg.mounts, i.station) ? cfg.mounts[i.station] : undefined;
    party.send({
      type: 'welcome',
      data: {
        guest: i.id, rejoin, station: { id: i.station, name: mount?.name ?? i.station },
        ice: iceConfigFor(cfg.webrtc, `guest-${i.id}`, clock.now()), host: d.host !== undefined, cue: i.cue,
      },
    });
    party.log.info(first ? 'guest joined' : 'guest is back', { invitation: i.id });
    d.host?.send({ type: 'guest', data: this.event(i, first ? 'joined' : 'back', instance) });
    if (first) this.sendInvitations(d);
    let left = false;
    return {
      message: (m) => {
        if (seat.party !== party || i.state !== 'joined') return;
        if (m.type === 'signal') d.host?.send({ type: 'signal', data: { guest: i.id, ...m.signal } });
        else if (m.type === 'leave') {
          left = true;
          this.leave(d, i, party.log, party);
        }
      },
      closed: (code) => {
        if (seat.party !== party || left) return;
        seat.party = undefined;
        if (i.state !== 'joined') {
          this.unseat(d, i.id);
          return;
        }
        // A close frame with 1000 (or none) is the page saying goodbye; anything else is a drop.
        if (code === 1000 || code === 1005) {
          this.leave(d, i, party.log, undefined);
          return;
        }
        party.log.info('guest is away', { invitation: i.id, code });
        d.host?.send({ type: 'guest', data: this.event(i, 'away', seat.instance) });
        seat.away = clock.after(cfg.guests.rejoinGraceMs, () => {
          seat.away = undefined;
          if (seat.party !== undefined || i.state !== 'joined') return;
          this.opts.book.end(i, 'lost');
          party.log.info('guest stayed away too long; their place is given up', { invitation: i.id });
          this.gone(d, i, 'lost');
          this.sendInvitations(d);
        });
      },
    };
  }

  private leave(d: Desk, i: Invitation, log: Logger, party: Party | undefined): void {
    this.opts.book.end(i, 'left');
    log.info('guest left', { invitation: i.id });
    this.gone(d, i, 'left');
    this.sendInvitations(d);
    if (party?.open === true) party.ws.close(1000);
  }

  /** The guest's place is over: tell the host, and the guest if they are still there. */
  private gone(d: Desk, i: Invitation, why: GuestGoneReason): void {
    const seat = d.seats.get(i.id);
    if (why === 'removed') seat?.party?.refuse(new IcewireError('IW_ERR_GUEST_REMOVED'));
    d.host?.send({ type: 'guest', data: this.event(i, 'gone', seat?.instance ?? '', why) });
    this.unseat(d, i.id);
  }

  private unseat(d: Desk, id: string): void {
    const seat = d.seats.get(id);
    seat?.away?.();
    d.seats.delete(id);
    this.tidy(d);
  }

  private event(i: Invitation, event: GuestEvent['event'], instance: string, why?: GuestGoneReason): GuestEvent {
    return { guest: i.id, event, name: i.guestName ?? 'Guest', instance, ...(why !== undefined ? { why } : {}) };
  }

  // ---- everyone ----

  /** Fresh TURN credentials for every page, before the ones they have lapse. */
  refreshIce(): void {
    const { webrtc } = this.opts.config();
    const now = this.opts.clock.now();
    for (const d of this.desks.values()) {
      d.host?.send({ type: 'ice', data: iceConfigFor(webrtc, `host-${d.user}`, now) });
      for (const [id, s] of d.seats) s.party?.send({ type: 'ice', data: iceConfigFor(webrtc, `guest-${id}`, now) });
    }
  }

  /** Guests connected now, and guests away (for /metrics and the log). */
  get counts(): { hosts: number; guests: number } {
    let hosts = 0;
    let guests = 0;
    for (const d of this.desks.values()) {
      if (d.host !== undefined) hosts++;
      guests += d.seats.size;
    }
    return { hosts, guests };
  }

  /** Shutdown: no grace timers left behind. */
  clear(): void {
    for (const d of this.desks.values()) for (const s of d.seats.values()) s.away?.();
    this.desks.clear();
  }
}
