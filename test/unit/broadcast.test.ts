// A broadcast's whole life with fake renditions and a fake clock, in milliseconds: every transition
// of the state machine, grace expiry, resume, Icecast loss and give-up, stop while reconnecting,
// the idle and stall watchdogs, silence for gaps and "now playing". No process, no socket.
import assert from 'node:assert/strict';
import { Broadcast, type BroadcastDeps, type EndReason } from '../../server/broadcast/broadcast.js';
import { MEDIA_LEAD_MS } from '../../server/broadcast/media-pace.js';
import type { StationPlan } from '../../server/broadcast/station-plan.js';
import { IcewireError, type ErrorCode } from '../../server/errors.js';
import { parseMime, type InputMedia } from '../../server/pipeline/media-type.js';
import type { RenditionPlan } from '../../server/pipeline/rendition-kinds.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeRendition, FakeSink, OggUpload } from '../helpers/fake-broadcast-parts.js';
import { captureLogger, type LogLine } from '../helpers/log-capture.js';
import { oggPages, packetsEnding } from '../helpers/ogg-pages.js';
import { FIRST_AUDIO_SPLIT_MS, type ShowRecorder } from '../../server/broadcast/ogg-fanout.js';
import { createMetrics, type Metrics } from '../../server/metrics.js';

const OGG = parseMime('audio/ogg;codecs=opus')!;
const GRACE_MS = 8000;
const IDLE_MS = 15000;
const STALL_MS = 15000;

interface Rig {
  readonly b: Broadcast;
  readonly clock: FakeClock;
  readonly sink: FakeSink;
  /** By mount. */
  readonly parts: Map<string, FakeRendition>;
  readonly titles: { mount: string; title: string }[];
  readonly upload: OggUpload;
  lines(): LogLine[];
  /** Every rendition accepts: the broadcast is live. */
  goLive(): Promise<void>;
  part(mount?: string): FakeRendition;
}

function rig(opts: { renditions?: RenditionPlan[]; input?: InputMedia; sink?: FakeSink | null; titleOk?: () => boolean; metrics?: Metrics; recorder?: ShowRecorder } = {}): Rig {
  const clock = new FakeClock();
  const { logger, lines } = captureLogger();
  const parts = new Map<string, FakeRendition>();
  const titles: { mount: string; title: string }[] = [];
  const deps: BroadcastDeps = {
    icecastUrl: 'http://127.0.0.1:9', icecastPublicUrl: 'https://radio.example.org/', legacySource: false, connectTimeoutMs: 5000,
    ffmpegPath: 'ffmpeg', stats: { listeners: (m) => (m === '/live.ogg' ? 3 : 0) }, logger,
    reconnect: { giveUpMs: 30000, firstDelayMs: 250, maxDelayMs: 2000 },
    reconnectGraceMs: GRACE_MS, stallTimeoutMs: STALL_MS, idleTimeoutMs: IDLE_MS, maxQueueBytes: 1 << 20, clock, metrics: opts.metrics,
    ...(opts.recorder !== undefined ? { createRecorder: () => opts.recorder! } : {}),
    createRendition: (plan, ctx) => {
      const r = new FakeRendition(plan, ctx);
      parts.set(plan.mount, r);
      return r;
    },
    updateTitle: async (o) => {
      titles.push({ mount: o.mount, title: o.title });
      return opts.titleOk?.() ?? true;
    },
  };
  const plan: StationPlan = {
    id: 'live', renditions: opts.renditions ?? [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }],
    ice: { name: 'Test Radio' }, sourceUser: 'source', sourcePassword: 'hackme',
  };
  const sink = opts.sink === null ? undefined : (opts.sink ?? new FakeSink());
  const b = new Broadcast(plan, opts.input ?? OGG, 'alice', deps, sink);
  return {
    b, clock, sink: sink ?? new FakeSink(), parts, titles, upload: new OggUpload(), lines,
    async goLive() {
      const started = b.start();
      for (const p of parts.values()) p.accept();
      await started;
    },
    part(mount = '/live.ogg') {
      return parts.get(mount)!;
    },
  };
}

/** A broadcast that went live (every rendition accepted). */
async function onAir(opts: Parameters<typeof rig>[0] = {}): Promise<Rig> {
  const r = rig(opts);
  await r.goLive();
  return r;
}

/** The broadcast ends with `reason`, and its page is told `code`. */
async function ended(r: Rig, reason: EndReason, code: ErrorCode): Promise<void> {
  await r.b.whenEnded();
  assert.equal(r.b.lifecycle.reason, reason);
  assert.equal(r.sink.closed?.err?.code, code);
}

