// The host's "Guests" card on the broadcaster page (docs/guests.md): make invitation links, see
// who joined, and bring each guest into the studio as one more mixer channel (level, on air,
// mute, meter, remove). It keeps one signalling socket to the daemon (the "desk", authenticated
// by the host's login token) and one WebRTC connection per guest (guest-link.ts); each guest gets
// the show without their own voice back (Mixer.addReturnFeed). The daemon only introduces the two
// pages: the guest's sound reaches the recording through this page's mixer, like the microphone.
import { SignalSocket, type SignalState } from './signal-socket.js';
import { GuestLink, type LinkState } from './guest-link.js';
import { DESK_GAVE_UP, DESK_RETRYING, GUESTS_NEED_LOGIN, LINK_WORDS } from './guest-messages.js';
import { h, type Studio } from './studio.js';
import type { MixerChannel } from './mixer.js';
import {
  GUEST_PAGE_PREFIX, GUEST_WS_PATH_PREFIX, GUEST_WS_SUBPROTOCOL,
  type GuestEvent, type HostClientFrame, type HostServerFrame, type IceConfig, type InvitationInfo,
} from './wire-contract.js';

export interface DeskLogin {
  user: string;
  password: string;
  station: string;
}

export interface DeskOptions {
  root: HTMLElement;
  studio: Studio;
  /** The name, password and station in the sign-in form, or what is missing. */
  login(): DeskLogin | { problem: string; field: HTMLElement };
  /** A short-lived login token for these credentials (POST /api/login), undefined when refused. */
  loginToken(user: string, password: string): Promise<string | undefined>;
}

interface Seat {
  readonly id: string;
  name: string;
  instance: string;
  link: GuestLink;
  channel: MixerChannel;
  feed: { stream: MediaStream; remove(): void };
  source: MediaStreamAudioSourceNode | undefined;
  /** Chromium only feeds a remote WebRTC stream into Web Audio while a media element plays it. */
  sink: HTMLAudioElement;
  meter: { remove(): void };
  onAir: boolean;
  muted: boolean;
  strip: HTMLElement;
}

export class GuestDesk {
  private socket: SignalSocket<HostServerFrame, HostClientFrame> | undefined;
  private station = '';
  private ice: IceConfig = { iceServers: [], iceTransportPolicy: 'all' };
  private readonly seats = new Map<string, Seat>();
  /** Links made in this page (the token is only ever shown here, once). */
  private readonly links = new Map<string, string>();
  private invitations: readonly InvitationInfo[] = [];
  private readonly els: { form: HTMLFormElement; label: HTMLInputElement; error: HTMLElement; status: HTMLElement; list: HTMLElement; strips: HTMLElement };

  constructor(private readonly opts: DeskOptions) {
    const q = <T extends HTMLElement>(id: string): T => {
      const e = opts.root.querySelector<T>(`#${id}`);
      if (e === null) throw new Error(`#${id} is missing from the guests card`);
      return e;
    };
    this.els = {
      form: q<HTMLFormElement>('guest-invite-form'), label: q<HTMLInputElement>('guest-label'), error: q('guests-error'),
      status: q('guests-status'), list: q('guest-invitations'), strips: q('guest-strips'),
    };
    this.els.form.addEventListener('submit', (e) => { e.preventDefault(); void this.invite(); });
    this.setState('off');
  }

  private setState(state: 'off' | 'connecting' | 'open' | 'retrying' | 'closed'): void {
    this.opts.root.dataset['state'] = state;
    if (state === 'retrying') this.els.status.textContent = DESK_RETRYING;
    else if (state === 'open') this.els.status.textContent = this.seats.size === 0 ? 'Ready: invite a guest and send them the link.' : '';
  }

  private showError(text: string): void {
    this.els.error.textContent = text;
    this.els.error.hidden = text === '';
  }

