// Faults against a real icecast2, each with a listener connected throughout, asserting on what it
// received: the broadcaster's connection drops and resumes, Icecast restarts, ffmpeg dies,
// Icecast stops reading.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ffmpegWithout } from '../helpers/ffmpeg-without.js';
import { fixture, probe } from '../helpers/media.js';
import { listen, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { FfmpegPipe } from '../../server/broadcast/rendition-pipe.js';
import { freePort } from '../../server/icecast/managed-icecast.js';

describe('faults (real icecast2)', function () {
  this.timeout(90000);
  let stack: Stack | undefined;

  async function goLive(s: Stack, mime = 'audio/webm;codecs=opus'): Promise<WebcastClient> {
    const c = new WebcastClient(`${s.wsBase}live`);
    await c.opened;
    c.hello({ mime, user: s.broadcaster.name, password: s.broadcaster.password });
    return c;
  }

  it('broadcaster drops and resumes after 3 s: the listener stays connected and hears one continuous stream', async () => {
    stack = await startStack({ limits: { reconnectGraceMs: 8000 } });
    const first = await goLive(stack);
    const a = first.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 16 }); // 4 s
    await first.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg');
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    await a;
    const token = first.statuses.at(-1)!.resume;
    const since = first.statuses.at(-1)!.since;
    assert.ok(token, 'status frames carry a resume token');
    first.ws.terminate(); // the network goes away: no close frame
    await first.closed;
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(rec.ended(), false, 'the listener is still connected while the broadcaster is away');
    const second = new WebcastClient(`${stack.wsBase}live`);
    await second.opened;
    second.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password, resume: token });
    const b = second.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 16 });
    await second.live();
    assert.equal(second.statuses.at(-1)!.since, since, 'the same broadcast continues');
    await b;
    assert.equal(rec.ended(), false, 'the listener never lost its connection');
    second.close(1000);
    await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 3000);
    const got = await rec.done;
    const pages = oggPages(got);
    assert.equal(pages.filter((p) => p.bos).length, 1, 'one BOS page: no new chain');
    assert.equal(new Set(pages.map((p) => p.serial)).size, 1, 'one serial number');
    const granules = pages.filter((p) => p.granule > 0n).map((p) => p.granule);
    for (let i = 1; i < granules.length; i++) assert.ok(granules[i]! > granules[i - 1]!, `granule ${granules[i]} follows ${granules[i - 1]}`);
    assert.ok(pages.at(-1)!.eos, 'the stream ends with an end-of-stream page');
    const p = await probe(got);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    // 4 s + ~3 s of silence + 4 s (the listener joined a little after the start)
    assert.ok(p.audioSeconds >= 9, `${p.audioSeconds.toFixed(2)} s of audio`);
  });

  it('a broadcaster whose upload stalls 4 s, then catches up: silence fills the gap and listeners stay at live delay', async () => {
    stack = await startStack();
    const file = readFileSync(await fixture('audio-webm', 10));
    const c = await goLive(stack);
    await c.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg');
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    // 10 s of media sent as: 3 s in real time, nothing for 4 s, then the rest at once and done
    const third = Math.floor(file.length * 0.3);
    for (let at = 0; at < third; at += 3000) {
      c.ws.send(file.subarray(at, Math.min(third, at + 3000)));
      await new Promise((r) => setTimeout(r, 3000 / (file.length / 10000)));
    }
    await new Promise((r) => setTimeout(r, 4000));
    c.ws.send(file.subarray(third));
    await new Promise((r) => setTimeout(r, 1000));
    c.close();
    await c.closed;
    const got = await rec.done;
    const granules = oggPages(got).map((p) => p.granule).filter((g) => g > 0n);
    const seconds = Number(granules.at(-1)!) / 48000;
    // without dropping the late audio the stream would run 10 s + ~4 s of silence
    assert.ok(seconds > 9 && seconds < 12, `the stream is ${seconds.toFixed(1)} s long: the silence stood in for the late audio`);
    await waitFor('the log line', () => stack!.logLines.some((l) => /filling with silence/.test(l)), 1000);
  });

  it('broadcaster who does not come back: the broadcast ends with connection-lost after the grace period', async () => {
    stack = await startStack({ limits: { reconnectGraceMs: 1500 } });
    const c = await goLive(stack);
    await c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 4 });
    await c.live();
    c.ws.terminate();
    const t0 = Date.now();
    await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 6000);
    assert.ok(Date.now() - t0 >= 1400, 'kept for the grace period');
    await waitFor('the end in the log', () => stack!.logLines.some((l) => /"reason":"connection-lost"/.test(l)), 3000);
  });

  it('Icecast killed and restarted mid-broadcast: live again within 3 s, the broadcaster never disconnected', async () => {
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }] });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    await c.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3');
    await new Promise((r) => setTimeout(r, 1000));
    await stack.icecast!.kill();
    await waitFor('reconnecting status', () => c.statuses.some((s) => s.state === 'reconnecting'), 5000);
    await new Promise((r) => setTimeout(r, 1500));
    await stack.icecast!.restart();
    const back = Date.now();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 5000);
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3', 5000);
    const ms = Date.now() - back;
    assert.ok(ms <= 3000, `mounts back ${ms} ms after Icecast`);
    await waitFor('live status again', () => c.statuses.at(-1)!.state === 'live', 5000);
    // a new listener gets a valid stream, headers first
    const rec = listen(`${stack.icecastUrl}/live.ogg`, { maxMs: 2500 });
    const got = await rec.done;
    assert.ok(oggPages(got)[0]?.bos, 'a listener joining after the reconnect gets the Ogg headers first');
    assert.deepEqual((await probe(got)).streams.map((s) => s.codec), ['opus']);
    await streaming;
    assert.equal(c.ws.readyState, c.ws.OPEN, 'the broadcaster was never disconnected');
    assert.equal(c.errors.length, 0);
    c.close();
    await c.closed;
  });

  it('Icecast gone for good: the broadcast ends with icecast-lost after reconnectGiveUpMs', async () => {
    stack = await startStack({ icecastConfig: { reconnectGiveUpMs: 2000 } });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 30 });
    await c.live();
    await stack.icecast!.kill();
    const t0 = Date.now();
    const closed = await c.closed;
    assert.equal(closed.code, 4502);
    assert.equal(c.errors[0]?.code, 'IW_ERR_ICECAST_LOST');
    assert.equal(c.statuses.at(-1)?.reason, 'icecast-lost');
    assert.ok(Date.now() - t0 >= 1500 && Date.now() - t0 < 6000, `ended ${Date.now() - t0} ms after Icecast died`);
    await streaming;
  });

  it('ffmpeg killed mid-broadcast: it is restarted and the MP3 listener keeps receiving', async () => {
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }] });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    await c.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3');
    const rec = listen(`${stack.icecastUrl}/live.mp3`);
    await new Promise((r) => setTimeout(r, 2000));
    const b = stack.daemon.registry.get('live')!;
    const pipe = b.renditions.find((p) => p.plan.mount === '/live.mp3') as FfmpegPipe;
    const pid = pipe.pids[0]!;
    process.kill(pid, 'SIGKILL');
    await waitFor('a new ffmpeg', () => pipe.pids[0] !== undefined && pipe.pids[0] !== pid, 5000);
    assert.equal(pipe.restartCount, 1);
    const before = rec.bytes();
    await waitFor('more MP3 after the restart', () => rec.bytes() > before + 16000, 5000);
    await streaming;
    assert.equal(rec.ended(), false, 'the MP3 listener stayed connected');
    c.close();
    await c.closed;
    const got = await rec.done;
    const p = await probe(got, 'mp3');
    assert.deepEqual(p.streams.map((s) => s.codec), ['mp3']);
    assert.ok(p.audioSeconds >= 6, `${p.audioSeconds.toFixed(2)} s of MP3`);
  });

  it('ffmpeg that keeps dying: the broadcast ends cleanly with ffmpeg-failed', async () => {
    stack = await startStack({ renditions: [{ mount: '/live.mp3', format: 'mp3' }] });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    await c.live();
    const b = stack.daemon.registry.get('live')!;
    const pipe = b.renditions[0] as FfmpegPipe;
    for (let i = 0; i < 4 && c.ws.readyState === c.ws.OPEN; i++) {
      const pid = await waitFor('an ffmpeg', () => pipe.pids[0], 5000);
      process.kill(pid, 'SIGKILL');
      await waitFor('the restart or the end', () => pipe.pids[0] !== pid || c.errors.length > 0, 5000);
    }
    const closed = await c.closed;
    assert.equal(closed.code, 1011);
    assert.equal(c.errors[0]?.code, 'IW_ERR_PIPELINE_FAILED');
    assert.equal(c.statuses.at(-1)?.reason, 'ffmpeg-failed');
    await streaming;
    await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3', 3000);
  });

  it('an ffmpeg without the MP3 encoder: the broadcast ends at once with IW_ERR_PIPELINE_START_FAILED, no restarts', async () => {
    stack = await startStack({
      renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }],
      config: { ffmpegPath: ffmpegWithout('libmp3lame') },
    });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    const t0 = Date.now();
    const closed = await c.closed;
    const ms = Date.now() - t0;
    assert.equal(closed.code, 1011);
    assert.equal(c.errors[0]?.code, 'IW_ERR_PIPELINE_START_FAILED');
    assert.equal(c.statuses.at(-1)?.reason, 'ffmpeg-failed');
    assert.ok(ms < 4000, `ended ${ms} ms after the first media (the real ffmpeg refuses at once)`);
    await streaming;
    const lines = stack.logLines;
    assert.deepEqual(lines.filter((l) => /restarting/.test(l)), [], 'no restart was tried');
    assert.equal(lines.filter((l) => /"message":"ffmpeg exited before writing any output"/.test(l)).length, 1, 'reported once');
    assert.ok(lines.some((l) => /"message":"ffmpeg stderr"/.test(l) && /Unknown encoder 'libmp3lame-not-in-this-build'/.test(l)), 'it is the real ffmpeg\'s failure');
    const failed = lines.filter((l) => /"message":"broadcast failed"/.test(l));
    assert.equal(failed.length, 1);
    assert.match(failed[0]!, /"code":"IW_ERR_PIPELINE_START_FAILED"/);
    assert.match(failed[0]!, /"level":"error"/);
    await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 3000);
  });

  it('WebM (video) ffmpeg killed: restarted from the saved header and the next Cluster', async () => {
    stack = await startStack({ renditions: [{ mount: '/live.webm', format: 'webm' }] });
    const c = await goLive(stack, 'video/webm;codecs=vp8,opus');
    const streaming = c.stream(await fixture('video-webm', 10), { seconds: 10 });
    await c.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.webm');
    await new Promise((r) => setTimeout(r, 1500));
    const pipe = stack.daemon.registry.get('live')!.renditions[0] as FfmpegPipe;
    const pid = pipe.pids[0]!;
    process.kill(pid, 'SIGKILL');
    await waitFor('a new ffmpeg', () => pipe.pids[0] !== undefined && pipe.pids[0] !== pid, 5000);
    await waitFor('live again', () => c.statuses.at(-1)!.state === 'live' && c.statuses.some((s) => s.state === 'reconnecting'), 5000);
    const rec = listen(`${stack.icecastUrl}/live.webm`, { maxMs: 3000 });
    const got = await rec.done;
    const p = await probe(got, 'webm');
    assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
    assert.ok(p.videoPackets > 20, `${p.videoPackets} video packets after the restart`);
    await streaming;
    c.close();
    await c.closed;
  });
});