/** Send the upload's header and `seconds` of audio at once. */
function stream(r: Rig, seconds: number): void {
  r.b.write(r.upload.header());
  r.b.write(r.upload.audio(seconds * 50));
}

describe('Broadcast (fake renditions, fake clock)', () => {
  describe('connecting -> live', () => {
    it('goes live when Icecast accepted every rendition, with since, a resume token and the renditions', async () => {
      const r = rig({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }, { mount: '/live.mp3', format: 'mp3', bitrate: undefined }] });
      const started = r.b.start();
      assert.equal(r.b.lifecycle.state, 'connecting');
      assert.equal(r.sink.last?.state, 'connecting');
      r.part('/live.ogg').accept();
      await r.clock.advance(0);
      assert.equal(r.b.lifecycle.state, 'connecting', 'still waiting for /live.mp3');
      r.part('/live.mp3').accept();
      await started;
      assert.equal(r.b.lifecycle.state, 'live');
      const s = r.sink.last!;
      assert.equal(s.state, 'live');
      assert.equal(s.since, new Date(r.clock.now()).toISOString());
      assert.equal(s.resume, r.b.resumeToken);
      assert.equal(s.listeners, 3);
      assert.deepEqual(s.renditions.map((x) => [x.mount, x.format, x.contentType, x.url, x.state]), [
        ['/live.ogg', 'ogg-opus', 'audio/ogg', 'https://radio.example.org/live.ogg', 'live'],
        ['/live.mp3', 'mp3', 'audio/mpeg', 'https://radio.example.org/live.mp3', 'live'],
      ]);
      assert.deepEqual(r.sink.states, ['connecting', 'live']);
    });

    it('a refusal at the start ends it at once (connecting -> ending -> ended) with the catalogue\'s reason', async () => {
      const r = rig();
      const started = r.b.start();
      r.part().refuse(new IcewireError('IW_ERR_ICECAST_AUTH'));
      await assert.rejects(started, (e: IcewireError) => e.code === 'IW_ERR_ICECAST_AUTH');
      await r.b.whenEnded();
      assert.equal(r.b.lifecycle.state, 'ended');
      assert.equal(r.b.lifecycle.reason, 'icecast-auth');
      assert.equal(r.sink.last?.state, 'ended');
      assert.equal(r.sink.last?.reason, 'icecast-auth');
      assert.equal(r.sink.last?.resume, undefined, 'no resume token once it is over');
      assert.equal(r.sink.closed?.err?.code, 'IW_ERR_ICECAST_AUTH');
      assert.equal(r.b.since, undefined);
    });

    it('connecting -> reconnecting when the broadcaster dropped while Icecast was still answering; back -> live', async () => {
      const r = rig();
      const started = r.b.start();
      r.b.detach(r.sink);
      r.part().accept();
      await started;
      assert.equal(r.b.lifecycle.state, 'reconnecting');
      const back = new FakeSink();
      r.b.attach(back, OGG);
      assert.equal(r.b.lifecycle.state, 'live');
      assert.equal(back.last?.state, 'live');
    });
  });

  describe('the broadcaster drops', () => {
    it('live -> reconnecting, silence fills the stream, and after the grace period -> ended(connection-lost)', async () => {
      const r = await onAir();
      stream(r, 2);
      const before = r.part().bytesWritten;
      r.b.detach(r.sink);
      assert.equal(r.b.lifecycle.state, 'reconnecting');
      assert.equal(r.b.status().state, 'reconnecting', '/api/status shows it (the dropped page gets no frames)');
      await r.clock.advance(GRACE_MS - 1);
      assert.equal(r.b.lifecycle.state, 'reconnecting', 'kept for the whole grace period');
      assert.ok(r.part().bytesWritten > before, 'silence pages keep the Icecast source fed');
      await r.clock.advance(1);
      await r.b.whenEnded();
      assert.equal(r.b.lifecycle.state, 'ended');
      assert.equal(r.b.lifecycle.reason, 'connection-lost');
      assert.ok(Buffer.isBuffer(r.part().finishedWith), 'the stream got its end-of-stream page');
      assert.equal(r.clock.pending, 0, 'no timer left');
    });

    it('resume within the grace period: reconnecting -> live, the same broadcast, grace cancelled', async () => {
      const r = await onAir();
      stream(r, 1);
      const since = r.sink.last!.since;
      r.b.detach(r.sink);
      await r.clock.advance(3000);
      assert.equal(r.b.canResume(r.b.resumeToken, 'alice', 'hackme', OGG), true);
      assert.equal(r.b.canResume('wrong', 'alice', 'hackme', OGG), false);
      assert.equal(r.b.canResume(r.b.resumeToken, 'bob', 'hackme', OGG), false);
      assert.equal(r.b.canResume(r.b.resumeToken, 'alice', 'other', OGG), false);
      assert.equal(r.b.canResume(r.b.resumeToken, 'alice', 'hackme', parseMime('video/webm;codecs=vp8,opus')!), false, 'audio stays audio');
      const back = new FakeSink();
      r.b.attach(back, OGG);
      assert.equal(r.b.lifecycle.state, 'live');
      assert.equal(back.last?.since, since, 'the same broadcast continues');
      assert.equal(r.b.resumes, 1);
      assert.equal(r.part().newStreams, 1);
      // the new connection's stream continues the same Ogg stream
      const upload = new OggUpload();
      r.b.write(upload.header());
      r.b.write(upload.audio(50));
      await r.clock.advance(GRACE_MS); // past the moment the grace period would have run out
      assert.equal(r.b.lifecycle.state, 'live', 'the grace timer was cancelled');
      assert.ok(r.lines().some((l) => l.message === 'broadcaster is back; the broadcast continues' && l.awayMs === 3000));
    });

    it('a second connection taking over a still-open one: the old one is told IW_ERR_RESUMED_ELSEWHERE', async () => {
      const r = await onAir();
      const other = new FakeSink();
      r.b.attach(other, OGG);
      assert.equal(r.sink.closed?.err?.code, 'IW_ERR_RESUMED_ELSEWHERE');
      assert.equal(r.b.isAttached(other), true);
      assert.equal(r.b.isAttached(r.sink), false);
      r.b.detach(r.sink); // a late close of the old socket changes nothing
      assert.equal(r.b.lifecycle.state, 'live');
    });

    it('stop while reconnecting: -> ending -> ended(stopped) at once, no connection-lost later', async () => {
      const r = await onAir();
      stream(r, 1);
      r.b.detach(r.sink);
      await r.clock.advance(1000);
      const back = new FakeSink();
      r.b.attach(back, OGG);
      await r.b.end('stopped');
      assert.equal(r.b.lifecycle.state, 'ended');
      assert.equal(r.b.lifecycle.reason, 'stopped');
      assert.equal(back.last?.state, 'ended');
      assert.equal(back.closed?.err, undefined, 'a normal close');
      await r.clock.advance(GRACE_MS * 2);
      assert.ok(!r.lines().some((l) => l.reason === 'connection-lost'));
    });

    it('stop while away: end() during the grace period ends it with that reason and cancels the grace timer', async () => {
      const r = await onAir();
      r.b.detach(r.sink);
      await r.b.end('shutdown', new IcewireError('IW_ERR_SHUTTING_DOWN'));
      assert.equal(r.b.lifecycle.reason, 'shutdown');
      assert.equal(r.clock.pending, 0);
    });
  });

  describe('Icecast comes and goes', () => {
    it('a rendition reconnecting: live -> reconnecting -> live, and the title is sent again to the new source', async () => {
      const r = await onAir({ renditions: [{ mount: '/live.mp3', format: 'mp3', bitrate: undefined }] });
      r.b.setMetadata({ title: 'Song', artist: 'Band' });
      await r.clock.advance(0);
      assert.deepEqual(r.titles, [{ mount: '/live.mp3', title: 'Band - Song' }]);
      r.part('/live.mp3').lose();
      assert.equal(r.b.lifecycle.state, 'reconnecting');
      assert.equal(r.sink.last?.renditions[0]?.state, 'reconnecting');
      r.part('/live.mp3').restore();
      await r.clock.advance(0);
      assert.equal(r.b.lifecycle.state, 'live');
      assert.deepEqual(r.sink.states, ['connecting', 'live', 'reconnecting', 'live']);
      assert.equal(r.titles.length, 2, 'a new Icecast source starts without a title');
      assert.ok(r.lines().some((l) => l.message === 'broadcast is reconnecting'));
      assert.ok(r.lines().some((l) => l.message === 'broadcast is live again'));
    });

    it('Icecast gone for good: the output gives up -> ended(icecast-lost), the broadcaster told IW_ERR_ICECAST_LOST', async () => {
      const r = await onAir();
      r.part().lose();
      r.part().fail(new IcewireError('IW_ERR_ICECAST_LOST', { detail: 'gave up after 9 attempts' }));
      await ended(r, 'icecast-lost', 'IW_ERR_ICECAST_LOST');
      const failed = r.lines().find((l) => l.message === 'broadcast failed')!;
      assert.equal(failed.code, 'IW_ERR_ICECAST_LOST');
      assert.equal(failed.level, 'warn');
    });

    it('broadcaster away and Icecast reconnecting at once: live only when both are back', async () => {
      const r = await onAir();
      r.b.detach(r.sink);
      r.part().lose();
      const back = new FakeSink();
      r.b.attach(back, OGG);
      assert.equal(r.b.lifecycle.state, 'reconnecting', 'Icecast is still away');
      r.part().restore();
      assert.equal(r.b.lifecycle.state, 'live');
    });
  });

  describe('watchdogs', () => {
    it('no media from an attached broadcaster: silence after 2.5 s, then ended(idle-timeout)', async () => {
      const r = await onAir();
      stream(r, 1);
      await r.clock.advance(FIRST_AUDIO_SPLIT_MS); // the first audio's second page
      const before = r.part().bytesWritten;
      await r.clock.advance(2000);
      assert.equal(r.part().bytesWritten, before);
      await r.clock.advance(1000);
      assert.ok(r.lines().some((l) => l.message === 'no media from the broadcaster; filling with silence'));
      assert.ok(r.part().bytesWritten > before, 'silence fills the gap');
      await r.clock.advance(IDLE_MS);
      await ended(r, 'idle-timeout', 'IW_ERR_INGEST_IDLE');
    });

    it('live with no media yet (the page has not sent its first chunk): no fill starts, so nothing flows "again" at the first chunk', async () => {
      const r = await onAir();
      await r.clock.advance(10000);
      assert.ok(!r.lines().some((l) => /filling with silence/.test(l.message)), 'there is no stream to fill yet');
      stream(r, 1);
      assert.ok(!r.lines().some((l) => /flows again/.test(l.message)));
      assert.ok(r.part().bytesWritten > 0);
      // from its first media on, a gap is filled as before
      await r.clock.advance(3500);
      assert.ok(r.lines().some((l) => /filling with silence/.test(l.message)));
    });

    it('a stalled upload that flows again: the late audio the silence stood in for is dropped', async () => {
      const r = await onAir();
      stream(r, 1);
      await r.clock.advance(4000); // silence since t=0 (the last media), written from t≈2.5 s
      const packetsBefore = countPackets(r.part());
      r.b.write(r.upload.audio(250)); // 5 s of audio that was held up
      const heard = countPackets(r.part()) - packetsBefore;
      // ~4 s of it stood in for by silence: only the last ~1 s is heard
      assert.ok(heard >= 40 && heard <= 60, `${heard} of 250 late packets heard`);
      assert.ok(r.lines().some((l) => l.message === 'the broadcaster\'s stream flows again'));
      // the broadcaster is told how much was dropped (shedMs), in the next frames
      assert.ok(r.b.shedMs >= 3500 && r.b.shedMs <= 4200, `shedMs ${r.b.shedMs}`);
      await r.clock.advance(3000);
      assert.equal(r.sink.last?.shedMs, Math.round(r.b.shedMs));
    });

    describe('the daemon itself stalls (its event loop did not run): not the broadcaster\'s silence', () => {
      const STALL_LOG = /the daemon did not run for a while/;

      /** `seconds` of audio written in real time, a quarter second at a time. */
      async function realTime(r: Rig, seconds: number): Promise<void> {
        for (let i = 0; i < seconds * 4; i++) {
          await r.clock.advance(250);
          r.b.write(r.upload.audio(12 + (i % 2))); // 12.5 packets of 20 ms per 250 ms
        }
      }

      async function skipped(m: Metrics, why: string): Promise<number> {
        const v = (await m.silenceSkipped.get()).values.find((x) => x.labels.why === why && x.labels.station === 'live');
        return v?.value ?? 0;
      }

      it('a gap timer that fires a period late fills nothing: the audio read after it is all heard; counted, logged once per episode', async () => {
        const metrics = createMetrics();
        const r = await onAir({ metrics });
        stream(r, 1);
        await realTime(r, 2);
        const before = uploadPackets(r.part());
        await r.clock.stall(3000); // the timers fire 3 s late, before the socket is read
        r.b.write(r.upload.audio(150)); // the 3 s that waited in the socket
        await realTime(r, 2);
        assert.equal(silencePackets(r.part()), 0, 'no silence written');
        assert.equal(uploadPackets(r.part()) - before, 150 + 100, 'every packet heard, none dropped as late');
        assert.equal(r.b.shedMs, 0);
        assert.ok(!r.lines().some((l) => /filling with silence/.test(l.message)));
        assert.equal(await skipped(metrics, 'daemon-stall'), 1);
        // a second stall soon after is the same episode: counted, not logged again
        await r.clock.stall(2800);
        r.b.write(r.upload.audio(140));
        await realTime(r, 1);
        assert.equal(silencePackets(r.part()), 0);
        assert.equal(await skipped(metrics, 'daemon-stall'), 2);
        assert.equal(r.lines().filter((l) => STALL_LOG.test(l.message)).length, 1, 'logged once per episode');
        // the broadcaster really stops: the next tick on time fills
        await r.clock.advance(4000);
        assert.ok(silencePackets(r.part()) > 0, 'a real gap is still filled');
        assert.ok(r.lines().some((l) => /filling with silence/.test(l.message)));
      });

      it('media that comes right after the gap timer, in the same turn: no silence', async () => {
        const metrics = createMetrics();
        const r = await onAir({ metrics });
        stream(r, 1);
        await r.clock.advance(FIRST_AUDIO_SPLIT_MS);
        const before = uploadPackets(r.part());
        // the status tick at 3 s finds 3 s without media; the socket's frames are read right after it
        r.clock.after(3000 - FIRST_AUDIO_SPLIT_MS, () => r.b.write(r.upload.audio(100)));
        await r.clock.advance(3000 - FIRST_AUDIO_SPLIT_MS);
        await realTime(r, 1);
        assert.equal(silencePackets(r.part()), 0, 'no silence written');
        assert.equal(uploadPackets(r.part()) - before, 100 + 50, 'every packet heard');
        assert.equal(await skipped(metrics, 'media-arrived'), 1);
        assert.ok(!r.lines().some((l) => /filling with silence/.test(l.message)));
      });

      it('a stall while silence fills an upload\'s gap: exactly as much late audio is dropped as silence was written', async () => {
        const r = await onAir();
        stream(r, 1);
        await r.clock.advance(4000); // the upload stalled: silence since t=0, written up to t=4 s
        const silenceMs = silencePackets(r.part()) * 20;
        assert.equal(silenceMs, 4000);
        await r.clock.stall(3000); // the silence tick comes 3 s late: the audio of that time may be in the socket
        assert.equal(silencePackets(r.part()) * 20, silenceMs, 'no silence for the stall');
        const before = uploadPackets(r.part());
        r.b.write(r.upload.audio(350)); // 7 s of held-up audio
        assert.equal(uploadPackets(r.part()) - before, 350 - silenceMs / 20, 'what the silence stood in for is dropped, the rest heard');
        assert.equal(r.b.shedMs, silenceMs);
      });

      it('a timer a few hundred ms late (a loaded machine) is no stall: silence keeps the stream fed, and the late audio dropped matches it', async () => {
        const r = await onAir();
        stream(r, 1);
        await r.clock.advance(4000);
        await r.clock.stall(400);
        assert.equal(silencePackets(r.part()) * 20, 4400);
        const before = uploadPackets(r.part());
        r.b.write(r.upload.audio(350));
        assert.equal(uploadPackets(r.part()) - before, 350 - 4400 / 20);
        assert.ok(!r.lines().some((l) => /the daemon did not run/.test(l.message)));
      });

      it('a stall while the broadcaster is away: silence covers it (no socket holds audio for that time)', async () => {
        const r = await onAir();
        stream(r, 1);
        await r.clock.advance(500);
        r.b.detach(r.sink);
        await r.clock.advance(500);
        await r.clock.stall(3000);
        await r.clock.advance(0);
        assert.equal(silencePackets(r.part()) * 20, 4000, 'silence from the last media to now');
        assert.equal(silencePackets(r.part(), r.part().silencePages), 200, 'the renditions are told it is silence');
      });
    });

    describe('the daemon reads the audio late for seconds (past saturation): shed at the input', () => {
      const LATE_LOG = /reads this broadcast's audio late/;
      const ON_TIME_LOG = /reads this broadcast's audio on time again/;

      /** A client recording in real time since `t0`; `sent`: packets (20 ms) the daemon has read. */
      interface Source { readonly t0: number; sent: number; upload: OggUpload }

      function source(r: Rig, upload = r.upload): Source {
        return { t0: r.clock.now(), sent: 0, upload };
      }

      /**
       * For `seconds`, every `stepMs` the daemon reads what the client recorded up to `lateMs(s)`
       * ago (s: seconds into this call), in one chunk; `stall`: a step where the clock stalls instead.
       */
      async function reads(r: Rig, src: Source, seconds: number, lateMs: (s: number) => number, stepMs = 250): Promise<void> {
        const start = r.clock.now();
        for (let t = stepMs; t <= seconds * 1000; t += stepMs) {
          await r.clock.advance(stepMs);
          catchUp(r, src, lateMs((r.clock.now() - start) / 1000));
        }
      }

      /** Read, now, everything recorded up to `lateMs` ago. */
      function catchUp(r: Rig, src: Source, lateMs = 0): void {
        const due = Math.floor((r.clock.now() - src.t0 - lateMs) / 20);
        if (due > src.sent) r.b.write(src.upload.audio(due - src.sent));
        src.sent = Math.max(src.sent, due);
      }

      /** A broadcast on air, counted, its upload's header sent, and a client recording from now. */
      async function sending(): Promise<{ r: Rig; metrics: Metrics; src: Source }> {
        const metrics = createMetrics();
        const r = await onAir({ metrics });
        r.b.write(r.upload.header());
        return { r, metrics, src: source(r) };
      }

      async function shedSeconds(m: Metrics, why: string): Promise<number> {
        const v = (await m.audioShed.get()).values.find((x) => x.labels.why === why && x.labels.station === 'live');
        return v?.value ?? 0;
      }

      /** Nothing shed, nothing logged as late, every packet read was heard. */
      async function noneShed(r: Rig, m: Metrics, src: Source): Promise<void> {
        assert.equal(r.b.shedMs, 0);
        assert.equal(await shedSeconds(m, 'read-late'), 0);
        assert.ok(!r.lines().some((l) => LATE_LOG.test(l.message)));
        assert.equal(uploadPackets(r.part()), src.sent, 'every packet read was heard');
      }

      it('lateness that grows and persists is shed at once for every rendition, counted, told and logged once; on time again, the audio flows', async () => {
        const metrics = createMetrics();
        const r = await onAir({ metrics, renditions: [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] });
        r.b.write(r.upload.header());
        const src = source(r);
        await reads(r, src, 2, () => 0);
        // the daemon reads at half speed for 8 s (its lateness grows to 4 s), then stays 4 s late for 1 s
        await reads(r, src, 8, (s) => s * 500);
        await reads(r, src, 1, () => 4000);
        const shed = r.b.shedMs;
        assert.ok(shed > 0, 'late audio was shed');
        assert.equal(r.lines().filter((l) => LATE_LOG.test(l.message)).length, 1, 'logged once for the episode');
        // nothing read while late (above the floor by more than 0.5 s) reaches either rendition
        assert.equal(uploadPackets(r.part()), src.sent - shed / 20);
        assert.equal(uploadPackets(r.part('/live.mp3')), src.sent - shed / 20, 'one decision for every rendition');
        assert.ok(Math.abs(await shedSeconds(metrics, 'read-late') - shed / 1000) < 1e-9, 'counted in /metrics');
        // it catches up: the backlog's late part is dropped, the fresh audio is heard again
        catchUp(r, src);
        await reads(r, src, 3, () => 0);
        assert.ok(r.b.shedMs > shed, 'the backlog read late was dropped');
        assert.equal(r.lines().filter((l) => ON_TIME_LOG.test(l.message)).length, 1);
        const heardBefore = uploadPackets(r.part());
        await reads(r, src, 2, () => 0);
        assert.equal(uploadPackets(r.part()) - heardBefore, 100, 'on time again: every packet heard');
        assert.ok(Math.abs(await shedSeconds(metrics, 'read-late') - r.b.shedMs / 1000) < 1e-9);
        assert.ok(r.sink.statuses.some((st) => (st.shedMs ?? 0) > 0), 'the broadcaster is told (shedMs)');
        assert.equal(r.sink.last?.shedMs, Math.round(r.b.shedMs));
      });

      it('the recording keeps what the live streams shed', async () => {
        const packets: Buffer[] = [];
        const recorder = { start: () => undefined, packet: (p: Buffer) => { packets.push(p); return true; }, silence: () => undefined, raw: () => undefined, finish: async () => undefined };
        const r = await onAir({ recorder });
        r.b.write(r.upload.header());
        const src = source(r);
        await reads(r, src, 2, () => 0);
        await reads(r, src, 8, (s) => s * 500);
        catchUp(r, src);
        assert.ok(r.b.shedMs > 0);
        assert.equal(packets.length, src.sent, 'every packet read is recorded');
      });

      it('a one-off stall: its audio is kept (read late once, then on time)', async () => {
        const { r, metrics, src } = await sending();
        await reads(r, src, 2, () => 0);
        await r.clock.stall(4000);
        catchUp(r, src);
        await reads(r, src, 6, () => 0);
        await noneShed(r, metrics, src);
      });

      it('a resumed page sending what it recorded while away, over a slow network (at twice real time): kept', async () => {
        const { r, metrics, src: first } = await sending();
        await reads(r, first, 2, () => 0);
        r.b.detach(r.sink);
        await r.clock.advance(6000);
        r.b.attach(new FakeSink(), OGG);
        const again = new OggUpload();
        r.b.write(again.header());
        // it recorded on while away: 6 s behind, catching up 1 s every second
        const src: Source = { t0: first.t0 + 2000, sent: 0, upload: again };
        await reads(r, src, 8, (s) => Math.max(0, 6000 - s * 1000));
        const silence = silencePackets(r.part());
        assert.ok(!r.lines().some((l) => LATE_LOG.test(l.message)));
        assert.equal(r.b.shedMs, 0);
        assert.equal(uploadPackets(r.part()), first.sent + src.sent, `every packet heard (and ${silence} of silence while away)`);
      });

      it('a stalled upload that flows again, its backlog at twice real time: the gap filler drops what its silence stood in for, nothing is read late', async () => {
        const { r, metrics, src } = await sending();
        await reads(r, src, 2, () => 0);
        await r.clock.advance(6000); // nothing comes through for 6 s: silence fills from 2.5 s on
        await reads(r, src, 8, (s) => Math.max(0, 6000 - s * 1000));
        const silenceMs = silencePackets(r.part()) * 20;
        assert.ok(silenceMs >= 6000, `silence ${silenceMs} ms`);
        assert.ok(!r.lines().some((l) => LATE_LOG.test(l.message)));
        assert.equal(await shedSeconds(metrics, 'read-late'), 0);
        assert.ok(Math.abs(await shedSeconds(metrics, 'stalled-upload') - silenceMs / 1000) < 1e-9, 'the backlog the silence stood in for');
        assert.equal(uploadPackets(r.part()), src.sent - silenceMs / 20);
      });

      it('a steady network latency (2.5 s, jittering by 1 s): kept', async () => {
        const { r, metrics, src } = await sending();
        await reads(r, src, 20, (s) => 2500 + (Math.floor(s * 4) % 5 === 0 ? 1000 : 0));
        await noneShed(r, metrics, src);
      });

      it('a client that sends a cluster a second (Firefox), now and then 1.4 s apart: kept', async () => {
        const { r, metrics, src } = await sending();
        for (let i = 0; i < 20; i++) {
          const gap = i % 4 === 3 ? 1400 : i % 4 === 0 && i > 0 ? 600 : 1000;
          await r.clock.advance(gap);
          catchUp(r, src, 200);
        }
        await noneShed(r, metrics, src);
      });

      it('a bursty upload (2 s of audio every 2 s, from a desktop source client): kept', async () => {
        const { r, metrics, src } = await sending();
        await reads(r, src, 20, () => 0, 2000);
        await noneShed(r, metrics, src);
      });
    });

    it('a rendition that stops reading: the socket pauses, drain resumes it; paused too long -> ended(ingest-too-slow)', async () => {
      const r = await onAir();
      r.b.write(r.upload.header());
      let drains = 0;
      r.b.on('drain', () => drains++);
      r.part().needsDrain = true;
      assert.equal(r.b.write(r.upload.audio(5)), false, 'pause the socket');
      r.part().needsDrain = false;
      r.part().emit('drain');
      assert.equal(drains, 1);
      r.part().needsDrain = true;
      r.b.write(r.upload.audio(5));
      await r.clock.advance(STALL_MS + 1000);
      await ended(r, 'ingest-too-slow', 'IW_ERR_INGEST_TOO_SLOW');
    });

    it('audio far ahead of the clock (a file at full speed) ends it with ingest-too-fast; what went out stays within the bound', async () => {
      const r = await onAir();
      r.b.write(r.upload.header());
      r.b.write(r.upload.audio(50 * (MEDIA_LEAD_MS / 1000 + 5)));
      await ended(r, 'ingest-too-fast', 'IW_ERR_INGEST_TOO_FAST');
      // the two header packets, then exactly the lead's worth of 20 ms packets
      assert.equal(countPackets(r.part()) - 2, (MEDIA_LEAD_MS / 1000) * 50);
    });

    it('what a resumed page sends at once (the time it was away) and a stalled upload catching up stay within the bound', async () => {
      const r = await onAir();
      stream(r, 2);
      r.b.detach(r.sink);
      await r.clock.advance(GRACE_MS - 1000);
      r.b.attach(new FakeSink(), OGG);
      // everything it recorded while away, then 20 s of real time, then a 10 s stall and its catch-up
      const again = new OggUpload();
      r.b.write(again.header());
      r.b.write(again.audio(50 * 9));
      for (let i = 0; i < 20; i++) { await r.clock.advance(1000); r.b.write(again.audio(50)); }
      await r.clock.advance(10000);
      r.b.write(again.audio(50 * 10));
      assert.equal(r.b.isEnding, false);
      await r.b.end('stopped');
      const line = r.lines().find((l) => l.message === 'broadcast ended');
      assert.ok(Number(line?.maxMediaLeadMs) < MEDIA_LEAD_MS / 2, `lead ${line?.maxMediaLeadMs} ms`);
    });

    it('bytes that are not Ogg/Opus end it with invalid-media', async () => {
      const r = await onAir();
      r.b.write(Buffer.from('this is not an Ogg stream at all'));
      await ended(r, 'invalid-media', 'IW_ERR_INGEST_INVALID_MEDIA');
    });
  });

  describe('after the end', () => {
    it('nothing moves it again: write, attach, detach, metadata and a second end are no-ops', async () => {
      const r = await onAir();
      await r.b.end('kicked', new IcewireError('IW_ERR_KICKED'));
      const frames = r.sink.statuses.length;
      assert.equal(r.b.write(r.upload.header()), true);
      r.b.attach(new FakeSink(), OGG);
      r.b.detach(r.sink);
      r.b.fail(new IcewireError('IW_ERR_INTERNAL'));
      await r.b.end('stopped');
      assert.equal(r.b.lifecycle.reason, 'kicked');
      assert.equal(r.b.lifecycle.state, 'ended');
      assert.ok(r.sink.statuses.length <= frames + 1);
      assert.equal(r.b.canResume(r.b.resumeToken, 'alice', 'hackme', OGG), false);
      assert.equal(r.clock.pending, 0);
    });
  });

  describe('now playing', () => {
    it('a flood of titles costs Icecast one request at a time per mount, and the last title wins', async () => {
      let answered = 0;
      const r = await onAir({ renditions: [{ mount: '/live.mp3', format: 'mp3', bitrate: undefined }], titleOk: () => { answered++; return true; } });
      for (let i = 1; i <= 20; i++) r.b.setMetadata({ title: `Song ${i}` });
      await r.clock.advance(0);
      assert.ok(r.titles.length <= 3, `${r.titles.length} requests for 20 titles`);
      assert.equal(r.titles.at(-1)?.title, 'Song 20');
      assert.equal(r.sink.last?.title, 'Song 20');
      assert.equal(answered, r.titles.length);
    });

    it('a title Icecast does not take yet is retried with backoff, at most 5 times', async () => {
      const r = await onAir({ renditions: [{ mount: '/live.mp3', format: 'mp3', bitrate: undefined }], titleOk: () => false });
      r.b.setMetadata({ title: 'Later' });
      await r.clock.advance(0);
      assert.equal(r.titles.length, 1);
      await r.clock.advance(500);
      assert.equal(r.titles.length, 2);
      await r.clock.advance(10000);
      assert.equal(r.titles.length, 5);
      assert.ok(r.lines().some((l) => l.message === 'Icecast did not take the title'));
    });

    it('Ogg/Opus mounts get the title in the stream itself (a new chain), not by URL', async () => {
      const r = await onAir();
      stream(r, 1);
      r.b.setMetadata({ title: 'Chained' });
      await r.clock.advance(0);
      assert.deepEqual(r.titles, []);
      const all = Buffer.concat(r.part().written);
      assert.ok(all.includes(Buffer.from('TITLE=Chained')), 'OpusTags of the new chain carry it');
    });
  });
});

/** Packets in the Ogg pages written to a fake rendition. */
function countPackets(p: FakeRendition): number {
  return packetsEnding(oggPages(Buffer.concat(p.written)));
}

/** Packets of the test upload heard (5 bytes each), and silence packets written into gaps (20 ms each, padded to a normal Opus size). */
function uploadPackets(p: FakeRendition): number {
  return oggPages(Buffer.concat(p.written)).reduce((n, page) => n + page.lacing.filter((v) => v === 5).length, 0);
}
function silencePackets(p: FakeRendition, written = p.written): number {
  return oggPages(Buffer.concat(written)).reduce((n, page) => n + page.lacing.filter((v) => v >= 100 && v < 255).length, 0);
}
