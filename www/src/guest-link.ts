// One guest's WebRTC connection, as the host's page runs it. The host always offers (the guest
// only answers), so there is never glare: one side starts every negotiation, and the guest asks
// for a restart through a signal when it wants one. The host sends the guest's return feed (the
// show without them, mixer.ts addReturnFeed) and receives their microphone.
//
// Staying up: when ICE fails, or stays disconnected for DISCONNECTED_GRACE_MS, the host restarts
// ICE (a new offer with iceRestart, fresh TURN allocations) — but only while the guest's page is
// there to answer. When the guest's page comes back after a drop, the host restarts ICE at once;
// if it is a new page (reloaded), the old connection is worthless and a new one is made. The
// remote stream goes to `onStream` each time there is a new one; the mixer channel stays.
// While ICE still says connected but the guest's sound has stopped arriving (a cut cable: ICE
// notices only after seconds), the link says `reconnecting` until it flows again (media-watch.ts).
import type { IceConfig, SignalCandidate, SignalData } from './wire-contract.js';
import { watchPeer, type MediaWatch } from './media-watch.js';

export const DISCONNECTED_GRACE_MS = 1500;

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'away' | 'closed';

export interface LinkDeps {
  /** A new RTCPeerConnection (the browser's, or a fake in unit tests). */
  createPeer(config: RTCConfiguration): RTCPeerConnection;
  /** Send a signal to this guest (false: the desk is not connected now). */
  send(signal: SignalData): boolean;
  /** The guest's microphone as a stream (a new stream after a new connection). */
  onStream(stream: MediaStream): void;
  onState(state: LinkState): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** The clock (Date.now unless a test's). */
  now?(): number;
}

/** A browser's candidate as it travels in a signal. */
export function toSignalCandidate(c: RTCIceCandidate): SignalCandidate {
  const j = c.toJSON();
  return { candidate: j.candidate ?? '', sdpMid: j.sdpMid ?? null, sdpMLineIndex: j.sdpMLineIndex ?? null, usernameFragment: j.usernameFragment ?? null };
}

/** What RTCPeerConnection is given. */
export function rtcConfig(ice: IceConfig): RTCConfiguration {
  return { iceServers: ice.iceServers.map((s) => ({ ...s, urls: [...s.urls] })), iceTransportPolicy: ice.iceTransportPolicy };
}

export class GuestLink {
  private pc: RTCPeerConnection;
  private stateValue: LinkState = 'connecting';
  private present = true;
  private negotiating = false;
  private again: 'offer' | 'restart' | undefined;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private disconnectTimer: unknown;
  private everConnected = false;
  private readonly watch: MediaWatch;

  constructor(private readonly deps: LinkDeps, private ice: IceConfig, private readonly returnTrack: MediaStreamTrack) {
    this.pc = this.newPeer();
    this.watch = watchPeer(() => this.pc, deps, () => this.onMedia());
    void this.negotiate(false);
  }

  get state(): LinkState {
    return this.stateValue;
  }

  /** The peer connection (for stats). */
  get peer(): RTCPeerConnection {
    return this.pc;
  }

  private setState(s: LinkState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.deps.onState(s);
  }

  private newPeer(): RTCPeerConnection {
    const pc = this.deps.createPeer(rtcConfig(this.ice));
    pc.addTransceiver(this.returnTrack, { direction: 'sendrecv' });
    pc.addEventListener('track', (ev) => {
      if (pc !== this.pc) return;
      this.deps.onStream(ev.streams[0] ?? new MediaStream([ev.track]));
    });
    pc.addEventListener('icecandidate', (ev) => {
      if (pc !== this.pc || ev.candidate === null) return;
      this.deps.send({ candidate: toSignalCandidate(ev.candidate) });
    });
    pc.addEventListener('iceconnectionstatechange', () => { if (pc === this.pc) this.onIceState(); });
    return pc;
  }

