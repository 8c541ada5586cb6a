// The parts of the broadcast core on their own, with a fake clock: the state machine's transition
// table (every pair), an impossible transition inside a broadcast, a rendition's Icecast
// connection losing Icecast, reconnecting with backoff and giving up, and the media pace bound.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Broadcast } from '../../server/broadcast/broadcast.js';
import { Lifecycle, TRANSITIONS, type LifecycleState } from '../../server/broadcast/lifecycle.js';
import { MEDIA_LEAD_MS, MediaPace } from '../../server/broadcast/media-pace.js';
import { FIRST_SYNC_WAIT_MS, RenditionOutput, type SourceConnection } from '../../server/broadcast/rendition-output.js';
import { IcewireError } from '../../server/errors.js';
import type { IcecastSourceOptions } from '../../server/icecast/icecast-source.js';
import { parseMime } from '../../server/pipeline/media-type.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRendition, FakeSink } from '../helpers/fake-broadcast-parts.js';
import { captureLogger } from '../helpers/log-capture.js';

const STATES: LifecycleState[] = ['connecting', 'live', 'reconnecting', 'ending', 'ended'];

/** Walk a fresh lifecycle to `state` along allowed moves. */
function at(state: LifecycleState): Lifecycle {
  const l = new Lifecycle();
  const path: Record<LifecycleState, [LifecycleState, 'stopped'?][]> = {
    connecting: [],
    live: [['live']],
    reconnecting: [['live'], ['reconnecting']],
    ending: [['ending', 'stopped']],
    ended: [['ending', 'stopped'], ['ended']],
  };
  for (const [s, reason] of path[state]) l.to(s, reason);
  return l;
}

describe('broadcast lifecycle: the transition table', () => {
  for (const from of STATES) {
    for (const to of STATES) {
      const allowed = TRANSITIONS[from].includes(to);
      it(`${from} -> ${to}: ${allowed ? 'allowed' : 'refused with IW_ERR_INTERNAL'}`, () => {
        const l = at(from);
        const reason = to === 'ending' ? 'stopped' as const : undefined;
        if (allowed) {
          assert.equal(l.to(to, reason), from);
          assert.equal(l.state, to);
        } else {
          assert.throws(() => l.to(to, reason), (e: IcewireError) => e.code === 'IW_ERR_INTERNAL' && e.detail!.includes(`${from} -> ${to}`));
          assert.equal(l.state, from, 'a refused move changes nothing');
        }
      });
    }
  }

  it('the table is what the design says: connecting -> live -> (reconnecting -> live)* -> ending -> ended', () => {
    assert.deepEqual(TRANSITIONS, {
      connecting: ['live', 'reconnecting', 'ending'],
      live: ['reconnecting', 'ending'],
      reconnecting: ['live', 'ending'],
      ending: ['ended'],
      ended: [],
    });
  });

  it('ending needs a reason, and only ending takes one; the reason is kept', () => {
    const l = new Lifecycle();
    assert.throws(() => l.to('ending'), (e: IcewireError) => e.code === 'IW_ERR_INTERNAL');
    assert.throws(() => l.to('live', 'stopped'), (e: IcewireError) => e.code === 'IW_ERR_INTERNAL');
    l.to('ending', 'icecast-lost');
    l.to('ended');
    assert.equal(l.reason, 'icecast-lost');
  });

  it('clients see ending as ended (the wire contract has no ending)', () => {
    assert.deepEqual(STATES.map((s) => at(s).wireState), ['connecting', 'live', 'reconnecting', 'ended', 'ended']);
    assert.deepEqual(STATES.map((s) => at(s).isOver), [false, false, false, true, true]);
  });

  it('an impossible transition inside a broadcast is logged as an internal error and ends it with reason internal', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger();
    let part: FakeRendition | undefined;
    const sink = new FakeSink();
    const b = new Broadcast(
      { id: 'live', renditions: [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }], ice: {}, sourceUser: 'source', sourcePassword: 'pw' },
      parseMime('audio/webm;codecs=opus')!, 'alice',
      {
        icecastUrl: 'http://127.0.0.1:9', icecastPublicUrl: 'http://127.0.0.1:9', legacySource: false, connectTimeoutMs: 1000, ffmpegPath: 'ffmpeg',
        stats: undefined, logger, reconnect: { giveUpMs: 1000, firstDelayMs: 100, maxDelayMs: 100 }, reconnectGraceMs: 1000,
        stallTimeoutMs: 1000, idleTimeoutMs: 10000, maxQueueBytes: 1 << 20, clock,
        createRendition: (plan, ctx) => (part = new FakeRendition(plan, ctx)),
      },
      sink,
    );
    const started = b.start();
    part!.accept();
    await started;
    // a bug that asks a live broadcast to go back to connecting
    (b as unknown as { move(next: LifecycleState): unknown }).move('connecting');
    await b.whenEnded();
    assert.equal(b.lifecycle.reason, 'internal');
    assert.equal(sink.closed?.err?.code, 'IW_ERR_INTERNAL');
    const line = lines().find((l) => l.message === 'impossible broadcast transition');
    assert.equal(line?.level, 'error');
    assert.match(String(line?.detail), /live -> connecting/);
  });
});

