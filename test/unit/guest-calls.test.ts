// The two ends of a guest's call as state machines, with a fake peer connection and a fake clock
// (the real browsers: test/browser/guests.test.ts, which pulls a real network cable): what each
// page says when the sound stops arriving while ICE still claims "connected", when it comes back,
// and which restarts each side asks for.
import assert from 'node:assert/strict';
import { FakeClock } from '../helpers/fake-clock.js';
import { GuestLink, DISCONNECTED_GRACE_MS, type LinkState } from '../../www/src/guest-link.js';
import { GuestCall, RESTART_ASK_MS, type CallState } from '../../www/src/guest-call.js';
import { MediaWatch, STALL_MS, WATCH_EVERY_MS } from '../../www/src/media-watch.js';
import type { SignalData } from '../../www/src/wire-contract.js';

/** Just enough of RTCPeerConnection: ICE states set by the test, received packets counted by the test. */
class FakePeer {
  iceConnectionState: RTCIceConnectionState = 'new';
  connectionState: RTCPeerConnectionState = 'new';
  signalingState: RTCSignalingState = 'stable';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  /** Audio packets received so far (undefined: no incoming audio stream yet). */
  packets: number | undefined;
  readonly offers: (RTCOfferOptions | undefined)[] = [];
  private readonly listeners = new Map<string, ((ev: unknown) => void)[]>();

  addEventListener(type: string, fn: (ev: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  ice(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    for (const fn of this.listeners.get('iceconnectionstatechange') ?? []) fn({});
  }

  addTransceiver(): void { /* the return feed */ }
  getTransceivers(): [] { return []; }
  async createOffer(o?: RTCOfferOptions): Promise<{ type: 'offer'; sdp: string }> { this.offers.push(o); return { type: 'offer', sdp: `offer ${this.offers.length}` }; }
  async createAnswer(): Promise<{ type: 'answer'; sdp: string }> { return { type: 'answer', sdp: 'answer' }; }
  async setLocalDescription(d: { type: string; sdp?: string }): Promise<void> {
    if (d.type === 'rollback') { this.signalingState = 'stable'; return; }
    this.localDescription = { type: d.type, sdp: d.sdp ?? '' };
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }
  async setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
    this.remoteDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
  }
  async addIceCandidate(): Promise<void> { /* accepted */ }
  async getStats(): Promise<Map<string, unknown>> {
    const m = new Map<string, unknown>();
    if (this.packets !== undefined) m.set('in', { type: 'inbound-rtp', kind: 'audio', packetsReceived: this.packets });
    m.set('out', { type: 'outbound-rtp', kind: 'audio', packetsSent: 1e6 });
    return m;
  }
  setConfiguration(): void { /* fresh TURN credentials */ }
  close(): void { this.connectionState = 'closed'; this.iceConnectionState = 'closed'; }
}

/** Sound arriving: 50 packets a second, for `ms`. */
async function flow(clock: FakeClock, pc: FakePeer, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 20) {
    pc.packets = (pc.packets ?? 0) + 1;
    await clock.advance(20);
  }
}

function timers(clock: FakeClock): { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void; now(): number } {
  return {
    setTimeout: (fn, ms) => clock.after(ms, fn),
    clearTimeout: (h) => (h as (() => void) | undefined)?.(),
    now: () => clock.now(),
  };
}

const ICE = { iceServers: [], iceTransportPolicy: 'all' as const };
const track = {} as MediaStreamTrack;