  /** Invite: open the desk first if needed (logging in with the form's name and password). */
  private async invite(): Promise<void> {
    this.showError('');
    const label = this.els.label.value.trim();
    if (this.socket === undefined || this.socket.state === 'closed') {
      const ok = await this.openDesk();
      if (!ok) return;
    }
    const sent = (): boolean => this.socket?.send({ type: 'invite', data: { label } }) === true;
    if (!sent()) this.pendingInvite = label;
  }

  private pendingInvite: string | undefined;

  private async openDesk(): Promise<boolean> {
    const login = this.opts.login();
    if ('problem' in login) {
      this.showError(login.problem === '' ? GUESTS_NEED_LOGIN : login.problem);
      login.field.focus();
      return false;
    }
    this.setState('connecting');
    const token = await this.opts.loginToken(login.user, login.password);
    if (token === undefined) {
      this.setState('off');
      this.showError('Your name or password was not accepted, so guests cannot be invited. Check them above and try again.');
      return false;
    }
    this.station = login.station;
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GUEST_WS_PATH_PREFIX}${encodeURIComponent(login.station)}`;
    let tokenNow = token;
    this.socket = new SignalSocket<HostServerFrame, HostClientFrame>({
      url, protocol: GUEST_WS_SUBPROTOCOL,
      hello: () => ({ type: 'hello', data: { role: 'host', user: login.user, token: tokenNow } }),
      openSocket: (u, p) => new WebSocket(u, p),
      timers: { setTimeout: (fn, ms) => window.setTimeout(fn, ms), clearTimeout: (t) => window.clearTimeout(t as number) },
      now: () => Date.now(),
      giveUpMs: 120_000,
    }, {
      onFrame: (f) => this.onFrame(f),
      onState: (s: SignalState) => {
        this.setState(s);
        // a fresh token for the next hello (the login one is short-lived)
        if (s === 'retrying') void this.opts.loginToken(login.user, login.password).then((t) => { if (t !== undefined) tokenNow = t; });
      },
      onEnd: (refusal) => {
        this.setState('closed');
        this.showError(refusal?.message ?? DESK_GAVE_UP);
        for (const id of [...this.seats.keys()]) this.unseat(id);
      },
    });
    return true;
  }

  private onFrame(f: HostServerFrame): void {
    switch (f.type) {
      case 'desk': {
        this.ice = f.data.ice;
        this.invitations = f.data.invitations;
        // (Re)attached: every guest's page is told the host came (back) and starts over, so each
        // guest gets a new connection from here.
        const present = new Set(f.data.guests.map((g) => g.guest));
        for (const id of [...this.seats.keys()]) if (!present.has(id)) this.unseat(id);
        for (const g of f.data.guests) {
          const seat = this.seats.get(g.guest);
          if (seat === undefined) this.seat(g);
          else seat.link.back(false);
          if (g.event === 'away') this.seats.get(g.guest)?.link.away();
        }
        this.renderInvitations();
        if (this.pendingInvite !== undefined) {
          this.socket?.send({ type: 'invite', data: { label: this.pendingInvite } });
          this.pendingInvite = undefined;
        }
        return;
      }
      case 'invited':
        this.links.set(f.data.id, `${location.origin}${GUEST_PAGE_PREFIX}${encodeURIComponent(this.station)}#${f.data.token}`);
        this.els.label.value = '';
        return;
      case 'invitations':
        this.invitations = f.data.invitations;
        this.renderInvitations();
        return;
      case 'guest':
        this.onGuest(f.data);
        return;
      case 'signal': {
        const { guest, ...signal } = f.data;
        void this.seats.get(guest)?.link.signal(signal);
        return;
      }
      case 'ice':
        this.ice = f.data;
        for (const s of this.seats.values()) s.link.setIce(f.data);
        return;
      case 'refused':
        this.showError(f.data.message);
        return;
      case 'error':
        return;
    }
  }

  private onGuest(g: GuestEvent): void {
    const seat = this.seats.get(g.guest);
    switch (g.event) {
      case 'joined':
        if (seat === undefined) this.seat(g);
        return;
      case 'back':
        if (seat === undefined) { this.seat(g); return; }
        seat.link.back(g.instance === seat.instance);
        seat.instance = g.instance;
        return;
      case 'away':
        seat?.link.away();
        return;
      case 'gone':
        this.unseat(g.guest);
        this.els.status.textContent = `${g.name} ${g.why === 'removed' ? 'was taken out of the show' : g.why === 'lost' ? 'lost their connection and did not come back' : 'left the show'}.`;
        return;
    }
  }

  /** A guest's channel: off air until the host puts them on. */
  private seat(g: GuestEvent): void {
    const { studio } = this.opts;
    const chId = `guest-${g.guest}`;
    const channel = studio.mixer.addChannel({ id: chId, kind: 'stream', label: g.name, ducked: false });
    channel.setOn(false);
    const feed = studio.mixer.addReturnFeed(chId);
    const sink = new Audio();
    sink.muted = true;
    const strip = this.stripEl(g);
    this.els.strips.append(strip);
    const meterView = studio.channelMeter(`meter-guest-${g.guest}`, channel.meter);
    strip.querySelector('.guest-meter')!.replaceWith(meterView.el);
    const seat: Seat = {
      id: g.guest, name: g.name, instance: g.instance, channel, feed, source: undefined, sink, meter: meterView,
      onAir: false, muted: false, strip,
      link: undefined as unknown as GuestLink,
    };
    this.seats.set(g.guest, seat);
    seat.link = new GuestLink({
      createPeer: (c) => new RTCPeerConnection(c),
      send: (signal) => this.socket?.send({ type: 'signal', data: { ...signal, guest: g.guest } }) === true,
      onStream: (stream) => this.feedChannel(seat, stream),
      onState: (s) => this.showLink(seat, s),
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (t) => window.clearTimeout(t as number),
    }, this.ice, feed.stream.getAudioTracks()[0]!);
    this.showLink(seat, seat.link.state);
    this.els.status.textContent = `${g.name} joined. Listen in with Cue, then press On air to bring them in.`;
  }

  private feedChannel(seat: Seat, stream: MediaStream): void {
    if (seat.source !== undefined) seat.channel.disconnectSource(seat.source);
    seat.sink.srcObject = stream;
    void seat.sink.play().catch(() => undefined);
    seat.source = this.opts.studio.ctx.createMediaStreamSource(stream);
    seat.channel.connectSource(seat.source);
  }

  private unseat(id: string): void {
    const seat = this.seats.get(id);
    if (seat === undefined) return;
    this.seats.delete(id);
    seat.link.close();
    seat.feed.remove();
    seat.meter.remove();
    this.opts.studio.mixer.removeChannel(seat.channel.id);
    seat.sink.srcObject = null;
    seat.strip.remove();
    this.talkOver();
  }

  private showLink(seat: Seat, s: LinkState): void {
    seat.strip.dataset['link'] = s;
    seat.strip.querySelector('.guest-state')!.textContent = LINK_WORDS[s];
  }

  private cue(seat: Seat): void {
    seat.channel.setOn(seat.onAir && !seat.muted);
    seat.strip.dataset['onAir'] = String(seat.onAir);
    seat.strip.dataset['muted'] = String(seat.muted);
    seat.strip.querySelector('.guest-on-air')!.setAttribute('aria-pressed', String(seat.onAir));
    seat.strip.querySelector('.guest-mute')!.setAttribute('aria-pressed', String(seat.muted));
    this.socket?.send({ type: 'cue', data: { guest: seat.id, onAir: seat.onAir, muted: seat.muted } });
    this.talkOver();
  }

  private talkOver(): void {
    this.opts.studio.setGuestsTalking([...this.seats.values()].some((s) => s.onAir && !s.muted));
  }

  private stripEl(g: GuestEvent): HTMLElement {
    const id = g.guest;
    const fader = h('input', { type: 'range', id: `guest-${id}-gain`, min: '-40', max: '12', step: '0.5', value: '0', 'aria-label': `${g.name}: level` });
    const out = h('output', { text: '0.0 dB' });
    fader.addEventListener('input', () => {
      const db = Number((fader as HTMLInputElement).value);
      this.seats.get(id)?.channel.setGainDb(db);
      out.textContent = `${db.toFixed(1)} dB`;
    });
    const onAir = h('button', { type: 'button', class: 'btn btn-small btn-mic guest-on-air', 'aria-pressed': 'false' }, 'On air');
    onAir.addEventListener('click', () => { const s = this.seats.get(id); if (s) { s.onAir = !s.onAir; this.cue(s); } });
    const mute = h('button', { type: 'button', class: 'btn btn-small btn-outline guest-mute', 'aria-pressed': 'false' }, 'Mute');
    mute.addEventListener('click', () => { const s = this.seats.get(id); if (s) { s.muted = !s.muted; this.cue(s); } });
    const cue = h('button', { type: 'button', class: 'btn btn-small btn-outline guest-cue', 'aria-pressed': 'false' }, 'Cue');
    cue.addEventListener('click', () => {
      const s = this.seats.get(id);
      if (!s) return;
      s.channel.setCue(!s.channel.isCued);
      cue.setAttribute('aria-pressed', String(s.channel.isCued));
    });
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-outline guest-remove' }, 'Remove');
    remove.addEventListener('click', () => {
      if (!window.confirm(`Take ${g.name} out of the show? Their link stops working.`)) return;
      this.socket?.send({ type: 'withdraw', data: { id } });
    });
    return h('div', { class: 'strip guest-strip', id: `guest-${id}`, 'data-guest': id, 'data-link': 'connecting', 'data-on-air': 'false', 'data-muted': 'false' },
      h('div', { class: 'strip-head' }, h('strong', { class: 'guest-name', text: g.name }), h('span', { class: 'guest-state muted small' })),
      h('div', { class: 'strip-buttons' }, onAir, mute, cue, remove),
      h('div', { class: 'fader' }, h('label', { for: `guest-${id}-gain`, text: 'Level' }), fader, out),
      h('div', { class: 'guest-meter' }));
  }

  private renderInvitations(): void {
    const open = this.invitations.filter((i) => i.state === 'open');
    this.els.list.replaceChildren(...open.map((i) => {
      const link = this.links.get(i.id);
      const until = new Date(i.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      const withdraw = h('button', { type: 'button', class: 'btn btn-small btn-outline invitation-withdraw' }, 'Withdraw');
      withdraw.addEventListener('click', () => this.socket?.send({ type: 'withdraw', data: { id: i.id } }));
      const parts: HTMLElement[] = [h('span', { class: 'invitation-label', text: i.label || 'Guest' }), h('span', { class: 'muted small', text: ` · works until ${until}, once` })];
      if (link !== undefined) {
        const input = h('input', { class: 'invitation-link', readonly: '', value: link, 'aria-label': 'Invitation link' }) as HTMLInputElement;
        input.addEventListener('focus', () => input.select());
        const copy = h('button', { type: 'button', class: 'btn btn-small btn-secondary invitation-copy' }, 'Copy link');
        copy.addEventListener('click', () => {
          void navigator.clipboard?.writeText(link).then(() => { copy.textContent = 'Copied'; }, () => { input.select(); });
        });
        parts.push(input, copy);
      } else {
        parts.push(h('span', { class: 'muted small', text: ' (link shown on the page that made it)' }));
      }
      return h('li', { class: 'invitation', 'data-id': i.id, 'data-state': i.state }, ...parts, withdraw);
    }));
  }
}