/** An Icecast source connection the test answers by hand. */
class FakeSource extends EventEmitter {
  readonly writes: Buffer[] = [];
  bufferedBytes = 0;
  ended = false;
  destroyed = false;
  private answer!: { ok: () => void; refuse: (e: IcewireError) => void };

  connect(): Promise<void> {
    return new Promise((ok, refuse) => { this.answer = { ok, refuse }; });
  }

  accept(): void {
    this.answer.ok();
  }

  refuse(err: IcewireError): void {
    this.answer.refuse(err);
  }

  write(chunk: Buffer): boolean {
    this.writes.push(chunk);
    return true;
  }

  async end(): Promise<void> {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** Icecast dropped the connection. */
  drop(): void {
    this.emit('lost', new IcewireError('IW_ERR_ICECAST_LOST', { detail: 'closed' }));
  }
}

describe('RenditionOutput: losing Icecast, reconnecting with backoff, giving up (fake clock)', () => {
  const POLICY = { giveUpMs: 5000, firstDelayMs: 250, maxDelayMs: 2000 };

  function output(opts: { liveAtSync?: boolean } = {}): { out: RenditionOutput; clock: FakeClock; sources: FakeSource[]; events: string[] } {
    const clock = new FakeClock();
    const sources: FakeSource[] = [];
    const events: string[] = [];
    const out = new RenditionOutput({
      source: { url: 'http://127.0.0.1:9', mount: '/live.ogg' } as IcecastSourceOptions,
      header: () => Buffer.from('HEADER'),
      ...opts,
      policy: POLICY,
      log: captureLogger().logger,
      clock,
      openSource: () => {
        const s = new FakeSource();
        sources.push(s);
        return s as unknown as SourceConnection;
      },
    });
    out.on('state', (s) => events.push(`state:${s}`));
    out.on('failed', (e) => events.push(`failed:${e.code}`));
    return { out, clock, sources, events };
  }

  async function live(o: ReturnType<typeof output>): Promise<void> {
    const started = o.out.start();
    o.sources[0]!.accept();
    await started;
  }

  it('lost: reconnecting, retries after 250, 500, 1000 ms…; back: live, the header resent, media from the next sync point', async () => {
    const o = output();
    await live(o);
    o.sources[0]!.drop();
    assert.equal(o.out.state, 'reconnecting');
    assert.equal(o.out.write({ data: Buffer.from('dropped'), syncPoint: true, header: false }), true, 'never blocks while away');
    await o.clock.advance(249);
    assert.equal(o.sources.length, 1);
    await o.clock.advance(1);
    assert.equal(o.sources.length, 2, 'first retry after 250 ms');
    o.sources[1]!.refuse(new IcewireError('IW_ERR_ICECAST_UNREACHABLE'));
    await o.clock.advance(499);
    assert.equal(o.sources.length, 2);
    await o.clock.advance(1);
    assert.equal(o.sources.length, 3, 'then 500 ms');
    o.sources[2]!.accept();
    await o.clock.advance(0);
    assert.equal(o.out.state, 'live');
    assert.deepEqual(o.sources[2]!.writes.map(String), ['HEADER']);
    o.out.write({ data: Buffer.from('mid-page'), syncPoint: false, header: false });
    o.out.write({ data: Buffer.from('page'), syncPoint: true, header: false });
    assert.deepEqual(o.sources[2]!.writes.map(String), ['HEADER', 'page'], 'resumes at a sync point');
    assert.equal(o.out.reconnects, 1);
    assert.deepEqual(o.events, ['state:live', 'state:reconnecting', 'state:live']);
  });

  it('liveAtSync (WebM): connected is not live; live once the first sync point is written, on start and after a restart', async () => {
    const o = output({ liveAtSync: true });
    let started = false;
    const starting = o.out.start().then(() => { started = true; });
    o.sources[0]!.accept();
    await o.clock.advance(0);
    assert.equal(o.out.state, 'connecting', 'Icecast accepted, but a listener joining now would be dropped');
    assert.equal(started, false, 'start() waits for the first Cluster');
    o.out.write({ data: Buffer.from('EBML'), syncPoint: false, header: true });
    o.out.write({ data: Buffer.from('Cluster1'), syncPoint: true, header: false });
    await starting;
    assert.equal(o.out.state, 'live');
    assert.deepEqual(o.sources[0]!.writes.map(String), ['EBML', 'Cluster1']);
    // an encoder restart: a new Icecast stream, live again only at its first Cluster
    const restarted = o.out.restartStream();
    await o.clock.advance(0);
    o.sources[1]!.accept();
    await restarted;
    assert.equal(o.out.state, 'reconnecting');
    o.out.write({ data: Buffer.from('block'), syncPoint: false, header: false });
    assert.equal(o.out.state, 'reconnecting');
    o.out.write({ data: Buffer.from('Cluster2'), syncPoint: true, header: false });
    assert.equal(o.out.state, 'live');
    assert.deepEqual(o.sources[1]!.writes.map(String), ['HEADER', 'Cluster2'], 'the header, then from the Cluster on');
    // lost while waiting for the first Cluster of a new connection: a reconnect like any other
    o.sources[1]!.drop();
    await o.clock.advance(250);
    o.sources[2]!.accept();
    await o.clock.advance(0);
    assert.equal(o.out.state, 'reconnecting', 'connected again, waiting for a Cluster');
    o.sources[2]!.drop();
    await o.clock.advance(250);
    assert.equal(o.sources.length, 4, 'the loss was not ignored');
    assert.deepEqual(o.events, ['state:live', 'state:reconnecting', 'state:live', 'state:reconnecting']);
  });

  it('liveAtSync: start() resolves after FIRST_SYNC_WAIT_MS without a sync point, still connecting', async () => {
    const o = output({ liveAtSync: true });
    const starting = o.out.start();
    o.sources[0]!.accept();
    await o.clock.advance(FIRST_SYNC_WAIT_MS);
    await starting;
    assert.equal(o.out.state, 'connecting');
    o.out.write({ data: Buffer.from('Cluster1'), syncPoint: true, header: false });
    assert.equal(o.out.state, 'live');
  });

  it('Icecast gone for good: gives up with IW_ERR_ICECAST_LOST once reconnectGiveUpMs would pass', async () => {
    const o = output();
    await live(o);
    o.sources[0]!.drop();
    // every attempt is refused the moment it is made (Icecast's port is closed)
    let answered = 1;
    for (let t = 0; t < 20000 && !o.events.some((e) => e.startsWith('failed')); t += 10) {
      await o.clock.advance(10);
      while (answered < o.sources.length) o.sources[answered++]!.refuse(new IcewireError('IW_ERR_ICECAST_UNREACHABLE'));
    }
    assert.deepEqual(o.events.filter((e) => e.startsWith('failed')), ['failed:IW_ERR_ICECAST_LOST']);
    // attempts at 250, 750, 1750, 3750 ms; the next would start after 5750 > 5000
    assert.equal(o.sources.length - 1, 4, `${o.sources.length - 1} reconnect attempts`);
  });

  it('a wrong password on reconnect is final: IW_ERR_ICECAST_AUTH at once', async () => {
    const o = output();
    await live(o);
    o.sources[0]!.drop();
    await o.clock.advance(250);
    o.sources[1]!.refuse(new IcewireError('IW_ERR_ICECAST_AUTH'));
    await o.clock.advance(0);
    assert.deepEqual(o.events.filter((e) => e.startsWith('failed')), ['failed:IW_ERR_ICECAST_AUTH']);
    await o.clock.advance(10000);
    assert.equal(o.sources.length, 2, 'no more attempts');
  });

  it('end() while reconnecting: no more attempts, state ended', async () => {
    const o = output();
    await live(o);
    o.sources[0]!.drop();
    await o.out.end();
    await o.clock.advance(10000);
    assert.equal(o.sources.length, 1);
    assert.equal(o.out.state, 'ended');
    assert.equal(o.clock.pending, 0);
  });
});

describe('MediaPace: audio claimed against the clock', () => {
  const SAMPLES_PER_S = 48000;
  // [what, steps: advance ms then take seconds of audio, expect each take's answer]
  const rows: { what: string; steps: [number, number, boolean][] }[] = [
    { what: 'real time is always fine', steps: Array.from({ length: 100 }, () => [1000, 1, true] as [number, number, boolean]) },
    { what: 'a burst of the whole lead at the start is fine, a packet more is not', steps: [[0, MEDIA_LEAD_MS / 1000, true], [0, 0.02, false]] },
    { what: 'time away earns the audio recorded meanwhile', steps: [[0, 5, true], [20000, 20, true], [0, MEDIA_LEAD_MS / 1000 - 5, true], [0, 1, false]] },
    { what: 'clock drift: 1 % of the elapsed time on top of the lead', steps: [[1000000, 1000 + MEDIA_LEAD_MS / 1000 + 9.9, true], [0, 0.2, false]] },
    { what: 'runaway input (120 ms packets as fast as they come) is refused after the lead', steps: [[0, 29.88, true], [0, 0.12, true], [0, 0.12, false]] },
  ];
  for (const r of rows) {
    it(r.what, () => {
      let now = 0;
      const pace = new MediaPace({ now: () => now });
      r.steps.forEach(([advance, seconds, want], i) => {
        now += advance;
        assert.equal(pace.take(Math.round(seconds * SAMPLES_PER_S)), want, `step ${i} at t=${now}`);
      });
    });
  }

  it('admit() throws IW_ERR_INGEST_TOO_FAST for a packet beyond the bound, and counts nothing for it', () => {
    const pace = new MediaPace({ now: () => 0 });
    const packet = Buffer.from([0xff, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // claims 120 ms
    let admitted = 0;
    assert.throws(() => { for (;;) { pace.admit(packet); admitted++; } }, (e: unknown) => e instanceof IcewireError && e.code === 'IW_ERR_INGEST_TOO_FAST');
    assert.equal(admitted, MEDIA_LEAD_MS / 120);
    assert.equal(pace.mediaMs, MEDIA_LEAD_MS);
  });
});