describe('a guest\'s call, the host\'s end (GuestLink)', () => {
  function link(): { clock: FakeClock; peers: FakePeer[]; states: LinkState[]; sent: SignalData[]; l: GuestLink } {
    const clock = new FakeClock();
    const peers: FakePeer[] = [];
    const states: LinkState[] = [];
    const sent: SignalData[] = [];
    const l = new GuestLink({
      createPeer: () => { const p = new FakePeer(); peers.push(p); return p as unknown as RTCPeerConnection; },
      send: (s) => { sent.push(s); return true; },
      onStream: () => undefined,
      onState: (s) => states.push(s),
      ...timers(clock),
    }, ICE, track);
    return { clock, peers, states, sent, l };
  }

  it('says "reconnecting" once the guest\'s sound stops for a second while ICE still says connected, and "connected" as soon as it flows again; no restart of its own', async () => {
    const { clock, peers, states, sent, l } = link();
    const pc = peers[0]!;
    await clock.advance(0);
    pc.ice('connected');
    await flow(clock, pc, 2000);
    assert.equal(l.state, 'connected');
    const offers = pc.offers.length;
    // the cable is pulled: no packet arrives, ICE has not noticed
    await clock.advance(STALL_MS - WATCH_EVERY_MS);
    assert.equal(l.state, 'connected', 'not before a whole second without sound');
    await clock.advance(2 * WATCH_EVERY_MS);
    assert.equal(l.state, 'reconnecting');
    await flow(clock, pc, WATCH_EVERY_MS + 20);
    assert.equal(l.state, 'connected', 'back within one look once packets come again');
    assert.deepEqual(states, ['connected', 'reconnecting', 'connected']);
    assert.equal(pc.offers.length, offers, 'a stall alone makes no new offer (ICE gets the path back)');
    assert.equal(sent.filter((s) => s.description !== undefined).length, 1, 'only the first offer went out');
    l.close();
    assert.equal(clock.pending, 0, 'closed: no timer left');
  });

  it('ICE disconnected for 1.5 s, or failed: an offer with an ICE restart; an ICE "connected" while still silent stays "reconnecting"', async () => {
    const { clock, peers, l } = link();
    const pc = peers[0]!;
    await clock.advance(0);
    pc.ice('connected');
    await flow(clock, pc, 500);
    pc.ice('disconnected');
    assert.equal(l.state, 'reconnecting');
    await clock.advance(DISCONNECTED_GRACE_MS + 10);
    assert.deepEqual(pc.offers.at(-1), { iceRestart: true });
    pc.ice('failed');
    await clock.advance(0);
    assert.equal(pc.offers.length, 3);
    // ICE finds a path but nothing has come through it yet (the watch saw a second of silence)
    pc.ice('connected');
    assert.equal(l.state, 'reconnecting');
    await flow(clock, pc, 300);
    assert.equal(l.state, 'connected');
    l.close();
  });

  it('a reloaded guest page gets a new connection, whose count starting from zero is no stall', async () => {
    const { clock, peers, l } = link();
    await clock.advance(0);
    peers[0]!.ice('connected');
    await flow(clock, peers[0]!, 1000);
    l.away();
    assert.equal(l.state, 'away');
    await clock.advance(3000);
    assert.equal(l.state, 'away', 'away stays away: the watch does not overrule it');
    l.back(false);
    assert.equal(peers.length, 2);
    await clock.advance(0);
    peers[1]!.ice('connected');
    await flow(clock, peers[1]!, 500);
    assert.equal(l.state, 'connected');
    l.close();
    assert.equal(clock.pending, 0);
  });
});

describe('a guest\'s call, the guest\'s end (GuestCall)', () => {
  function call(): { clock: FakeClock; pc: FakePeer; states: CallState[]; sent: SignalData[]; c: GuestCall } {
    const clock = new FakeClock();
    const pc = new FakePeer();
    const states: CallState[] = [];
    const sent: SignalData[] = [];
    const c = new GuestCall({
      createPeer: () => pc as unknown as RTCPeerConnection,
      send: (s) => { sent.push(s); return true; },
      onReturn: () => undefined,
      onState: (s) => states.push(s),
      ...timers(clock),
    }, ICE, track);
    return { clock, pc, states, sent, c };
  }

  it('the show stops arriving for a second: "reconnecting" (the page stops saying on air), then "connected" when it flows again', async () => {
    const { clock, pc, states, sent, c } = call();
    await c.signal({ description: { type: 'offer', sdp: 'offer' } });
    assert.equal(sent[0]?.description?.type, 'answer');
    pc.ice('connected');
    await flow(clock, pc, 1000);
    assert.equal(c.state, 'connected');
    await clock.advance(STALL_MS + WATCH_EVERY_MS);
    assert.equal(c.state, 'reconnecting');
    assert.ok(!sent.some((s) => s.restart === true), 'a stall alone asks for no restart');
    await flow(clock, pc, 300);
    assert.equal(c.state, 'connected');
    assert.deepEqual(states, ['connected', 'reconnecting', 'connected']);
    c.close();
    assert.equal(c.state, 'closed');
    assert.equal(clock.pending, 0, 'closed: no timer left');
  });

  it('ICE disconnected for 2 s: asks the host for a restart; failed: asks at once', async () => {
    const { clock, pc, sent, c } = call();
    await c.signal({ description: { type: 'offer', sdp: 'offer' } });
    pc.ice('connected');
    await flow(clock, pc, 500);
    pc.ice('disconnected');
    assert.equal(c.state, 'reconnecting');
    await clock.advance(RESTART_ASK_MS - 100);
    assert.equal(sent.filter((s) => s.restart === true).length, 0);
    await clock.advance(200);
    assert.equal(sent.filter((s) => s.restart === true).length, 1);
    pc.ice('failed');
    assert.equal(sent.filter((s) => s.restart === true).length, 2);
    c.close();
  });
});

describe('the media watch', () => {
  it('no incoming audio yet is not a stall; a count that stops is, after STALL_MS; a stopped watch reads nothing more', async () => {
    const clock = new FakeClock();
    let n: number | undefined;
    let reads = 0;
    const changes: boolean[] = [];
    const w = new MediaWatch({ packets: async () => { reads++; return n; }, onChange: (s) => changes.push(s), ...timers(clock) });
    await clock.advance(5000);
    assert.deepEqual(changes, [], 'nothing to watch: no stall');
    n = 10;
    await clock.advance(WATCH_EVERY_MS);
    await clock.advance(STALL_MS + WATCH_EVERY_MS);
    assert.deepEqual(changes, [true]);
    n = 0; // a new connection
    await clock.advance(WATCH_EVERY_MS);
    assert.deepEqual(changes, [true, false]);
    w.stop();
    const before = reads;
    await clock.advance(5000);
    assert.equal(reads, before);
    assert.equal(clock.pending, 0);
  });
});