  /** Sound stopped or came back while ICE says connected. */
  private onMedia(): void {
    const st = this.pc.iceConnectionState;
    if (this.stateValue === 'closed' || this.stateValue === 'away') return;
    if (st === 'connected' || st === 'completed') this.setState(this.watch.stalled ? 'reconnecting' : 'connected');
  }

  private onIceState(): void {
    const st = this.pc.iceConnectionState;
    this.deps.clearTimeout(this.disconnectTimer);
    if (st === 'connected' || st === 'completed') {
      this.everConnected = true;
      // ICE may not have noticed yet that nothing arrives any more
      this.setState(this.watch.stalled ? 'reconnecting' : 'connected');
      return;
    }
    if (!this.present) return;
    if (st === 'failed') {
      this.setState('reconnecting');
      void this.negotiate(true);
    } else if (st === 'disconnected') {
      this.setState('reconnecting');
      this.disconnectTimer = this.deps.setTimeout(() => {
        if (this.pc.iceConnectionState === 'disconnected' && this.present) void this.negotiate(true);
      }, DISCONNECTED_GRACE_MS);
    }
  }

  /** Make and send an offer (with an ICE restart); one at a time, the latest wish wins. */
  private async negotiate(restart: boolean): Promise<void> {
    if (this.negotiating) {
      this.again = restart || this.again === 'restart' ? 'restart' : 'offer';
      return;
    }
    this.negotiating = true;
    const pc = this.pc;
    try {
      // An offer the guest never answered (they were away): take it back before a new one.
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      const offer = await pc.createOffer(restart ? { iceRestart: true } : {});
      await pc.setLocalDescription(offer);
      if (pc === this.pc && pc.localDescription !== null) {
        this.deps.send({ description: { type: 'offer', sdp: pc.localDescription.sdp } });
      }
    } catch {
      // the connection was closed meanwhile, or the browser refused: the next event tries again
    } finally {
      this.negotiating = false;
    }
    const again = this.again;
    this.again = undefined;
    if (again !== undefined && this.present && this.stateValue !== 'closed') void this.negotiate(again === 'restart');
  }

  /** A signal from the guest: their answer, a candidate, or a request to restart. */
  async signal(s: SignalData): Promise<void> {
    const pc = this.pc;
    try {
      if (s.description?.type === 'answer' && pc.signalingState === 'have-local-offer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: s.description.sdp });
        for (const c of this.pendingCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => undefined);
      }
      if (s.candidate != null) {
        const c: RTCIceCandidateInit = { ...s.candidate };
        if (pc.remoteDescription === null) this.pendingCandidates.push(c);
        else await pc.addIceCandidate(c).catch(() => undefined);
      }
      if (s.restart === true && this.present) {
        this.setState('reconnecting');
        await this.negotiate(true);
      }
    } catch {
      // a stale answer (after a rollback) is refused by the browser: the current offer stands
    }
  }

  /** The guest's page went away (their network blinked, or they reloaded). */
  away(): void {
    this.present = false;
    this.deps.clearTimeout(this.disconnectTimer);
    this.setState('away');
  }

  /** The guest is back: the same page restarts ICE; a new page gets a new connection. */
  back(samePage: boolean): void {
    this.present = true;
    this.setState('reconnecting');
    if (samePage && this.everConnected) {
      void this.negotiate(true);
      return;
    }
    this.pc.close();
    this.pendingCandidates = [];
    this.everConnected = false;
    this.pc = this.newPeer();
    void this.negotiate(false);
  }

  /** Fresh TURN credentials (the next ICE restart uses them). */
  setIce(ice: IceConfig): void {
    this.ice = ice;
    try { this.pc.setConfiguration(rtcConfig(ice)); } catch { /* a closed connection */ }
  }

  /** The desk reconnected: the offer it may have lost is made again. */
  resync(): void {
    if (this.present && this.stateValue !== 'connected') void this.negotiate(true);
  }

  close(): void {
    this.present = false;
    this.watch.stop();
    this.deps.clearTimeout(this.disconnectTimer);
    this.pc.close();
    this.setState('closed');
  }
}
