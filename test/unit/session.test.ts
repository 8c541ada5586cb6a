// The page's broadcast session (www/src/session.ts) with a fake socket, recorder and clock:
// state transitions, upload health, resume after a drop, giving up, stop while reconnecting,
// a resume that lands on a daemon with a new broadcast, a busy mount retried.
import assert from 'node:assert/strict';
import {
  BroadcastSession, HEARTBEAT_GAP_MS, RESUME_GIVE_UP_MS, STOP_WHILE_AWAY_MS,
  type Clock, type EndInfo, type RecorderLike, type SavedShow, type SessionDeps, type SessionState,
} from '../../www/src/session.js';
import type { ChunkLike, SocketLike } from '../../www/src/webcast-client.js';

// ---- fakes ---------------------------------------------------------------------------------------

class FakeClock implements Clock {
  t = Date.parse('2026-11-21T14:00:10.000Z');
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void { this.timers.delete(h as number); }
  /** Move time on, firing due timers in order (and the promises they settle). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (due === undefined || e[1].at < due[1].at)) due = e;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

type Listener = (ev: never) => void;

class FakeSocket implements SocketLike {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = 'blob';
  readonly sent: (string | ArrayBuffer)[] = [];
  closedWith: number | undefined;
  private listeners = new Map<string, Listener[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  private emit(type: string, ev: unknown): void {
    for (const fn of this.listeners.get(type) ?? []) (fn as (e: unknown) => void)(ev);
  }
  send(data: string | ArrayBuffer): void { this.sent.push(data); }
  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 2;
  }
  // The daemon's side:
  open(): void { this.readyState = 1; this.emit('open', {}); }
  status(data: Record<string, unknown>): void { this.emit('message', { data: JSON.stringify({ type: 'status', data }) }); }
  error(code: string, message: string): void { this.emit('message', { data: JSON.stringify({ type: 'error', data: { code, message } }) }); }
  closed(code: number): void { this.readyState = 3; this.emit('close', { code, reason: '' }); }
  get hello(): Record<string, unknown> | undefined {
    const first = this.sent[0];
    return typeof first === 'string' ? (JSON.parse(first) as { data: Record<string, unknown> }).data : undefined;
  }
  get binaryFrames(): number { return this.sent.filter((x) => typeof x !== 'string').length; }
}

class FakeRecorder implements RecorderLike {
  state = 'inactive';
  private listeners = new Map<string, ((e: never) => void)[]>();
  addEventListener(type: string, fn: (e: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  start(): void { this.state = 'recording'; }
  stop(): void {
    if (this.state === 'inactive') return;
    this.chunk(10);
    this.state = 'inactive';
    for (const fn of this.listeners.get('stop') ?? []) (fn as () => void)();
  }
  chunk(bytes: number): void {
    const data: ChunkLike = { size: bytes, arrayBuffer: async () => new ArrayBuffer(bytes) };
    for (const fn of this.listeners.get('dataavailable') ?? []) (fn as (e: { data: ChunkLike }) => void)({ data });
  }
}

function rig(extra: Partial<SessionDeps> = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const recorders: FakeRecorder[] = [];
  const saved: (SavedShow | undefined)[] = [];
  let changes = 0;
  const deps: SessionDeps = {
    openSocket: (url) => { const s = new FakeSocket(url); sockets.push(s); return s; },
    createRecorder: () => { const r = new FakeRecorder(); recorders.push(r); return r; },
    clock,
    bytesPerSecond: 16_000,
    timesliceMs: 250,
    onChange: () => { changes++; },
    persist: (s) => { saved.push(s); },
    loginToken: 'login-token',
    ...extra,
  };
  return { clock, sockets, recorders, saved, deps, changes: () => changes };
}

const SINCE = '2026-11-21T14:00:00.000Z';

/** The end of an ended session (fails if it is not over). */
function endOf(s: BroadcastSession): { end: EndInfo } {
  const st: SessionState = s.state;
  assert.equal(st.kind, 'ended');
  return st as { kind: 'ended'; end: EndInfo };
}
const HELLO = { mime: 'audio/webm;codecs=opus', user: 'alice', password: 'pw' };
const live = (extra: Record<string, unknown> = {}) => ({ state: 'live', since: SINCE, listeners: 2, resume: 'tok1', renditions: [{ mount: '/live.ogg', format: 'ogg-opus', state: 'live' }], ...extra });

async function goneLive() {
  const r = rig();
  const s = BroadcastSession.start(r.deps, { url: 'ws://x/ws/live', hello: HELLO, video: false });
  const sock = r.sockets[0]!;
  sock.open();
  sock.status({ state: 'connecting' });
  sock.status(live());
  await flush();
  return { ...r, s, sock };
}

// ---- tests ---------------------------------------------------------------------------------------

describe('page session (www/src/session.ts)', () => {
  it('connecting -> live: hello first, then the recording starts when the socket opens', async () => {
    const r = rig();
    const s = BroadcastSession.start(r.deps, { url: 'ws://x/ws/live', hello: HELLO, video: false });
    assert.equal(s.state.kind, 'connecting');
    const sock = r.sockets[0]!;
    assert.equal(r.recorders[0]!.state, 'inactive', 'made before connecting, started on open');
    sock.open();
    assert.deepEqual(sock.hello, HELLO);
    assert.equal(r.recorders[0]!.state, 'recording');
    r.recorders[0]!.chunk(1000);
    await flush();
    assert.equal(sock.binaryFrames, 1);
    sock.status({ state: 'connecting' });
    assert.equal(s.state.kind, 'connecting');
    sock.status(live());
    assert.equal(s.state.kind, 'live');
    const snap = s.snapshot();
    assert.equal(snap.since, SINCE);
    assert.equal(snap.listeners, 2);
    assert.equal(snap.audience, 'all');
    assert.equal(snap.canSendMetadata, true);
    assert.equal(s.sendMetadata('Song', 'Band'), true);
    assert.match(String(sock.sent.at(-1)), /"type":"metadata".*"title":"Song"/);
  });

  it('keeps what a reload needs, never the password', async () => {
    const { saved } = await goneLive();
    const last = saved.at(-1)!;
    assert.equal(last.resume, 'tok1');
    assert.equal(last.since, SINCE);
    assert.equal(last.hello.password, '');
    assert.equal(last.hello.token, 'login-token');
    assert.ok(!JSON.stringify(saved).includes('"pw"'), 'no password saved');
  });

  it('upload health: good, slow, stalled from the backlog; held while Icecast is reconnecting', async () => {
    const { s, sock, clock } = await goneLive();
    await clock.advance(600);
    assert.equal(s.snapshot().health, 'good');
    sock.bufferedAmount = 16_000 * 3;
    await clock.advance(500);
    assert.equal(s.snapshot().health, 'slow');
    assert.equal(Math.round(s.snapshot().behindS), 3);
    sock.bufferedAmount = 16_000 * 20;
    await clock.advance(500);
    assert.equal(s.snapshot().health, 'stalled');
    sock.bufferedAmount = 0;
    await clock.advance(500);
    assert.equal(s.snapshot().health, 'good');
    // The daemon lost Icecast: the upload is fine, but listeners don't hear the show.
    sock.status(live({ state: 'reconnecting', renditions: [{ mount: '/live.ogg', format: 'ogg-opus', state: 'reconnecting' }] }));
    assert.equal(s.state.kind, 'live');
    assert.equal(s.snapshot().audience, 'none');
    assert.equal(s.snapshot().health, 'held');
    // One rendition of two held: some listeners.
    sock.status(live({ renditions: [{ mount: '/live.ogg', state: 'live' }, { mount: '/live.mp3', state: 'reconnecting' }] }));
    assert.equal(s.snapshot().audience, 'some');
    assert.deepEqual(s.snapshot().heldMounts, ['/live.mp3']);
    sock.status(live());
    assert.equal(s.snapshot().audience, 'all');
    assert.equal(s.snapshot().health, 'good');
  });

  it('a drop (1006) while live: away, resume with the token and a new recording; same broadcast', async () => {
    const { s, sock, sockets, recorders, clock } = await goneLive();
    recorders[0]!.chunk(5000);
    await flush();
    sock.closed(1006);
    assert.equal(s.state.kind, 'away');
    assert.equal(s.snapshot().health, 'stalled');
    assert.equal(recorders[0]!.state, 'inactive', 'the old recording is thrown away');
    await clock.advance(499);
    assert.equal(sockets.length, 1, 'first attempt after 0.5 s');
    await clock.advance(1);
    const second = sockets[1]!;
    second.open();
    assert.equal(second.hello?.['resume'], 'tok1');
    assert.equal(second.hello?.['password'], 'pw');
    assert.equal(recorders.length, 1, 'no recording before the daemon answers');
    second.status(live({ resume: 'tok2' }));
    assert.equal(s.state.kind, 'live');
    assert.equal(recorders.length, 2, 'a new recording on the new connection');
    assert.equal(recorders[1]!.state, 'recording');
    assert.equal(s.snapshot().continuedAsNew, false);
    recorders[1]!.chunk(100);
    await flush();
    assert.equal(second.binaryFrames, 1);
    assert.equal(sock.binaryFrames, 1, 'nothing more on the old socket');
  });

  it('heartbeat gap: no status for 5 s while the socket looks open -> away, the old socket closed with 4000', async () => {
    const { s, sock, clock } = await goneLive();
    await clock.advance(HEARTBEAT_GAP_MS + 600);
    assert.equal(s.state.kind, 'away');
    assert.equal(sock.closedWith, 4000, 'not 1000, which would end the broadcast');
  });

  it('resume backoff 0.5, 1, 2, then 3 s; gives up after 30 s with a sentence', async () => {
    const { s, sock, sockets, clock } = await goneLive();
    sock.closed(1006);
    const startedAt = clock.now();
    const at: number[] = [];
    while (s.state.kind === 'away' && clock.now() - startedAt < 40_000) {
      const n = sockets.length;
      await clock.advance(100);
      if (sockets.length > n) {
        at.push(clock.now() - startedAt);
        sockets.at(-1)!.closed(1006); // refused
      }
    }
    assert.deepEqual(at.slice(0, 4), [500, 1500, 3500, 6500]);
    const st = endOf(s);
    assert.equal(st.end.reason, 'connection-lost');
    assert.match(st.end.sentence ?? '', /could not be restored/);
    assert.ok(clock.now() - startedAt >= RESUME_GIVE_UP_MS && clock.now() - startedAt <= RESUME_GIVE_UP_MS + 200);
    const n = sockets.length;
    await clock.advance(10_000);
    assert.equal(sockets.length, n, 'no attempts after giving up');
  });

  it('stop while away, daemon reachable: resume without media, close with 1000 at the first status', async () => {
    const { s, sock, sockets, clock } = await goneLive();
    sock.closed(1006);
    const stopping = s.stop();
    assert.equal(s.state.kind, 'stopping');
    const sock2 = sockets[1]!;
    assert.equal(sock2.hello, undefined, 'not open yet');
    sock2.open();
    assert.equal(sock2.hello?.['resume'], 'tok1');
    sock2.status(live());
    await flush();
    assert.equal(sock2.closedWith, 1000);
    sock2.closed(1000);
    await stopping;
    assert.equal(sock2.binaryFrames, 0, 'no media');
    const st = endOf(s);
    assert.equal(st.end.reason, 'stopped');
    assert.equal(st.end.sentence, undefined);
  });

  it('stop while away, daemon unreachable: ends after at most 3 s, no more attempts', async () => {
    const { s, sock, sockets, clock } = await goneLive();
    sock.closed(1006);
    const stopping = s.stop();
    await clock.advance(STOP_WHILE_AWAY_MS + 100);
    await stopping;
    assert.equal(s.state.kind, 'ended');
    const n = sockets.length;
    await clock.advance(10_000);
    assert.equal(sockets.length, n);
  });

  it('normal stop: the recorder is flushed, the socket closed with 1000; a summary of the show', async () => {
    const { s, sock, recorders, clock } = await goneLive();
    await clock.advance(1000);
    recorders[0]!.chunk(2000);
    const stopping = s.stop();
    await flush();
    assert.equal(sock.closedWith, 1000);
    sock.status({ state: 'ended', reason: 'stopped', listeners: 5, since: SINCE });
    sock.closed(1000);
    await stopping;
    const st = endOf(s);
    assert.equal(st.end.reason, 'stopped');
    assert.equal(st.end.words, 'you pressed Stop');
    assert.equal(st.end.peakListeners, 5);
    assert.ok(st.end.wentLive);
    assert.equal(st.end.durationMs, clock.now() - Date.parse(SINCE));
    assert.equal(s.snapshot().health, 'idle');
  });

  it('a refusal (error frame + 4401) ends with the daemon\'s sentence and is never resumed', async () => {
    const r = rig();
    const s = BroadcastSession.start(r.deps, { url: 'ws://x/ws/live', hello: HELLO, video: false });
    const sock = r.sockets[0]!;
    sock.open();
    sock.error('IW_ERR_AUTH_FAILED', 'Wrong name or password.');
    sock.closed(4401);
    const st = endOf(s);
    assert.equal(st.end.sentence, 'Wrong name or password.');
    assert.equal(st.end.wentLive, false);
    await r.clock.advance(5000);
    assert.equal(r.sockets.length, 1);
  });

  it('taken over by another tab (IW_ERR_RESUMED_ELSEWHERE, 4409): ends, does not resume', async () => {
    const { s, sock, sockets, clock } = await goneLive();
    sock.error('IW_ERR_RESUMED_ELSEWHERE', 'Your broadcast continues in another tab or device.');
    sock.closed(4409);
    assert.equal(s.state.kind, 'ended');
    await clock.advance(5000);
    assert.equal(sockets.length, 1);
  });

  it('reload: resumes at once from the saved show; the daemon lost it -> a new broadcast, said plainly', async () => {
    const r = rig();
    const saved: SavedShow = { url: 'ws://x/ws/live', hello: { mime: 'audio/webm;codecs=opus', user: 'alice', password: '', token: 'login-token' }, video: false, resume: 'tok1', since: SINCE, savedAt: r.clock.now() };
    const s = BroadcastSession.resume(r.deps, saved);
    assert.equal(s.state.kind, 'away');
    const sock = r.sockets[0]!;
    sock.open();
    assert.equal(sock.hello?.['resume'], 'tok1');
    assert.equal(sock.hello?.['token'], 'login-token');
    // Another daemon took over after a crash: no such broadcast, so it starts a new one.
    sock.status({ state: 'connecting' });
    assert.equal(s.state.kind, 'connecting');
    assert.equal(s.snapshot().continuedAsNew, true);
    assert.equal(r.recorders.length, 1, 'recording for the new broadcast');
    sock.status(live({ since: '2026-11-21T14:05:00.000Z', resume: 'tok9' }));
    assert.equal((s.state as SessionState).kind, 'live');
    assert.equal(r.saved.at(-1)!.resume, 'tok9');
  });

  it('a drop after a long show lands on a daemon without it: the new broadcast gets its own time to go live', async () => {
    const { s, sock, sockets, clock } = await goneLive();
    for (let i = 0; i < 20; i++) { // on air for 40 s, well past CONNECT_MAX_MS
      await clock.advance(2000);
      sock.status(live());
    }
    assert.equal((s.state as SessionState).kind, 'live');
    sock.closed(1006);
    await clock.advance(500);
    const other = sockets[1]!;
    other.open();
    other.status({ state: 'connecting' });
    assert.equal((s.state as SessionState).kind, 'connecting');
    // The other daemon's new broadcast takes a few seconds to reach Icecast, saying so every 2 s.
    for (let i = 0; i < 4; i++) {
      await clock.advance(2000);
      other.status({ state: 'connecting' });
      assert.equal((s.state as SessionState).kind, 'connecting', `still connecting after ${(i + 1) * 2} s, not given up`);
    }
    assert.equal(other.closedWith, undefined);
    other.status(live({ since: '2026-11-21T14:01:00.000Z', resume: 'tok9' }));
    assert.equal((s.state as SessionState).kind, 'live');
    assert.equal(s.snapshot().continuedAsNew, true);
  });

  it('reload onto a daemon whose mount Icecast still holds (4409 mount in use): retried until it frees', async () => {
    const r = rig();
    const saved: SavedShow = { url: 'ws://x/ws/live', hello: { mime: 'audio/webm;codecs=opus', user: 'alice', password: '', token: 't' }, video: false, resume: 'tok1', since: SINCE, savedAt: r.clock.now() };
    const s = BroadcastSession.resume(r.deps, saved);
    for (let i = 0; i < 3; i++) {
      const sock = r.sockets.at(-1)!;
      sock.open();
      sock.error('IW_ERR_ICECAST_MOUNT_IN_USE', 'Icecast says the mount is in use.');
      sock.closed(4409);
      assert.equal(s.state.kind, 'away', `still trying after refusal ${i + 1}`);
      await r.clock.advance(3000);
    }
    const sock = r.sockets.at(-1)!;
    sock.open();
    sock.status(live({ since: '2026-11-21T14:05:00.000Z' }));
    assert.equal(s.state.kind, 'live');
    assert.equal(s.snapshot().continuedAsNew, true);
  });

  it('connecting with no answer: gives up after 10 s of silence with a sentence', async () => {
    const r = rig();
    const s = BroadcastSession.start(r.deps, { url: 'ws://x/ws/live', hello: HELLO, video: false });
    r.sockets[0]!.open();
    await r.clock.advance(10_600);
    assert.equal(r.sockets[0]!.closedWith, 1000);
    r.sockets[0]!.closed(1000);
    const st = endOf(s);
    assert.equal(st.end.reason, 'server-silent');
  });
});