describe('a stalled Icecast (a fake one that accepts and never reads)', function () {
  this.timeout(60000);
  let fake: Server;
  const sockets: Socket[] = [];
  let stack: Stack;
  before(async () => {
    const port = await freePort();
    fake = createServer((s) => {
      sockets.push(s);
      s.once('data', () => {
        s.write('HTTP/1.0 200 OK\r\n\r\n');
        s.pause(); // never read again: the kernel buffers fill, then the daemon's bounds must hold
      });
    });
    await new Promise<void>((r) => fake.listen(port, '127.0.0.1', () => r()));
    stack = await startStack({
      icecastUrl: `http://127.0.0.1:${port}`,
      limits: { stallTimeoutMs: 2000, maxQueueBytes: 1048576 },
      // the WebM rendition passes all 3 Mbit/s on (an audio-only mount would take only the Opus)
      renditions: [{ mount: '/live.webm', format: 'webm' }, { mount: '/live.ogg', format: 'ogg-opus' }],
    });
  });
  after(async () => {
    await stack.stop();
    for (const s of sockets) s.destroy();
    fake.close();
  });

  it('a client sending 10x faster than real time ends with ingest-too-slow; daemon memory stays bounded', async () => {
    const rss0 = process.memoryUsage().rss;
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime: 'video/webm;codecs=vp8,opus', user: stack.broadcaster.name, password: stack.broadcaster.password });
    let maxQueued = 0;
    const b = await waitFor('the broadcast', () => stack.daemon.registry.get('live'), 5000);
    const sampler = setInterval(() => {
      const q = b.renditions.reduce((n, p) => n + p.output.bufferedBytes, 0);
      maxQueued = Math.max(maxQueued, q);
    }, 20);
    // 30 s of 3 Mbit/s video at 10x: far more than the kernel's socket buffers hold
    await c.stream(await fixture('video-webm-3mbps', 30), { seconds: 30, speed: 10 });
    const closed = await c.closed;
    clearInterval(sampler);
    assert.equal(closed.code, 4408);
    assert.equal(c.errors[0]?.code, 'IW_ERR_INGEST_TOO_SLOW');
    assert.ok(maxQueued <= 1048576 + 1048576, `at most ${maxQueued} bytes queued towards Icecast`);
    const grew = (process.memoryUsage().rss - rss0) / 1048576;
    assert.ok(grew < 150, `test process RSS grew ${grew.toFixed(0)} MB`);
  });
});
