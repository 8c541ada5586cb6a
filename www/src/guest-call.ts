// The guest's side of the WebRTC connection: answer the host's offers (the host always offers),
// send the microphone, receive the return feed (the show without the guest's own voice). When the
// connection fails or stays disconnected, ask the host for an ICE restart through signalling; the
// host's page also restarts by itself when it sees the same. A new microphone is swapped in
// without renegotiating (replaceTrack). While ICE still says connected but the show has stopped
// arriving (a cut cable: ICE notices only after seconds), the call says `reconnecting` until it
// flows again (media-watch.ts), so the page does not claim "on air" through the silence.
import type { IceConfig, SignalData } from './wire-contract.js';
import { rtcConfig, toSignalCandidate } from './guest-link.js';
import { watchPeer, type MediaWatch } from './media-watch.js';

export const RESTART_ASK_MS = 2000;

export type CallState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface CallDeps {
  createPeer(config: RTCConfiguration): RTCPeerConnection;
  send(signal: SignalData): boolean;
  /** The return feed arrived (or a new one after a new connection). */
  onReturn(stream: MediaStream): void;
  onState(state: CallState): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** The clock (Date.now unless a test's). */
  now?(): number;
}

export class GuestCall {
  private readonly pc: RTCPeerConnection;
  private stateValue: CallState = 'connecting';
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private askTimer: unknown;
  private queue: Promise<void> = Promise.resolve();
  private readonly watch: MediaWatch;

  constructor(private readonly deps: CallDeps, ice: IceConfig, private mic: MediaStreamTrack) {
    this.pc = deps.createPeer(rtcConfig(ice));
    this.pc.addEventListener('track', (ev) => this.deps.onReturn(ev.streams[0] ?? new MediaStream([ev.track])));
    this.pc.addEventListener('icecandidate', (ev) => {
      if (ev.candidate !== null) this.deps.send({ candidate: toSignalCandidate(ev.candidate) });
    });
    this.pc.addEventListener('iceconnectionstatechange', () => this.onIceState());
    this.watch = watchPeer(() => this.pc, deps, () => this.onMedia());
  }

  get state(): CallState {
    return this.stateValue;
  }

  get peer(): RTCPeerConnection {
    return this.pc;
  }

  private setState(s: CallState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.deps.onState(s);
  }

  /** The show stopped or came back while ICE says connected. */
  private onMedia(): void {
    const st = this.pc.iceConnectionState;
    if (this.stateValue !== 'closed' && (st === 'connected' || st === 'completed')) this.setState(this.watch.stalled ? 'reconnecting' : 'connected');
  }

  private onIceState(): void {
    const st = this.pc.iceConnectionState;
    this.deps.clearTimeout(this.askTimer);
    if (this.stateValue === 'closed') return;
    if (st === 'connected' || st === 'completed') this.setState(this.watch.stalled ? 'reconnecting' : 'connected');
    else if (st === 'failed') this.askRestart();
    else if (st === 'disconnected') {
      this.setState('reconnecting');
      this.askTimer = this.deps.setTimeout(() => { if (this.pc.iceConnectionState === 'disconnected') this.askRestart(); }, RESTART_ASK_MS);
    }
  }

  /** Ask the host for a new negotiation (after a blink, or when this page's signalling came back). */
  askRestart(): void {
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'connected' && this.pc.iceConnectionState === 'connected') return;
    this.setState('reconnecting');
    this.deps.send({ restart: true });
  }

  /** A signal from the host. Handled one at a time, in order. */
  signal(s: SignalData): Promise<void> {
    this.queue = this.queue.then(() => this.handle(s)).catch(() => undefined);
    return this.queue;
  }

  private async handle(s: SignalData): Promise<void> {
    const pc = this.pc;
    if (s.description?.type === 'offer') {
      await pc.setRemoteDescription({ type: 'offer', sdp: s.description.sdp });
      // The host's offer brings the one audio transceiver: send the microphone on it.
      const t = pc.getTransceivers().find((x) => x.receiver.track.kind === 'audio');
      if (t !== undefined) {
        if (t.sender.track !== this.mic) await t.sender.replaceTrack(this.mic);
        t.direction = 'sendrecv';
      }
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (pc.localDescription !== null) this.deps.send({ description: { type: 'answer', sdp: pc.localDescription.sdp } });
      for (const c of this.pendingCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => undefined);
    }
    if (s.candidate != null) {
      const c: RTCIceCandidateInit = { ...s.candidate };
      if (pc.remoteDescription === null) this.pendingCandidates.push(c);
      else await pc.addIceCandidate(c).catch(() => undefined);
    }
  }

  /** Another microphone (the picker): swapped in place, the host hears it at once. */
  async setMic(track: MediaStreamTrack): Promise<void> {
    this.mic = track;
    const t = this.pc.getTransceivers().find((x) => x.receiver.track.kind === 'audio');
    if (t !== undefined) await t.sender.replaceTrack(track);
  }

  /** Fresh TURN credentials (the next ICE restart uses them). */
  setIce(ice: IceConfig): void {
    try {
      this.pc.setConfiguration(rtcConfig(ice));
    } catch { /* closed */ }
  }

  close(): void {
    this.watch.stop();
    this.deps.clearTimeout(this.askTimer);
    this.pc.close();
    this.setState('closed');
  }
}
